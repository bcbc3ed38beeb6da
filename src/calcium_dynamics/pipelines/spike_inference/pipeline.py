"""spike_inference: train ENS² and the CASCADE zoo, infer rates and events (wiring only)."""

from kedro.pipeline import Pipeline, node, pipeline

from calcium_dynamics.pipelines.data_engineering.pipeline import create_ground_truth_pipeline
from calcium_dynamics.pipelines.spike_inference import nodes


def create_pipeline(**kwargs) -> Pipeline:
    # The ground-truth nodes are included so a fresh clone runs this pipeline on its own.
    return create_ground_truth_pipeline() + create_model_pipeline()


def create_model_pipeline(**kwargs) -> Pipeline:
    ens2 = pipeline(
        [
            node(
                nodes.select_training_neurons,
                inputs=["ens2_training_table", "params:spike_inference.split"],
                outputs=["ens2_train_recordings", "ens2_heldout_recordings"],
                name="select_ens2_training_neurons",
            ),
            node(
                nodes.train_ens2_model,
                inputs=["ens2_train_recordings", "params:spike_inference.ens2"],
                outputs="ens2_model",
                name="train_ens2",
            ),
            node(
                nodes.infer_spikes,
                inputs=["ens2_model", "traces_to_infer", "params:spike_inference.inference"],
                outputs="ens2_spikes",
                name="infer_spikes_ens2",
            ),
            node(
                nodes.heldout_traces,
                inputs=["ens2_heldout_recordings", "ground_truth_recordings"],
                outputs="ens2_heldout_traces",
                name="heldout_traces_ens2",
            ),
            node(
                nodes.infer_spikes,
                inputs=["ens2_model", "ens2_heldout_traces", "params:spike_inference.inference"],
                outputs="ens2_heldout_spikes",
                name="infer_heldout_spikes_ens2",
            ),
        ],
        tags=["spike_inference", "ens2"],
    )
    cascade = pipeline(
        [
            node(
                nodes.select_training_neurons,
                inputs=["cascade_training_table", "params:spike_inference.split"],
                outputs=["cascade_train_recordings", "cascade_heldout_recordings"],
                name="select_cascade_training_neurons",
            ),
            node(
                nodes.train_cascade_model_zoo,
                inputs=["cascade_train_recordings", "params:spike_inference.cascade"],
                outputs="cascade_model_zoo",
                name="train_cascade_zoo",
            ),
            node(
                nodes.infer_spikes,
                inputs=["cascade_model_zoo", "traces_to_infer", "params:spike_inference.inference"],
                outputs="cascade_spikes",
                name="infer_spikes_cascade",
            ),
            node(
                nodes.heldout_traces,
                inputs=["cascade_heldout_recordings", "ground_truth_recordings"],
                outputs="cascade_heldout_traces",
                name="heldout_traces_cascade",
            ),
            node(
                nodes.infer_spikes,
                inputs=[
                    "cascade_model_zoo",
                    "cascade_heldout_traces",
                    "params:spike_inference.inference",
                ],
                outputs="cascade_heldout_spikes",
                name="infer_heldout_spikes_cascade",
            ),
        ],
        tags=["spike_inference", "cascade"],
    )
    return ens2 + cascade
