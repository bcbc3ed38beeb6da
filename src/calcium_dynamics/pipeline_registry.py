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
from calcium_dynamics.pipelines.decomposition import pipeline as decomposition_pipeline
from calcium_dynamics.pipelines.latent_dynamics.classical import pipeline as classical
from calcium_dynamics.pipelines.latent_dynamics.lfads import pipeline as lfads

PIPELINE_NAMES = (
    "data_engineering",
    "spike_inference",
    "latent_dynamics",
    "decomposition",
    "evaluation",
)


def register_pipelines() -> dict[str, Pipeline]:
    """Map each pipeline name to its pipeline; ``__default__`` runs the five main ones.

    Pipelines are composed here only (no pipeline package imports another):
    ``data_engineering`` is the ground truth plus every capability's simulations, and
    ``spike_inference`` and ``latent_dynamics_search`` carry the data nodes they read, so each
    runs on a fresh clone on its own.
    """
    ground_truth = data_engineering.create_pipeline()
    pipelines = {
        "data_engineering": ground_truth
        + lfads.create_simulation_pipeline()
        + classical.create_simulation_pipeline()
        + decomposition_pipeline.create_simulation_pipeline(),
        "spike_inference": ground_truth + spike_inference.create_pipeline(),
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
    pipelines["latent_dynamics_search"] = (
        lfads.create_simulation_pipeline() + latent_dynamics_search.create_pipeline()
    )
    return pipelines
