"""spike_inference: train ENS² and the CASCADE zoo, infer rates and events (wiring only).

``create_registered_inference_pipeline`` infers ``traces_to_infer`` with a model from the
model registry instead (catalog entry ``ens2_registered_model``: the production ENS² model).
"""

from kedro.pipeline import Pipeline, node, pipeline

from calcium_dynamics.pipelines.spike_inference import nodes


def create_pipeline(**kwargs) -> Pipeline:
    """Training, held-out inference and the shipped models' inference (``pipeline_registry``
    adds the ground-truth nodes, so a fresh clone runs it on its own)."""
    return create_model_pipeline()


def create_model_pipeline(**kwargs) -> Pipeline:
    ens2 = _model_pipeline("ens2", nodes.train_ens2_model, "ens2_model")
    cascade = _model_pipeline(
        "cascade", nodes.train_cascade_model_zoo, "cascade_model_zoo", "train_cascade_zoo"
    )
    return ens2 + cascade + create_shipped_inference_pipeline()


def create_shipped_inference_pipeline(**kwargs) -> Pipeline:
    """``traces_to_infer`` through the shipped models (``spike_model: auto``): the day-one path,
    no training. (The models trained above stay for the held-out evaluation: the shipped ones
    have seen every neuron of the embedded subset.)"""
    return pipeline(
        [
            node(
                nodes.infer_spikes,
                inputs=[
                    "shipped_spike_model",
                    "traces_to_infer",
                    "params:spike_inference.inference",
                ],
                outputs="shipped_spikes",
                name="infer_spikes_shipped",
            )
        ],
        tags=["spike_inference", "shipped"],
    )


def create_registered_inference_pipeline(**kwargs) -> Pipeline:
    """Rates and events of ``traces_to_infer`` from a registered model (no training).

    The model comes from the catalog entry ``ens2_registered_model`` (a
    ``RegisteredModelDataset``: ENS² at stage ``production`` unless the runtime parameters
    ``registered_model`` / ``registered_stage`` say otherwise).
    """
    return pipeline(
        [
            node(
                nodes.infer_spikes,
                inputs=[
                    "ens2_registered_model",
                    "traces_to_infer",
                    "params:spike_inference.inference",
                ],
                outputs="ens2_registered_spikes",
                name="infer_spikes_registered_ens2",
            )
        ],
        tags=["spike_inference", "ens2", "registered_model"],
    )


def _model_pipeline(model: str, train, model_dataset: str, train_name: str | None = None):
    """Split neurons, train, infer ``traces_to_infer`` and the held-out neurons' traces."""
    inference = "params:spike_inference.inference"
    return pipeline(
        [
            node(
                nodes.select_training_neurons,
                inputs=[f"{model}_training_table", "params:spike_inference.split"],
                outputs=[f"{model}_train_recordings", f"{model}_heldout_recordings"],
                name=f"select_{model}_training_neurons",
            ),
            node(
                train,
                inputs=[f"{model}_train_recordings", f"params:spike_inference.{model}"],
                outputs=model_dataset,
                name=train_name or f"train_{model}",
            ),
            node(
                nodes.infer_spikes,
                inputs=[model_dataset, "traces_to_infer", inference],
                outputs=f"{model}_spikes",
                name=f"infer_spikes_{model}",
            ),
            node(
                nodes.heldout_traces,
                inputs=[f"{model}_heldout_recordings", "ground_truth_recordings"],
                outputs=f"{model}_heldout_traces",
                name=f"heldout_traces_{model}",
            ),
            node(
                nodes.infer_spikes,
                inputs=[model_dataset, f"{model}_heldout_traces", inference],
                outputs=f"{model}_heldout_spikes",
                name=f"infer_heldout_spikes_{model}",
            ),
        ],
        tags=["spike_inference", model],
    )
