"""Kedro pipelines: each folder holds ``nodes.py`` (thin functions) and ``pipeline.py`` (wiring)."""
