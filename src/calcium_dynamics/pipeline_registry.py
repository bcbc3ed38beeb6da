"""Project pipelines, registered by name."""

from __future__ import annotations

from kedro.pipeline import Pipeline

from calcium_dynamics.pipelines import (
    data_engineering,
    decomposition,
    evaluation,
    latent_dynamics,
    latent_dynamics_search,
    recordings,
    spike_inference,
)

PIPELINE_NAMES = (
    "data_engineering",
    "spike_inference",
    "latent_dynamics",
    "decomposition",
    "evaluation",
)


def register_pipelines() -> dict[str, Pipeline]:
    """Map each pipeline name to its pipeline; ``__default__`` runs the five main ones."""
    pipelines = {
        "data_engineering": data_engineering.create_pipeline(),
        "spike_inference": spike_inference.create_pipeline(),
        "latent_dynamics": latent_dynamics.create_pipeline(),
        "decomposition": decomposition.create_pipeline(),
        "evaluation": evaluation.create_pipeline(),
    }
    pipelines["__default__"] = sum(pipelines.values(), Pipeline([]))
    # A lab's own recordings through the shipped spike models (not in __default__).
    pipelines["recordings"] = recordings.create_pipeline()
    # Inference with a registered model (the shipped production ENS² by default).
    pipelines["spike_inference_registered"] = spike_inference.create_registered_inference_pipeline()
    # Population-based training of an LFADS variant on Ray Tune (not in __default__).
    pipelines["latent_dynamics_search"] = latent_dynamics_search.create_pipeline()
    return pipelines
