"""Evaluation of spike inference on held-out neurons (wiring only)."""

from kedro.pipeline import Pipeline, node, pipeline

from calcium_dynamics.pipelines.evaluation.spikes import nodes


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(
                nodes.neuron_metrics,
                inputs=["ens2_heldout_traces", "ens2_heldout_spikes", "cascade_heldout_spikes"],
                outputs="spike_metrics_per_neuron",
                name="spike_metrics_per_neuron",
            ),
            node(
                nodes.summarize_metrics,
                inputs="spike_metrics_per_neuron",
                outputs="spike_metrics_summary",
                name="summarize_spike_metrics",
            ),
            node(
                nodes.plot_example_predictions,
                inputs=["ens2_heldout_traces", "ens2_heldout_spikes", "cascade_heldout_spikes"],
                outputs="spike_example_predictions",
                name="plot_spike_predictions",
            ),
            node(
                nodes.plot_metric_distributions,
                inputs="spike_metrics_per_neuron",
                outputs="spike_metric_distributions",
                name="plot_spike_metric_distributions",
            ),
        ],
        tags=["evaluation", "spike_inference"],
    )
