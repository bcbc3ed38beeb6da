"""Paired per-neuron comparison of two spike-inference runs on the same neurons.

Two benchmark runs (two models, budgets or settings) score the same held-out neurons; the
per-neuron differences remove the between-neuron spread that dominates the confidence
interval of each run's median.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from calcium_dynamics.metrics.bootstrap import hierarchical_median_ci
from calcium_dynamics.metrics.spikes import median_with_ci

# +1: larger is better; -1: smaller is better; 0: smaller magnitude is better (signed bias)
BETTER = {"corr": 1, "error": -1, "bias": 0, "vrd": -1, "vpd": -1, "er": -1}
KEYS = ("dataset", "neuron")


def _improvement(metric: str, baseline: np.ndarray, candidate: np.ndarray) -> np.ndarray:
    """Per-neuron gain of ``candidate`` over ``baseline``, oriented so that > 0 is better."""
    direction = BETTER[metric]
    if direction == 0:
        return np.abs(baseline) - np.abs(candidate)
    return direction * (candidate - baseline)


def pair_runs(
    baseline: pd.DataFrame, candidate: pd.DataFrame, metrics: Sequence[str]
) -> pd.DataFrame:
    """Inner-join two per-neuron tables on (dataset, neuron).

    Returns one row per neuron scored by both runs, with ``<metric>_baseline`` and
    ``<metric>_candidate`` columns. Raises ``ValueError`` on an unknown metric, a missing
    column, a neuron listed twice in one run, or runs that share no neuron.
    """
    unknown = [m for m in metrics if m not in BETTER]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; choose from {sorted(BETTER)}")
    for name, table in (("baseline", baseline), ("candidate", candidate)):
        missing = [c for c in (*KEYS, *metrics) if c not in table.columns]
        if missing:
            raise ValueError(f"{name} run lacks column(s) {missing}")
        repeated = table.duplicated(list(KEYS))
        if repeated.any():
            first = table.loc[repeated, list(KEYS)].iloc[0].tolist()
            raise ValueError(f"{name} run lists neuron {first} more than once")
    cols = [*KEYS, *metrics]
    pairs = baseline[cols].merge(
        candidate[cols], on=list(KEYS), suffixes=("_baseline", "_candidate"), validate="1:1"
    )
    if pairs.empty:
        raise ValueError("the two runs share no (dataset, neuron): nothing to compare")
    return pairs


def paired_summary(
    baseline: pd.DataFrame,
    candidate: pd.DataFrame,
    metrics: Sequence[str] = ("corr", "er"),
    n_boot: int = 2000,
    seed: int = 0,
) -> dict[str, object]:
    """Median per-neuron difference (candidate − baseline) of each metric, with its CI.

    For each metric: ``median_difference`` and its 95 % percentile-bootstrap ``ci95`` (raw
    difference, metric units; neurons resampled) and ``ci95_hierarchical`` (datasets resampled,
    then neurons within them: :mod:`calcium_dynamics.metrics.bootstrap`), ``fraction_better``
    (share of neurons where the candidate is better: higher Corr; lower Error, vRD, VPD, ER;
    smaller |Bias|), the two runs' medians over the shared neurons, and per dataset the
    median difference and whether it is better.
    Neurons with a NaN metric in either run are left out of that metric.
    """
    pairs = pair_runs(baseline, candidate, metrics)
    summary: dict[str, object] = {
        "n_neurons": int(len(pairs)),
        "only_in_baseline": int(len(baseline) - len(pairs)),
        "only_in_candidate": int(len(candidate) - len(pairs)),
        "metrics": {},
    }
    for metric in metrics:
        a = pairs[f"{metric}_baseline"].to_numpy(float)
        b = pairs[f"{metric}_candidate"].to_numpy(float)
        ok = np.isfinite(a) & np.isfinite(b)
        diff = b[ok] - a[ok]
        gain = _improvement(metric, a[ok], b[ok])
        med, lo, hi = median_with_ci(diff, n_boot=n_boot, seed=seed)
        _, h_lo, h_hi = hierarchical_median_ci(
            diff, pairs[ok]["dataset"].to_numpy(), n_boot=n_boot, seed=seed
        )
        per_dataset = {}
        for dataset, idx in pairs[ok].groupby("dataset").indices.items():
            d_med = float(np.median(diff[idx]))
            per_dataset[dataset] = {
                "median_difference": d_med,
                "better": bool(np.median(gain[idx]) > 0),
                "n_neurons": int(idx.size),
            }
        summary["metrics"][metric] = {
            "n_neurons": int(ok.sum()),
            "median_difference": med,
            "ci95": [lo, hi],
            "ci95_hierarchical": [h_lo, h_hi],
            "fraction_better": float(np.mean(gain > 0)) if gain.size else float("nan"),
            "median_baseline": float(np.median(a[ok])) if ok.any() else float("nan"),
            "median_candidate": float(np.median(b[ok])) if ok.any() else float("nan"),
            "datasets_better": int(sum(v["better"] for v in per_dataset.values())),
            "per_dataset": per_dataset,
        }
    return summary
