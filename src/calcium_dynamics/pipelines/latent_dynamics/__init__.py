"""The latent_dynamics pipeline."""

from calcium_dynamics.pipelines.latent_dynamics.pipeline import create_pipeline

__all__ = ["create_pipeline"]
