"""The spike_inference pipeline."""

from calcium_dynamics.pipelines.spike_inference.pipeline import (
    create_pipeline,
    create_registered_inference_pipeline,
)

__all__ = ["create_pipeline", "create_registered_inference_pipeline"]
