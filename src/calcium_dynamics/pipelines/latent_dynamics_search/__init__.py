"""latent_dynamics_search: population-based training of an LFADS variant on Ray Tune."""

from calcium_dynamics.pipelines.latent_dynamics_search.pipeline import create_pipeline

__all__ = ["create_pipeline"]
