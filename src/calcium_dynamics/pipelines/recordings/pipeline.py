"""recordings: raw traces → ΔF/F + QC → ENS² spike rates and events (wiring only)."""

from kedro.pipeline import Pipeline, node, pipeline

from calcium_dynamics.pipelines.recordings import nodes
from calcium_dynamics.pipelines.spike_inference.nodes import infer_spikes


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(
                nodes.compute_recording_dff,
                inputs=["recording_fluorescence", "params:recordings.dff"],
                outputs=["recording_dff", "recording_qc"],
                name="recording_compute_dff",
            ),
            node(
                nodes.plot_recording_qc,
                inputs=["recording_qc", "recording_dff", "params:recordings.qc_figure"],
                outputs="recording_qc_figure",
                name="recording_plot_qc",
            ),
            node(
                infer_spikes,
                inputs=["recording_spike_model", "recording_dff", "params:recordings.inference"],
                outputs="recording_spikes",
                name="recording_infer_spikes",
            ),
        ],
        tags=["recordings"],
    )
