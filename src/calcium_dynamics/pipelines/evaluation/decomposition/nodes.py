"""Kedro nodes that score and plot decompositions (thin wrappers; the catalog does all I/O)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from calcium_dynamics.classical.decomposition_figures import (
    method_arrays,
    plot_model_selection,
    plot_time_courses,
    plot_weight_maps,
    true_networks,
)
from calcium_dynamics.metrics.assignment import score_decomposition

__all__ = ["plot_model_selection", "plot_time_courses", "plot_weight_maps"]  # figure nodes

SCORE_COLUMNS = [
    "network",
    "method",
    "n_components",
    "assignment_accuracy",
    "assignment_success",
    "weight_correlation",
    "activity_correlation",
]


def score_network(
    components: pd.DataFrame, traces: pd.DataFrame, sources: pd.DataFrame, network: str
) -> pd.DataFrame:
    """Assignment accuracy, weight–connection and activity correlations of every method."""
    true_weights, activity, membership = true_networks(traces, sources)
    rows = []
    for method in components["method"].drop_duplicates():
        weights, time_courses = method_arrays(components, method)
        if weights.shape[1] != true_weights.shape[1]:
            raise ValueError(
                f"{network}: {method} has weights for {weights.shape[1]} neurons, the network "
                f"{true_weights.shape[1]}"
            )
        scores = score_decomposition(weights, time_courses, true_weights, activity, membership)
        rows.append(
            {
                "network": network,
                "method": method,
                "n_components": weights.shape[0],
                **{k: v for k, v in scores.items() if not k.startswith("matched_")},
            }
        )
    return pd.DataFrame(rows, columns=SCORE_COLUMNS)


def _clean(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return _clean(value.item())
    return value


def collect_metrics(
    nodal_scores: pd.DataFrame,
    process_scores: pd.DataFrame,
    nodal_curves: pd.DataFrame,
    process_curves: pd.DataFrame,
    population_curves: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """One scores table, one curves table and a JSON summary of both."""
    scores = pd.concat([nodal_scores, process_scores], ignore_index=True)
    curves = pd.concat(
        [
            c.assign(dataset=name)
            for name, c in (
                ("nodal", nodal_curves),
                ("process", process_curves),
                ("population", population_curves),
            )
        ],
        ignore_index=True,
    )
    curves = curves[["dataset", *[c for c in curves.columns if c != "dataset"]]]
    metrics: dict = {"networks": {}, "selected_k": {}}
    for row in scores.itertuples(index=False):
        entry = {k: _clean(getattr(row, k)) for k in SCORE_COLUMNS[2:]}
        metrics["networks"].setdefault(row.network, {})[row.method] = entry
    for name, c in curves.groupby("dataset", sort=False):
        nmf = c[c["method"] == "nmf"]
        metrics["selected_k"][name] = int(nmf.loc[nmf["selected"], "n_components"].iloc[0])
        metrics.setdefault("curves", {})[name] = {
            method: {
                "n_components": g["n_components"].astype(int).tolist(),
                "r2": [_clean(v) for v in g["r2"]],
                "aic": [_clean(v) for v in g["aic"]],
                "explained_variance": [_clean(v) for v in g["explained_variance"]],
            }
            for method, g in c.groupby("method", sort=False)
        }
    return scores, curves, metrics
