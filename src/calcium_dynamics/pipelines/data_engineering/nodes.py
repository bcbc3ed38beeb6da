"""Kedro nodes of the data_engineering pipeline (thin wrappers; the catalog does all I/O)."""

from __future__ import annotations

import logging

import pandas as pd

from calcium_dynamics.io.ground_truth import validate_recordings
from calcium_dynamics.io.ground_truth_overview import plot_ground_truth_overview
from calcium_dynamics.models.spikes.training_tables import (
    dataset_summary,
    neuron_summary,
    training_table,
)

logger = logging.getLogger(__name__)

__all__ = [
    "build_training_table",
    "plot_ground_truth_overview",
    "summarize_datasets",
    "summarize_neurons",
    "validate_recordings",
]


def summarize_neurons(recordings: pd.DataFrame) -> pd.DataFrame:
    """Per-neuron frame rate, duration, spike count, firing rate, noise level ν, NaN fraction."""
    return neuron_summary(recordings)


def summarize_datasets(summary: pd.DataFrame, recordings: pd.DataFrame) -> pd.DataFrame:
    """Per-dataset frame rate, ν and firing rate (compare with the CASCADE paper's Table 1)."""
    return dataset_summary(summary, recordings)


def build_training_table(recordings: pd.DataFrame, params: dict) -> pd.DataFrame:
    """Training-ready table for a spike model (``models.spikes.training_tables``)."""
    return training_table(recordings, **params)
