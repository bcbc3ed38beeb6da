"""Ingest, validate and summarise the ground-truth database; build training tables."""

from calcium_dynamics.pipelines.data_engineering.pipeline import create_pipeline

__all__ = ["create_pipeline"]
