"""The evaluation pipeline."""

from calcium_dynamics.pipelines.evaluation.pipeline import create_pipeline

__all__ = ["create_pipeline"]
