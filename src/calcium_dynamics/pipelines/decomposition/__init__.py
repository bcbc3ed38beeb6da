"""The decomposition pipeline."""

from calcium_dynamics.pipelines.decomposition.pipeline import create_pipeline

__all__ = ["create_pipeline"]
