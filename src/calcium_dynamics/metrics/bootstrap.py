"""Hierarchical bootstrap: confidence intervals that respect neurons clustered in datasets.

Neurons of one dataset share an indicator, a preparation and a lab, so they are not
independent draws: a neuron-level bootstrap treats 200 neurons from 16 datasets as 200
independent samples and gives intervals that are too narrow. The hierarchical bootstrap
resamples datasets with replacement, then neurons with replacement within each drawn dataset
(Saravanan, Berman & Sober 2020), and takes the statistic of the pooled resample.
"""

from __future__ import annotations

import numpy as np

__all__ = ["hierarchical_bootstrap", "hierarchical_median_ci"]


def _grouped(values: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values padded into a (n_groups, max_size) matrix (NaN padding) and the group sizes."""
    values = np.asarray(values, float)
    groups = np.asarray(groups)
    if values.shape != groups.shape or values.ndim != 1:
        raise ValueError(
            f"values and groups must be 1-D and of one length; got {values.shape}, {groups.shape}"
        )
    keep = np.isfinite(values)
    values, groups = values[keep], groups[keep]
    labels, inverse = np.unique(groups, return_inverse=True)
    sizes = np.bincount(inverse, minlength=labels.size)
    matrix = np.full((labels.size, max(int(sizes.max(initial=0)), 1)), np.nan)
    order = np.argsort(inverse, kind="stable")
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    for g in range(labels.size):
        matrix[g, : sizes[g]] = values[order[starts[g] : starts[g] + sizes[g]]]
    return matrix, sizes


def hierarchical_bootstrap(
    values: np.ndarray,
    groups: np.ndarray,
    statistic=np.nanmedian,
    n_boot: int = 2000,
    seed: int = 0,
    chunk: int = 250,
) -> np.ndarray:
    """``n_boot`` bootstrap replicates of ``statistic`` over the pooled two-level resample.

    Each replicate draws as many groups as there are, with replacement, and in each drawn group
    as many units as it has, with replacement. NaN values are left out first.

    Args:
        values: one number per unit (e.g. a neuron's correlation), shape (n,).
        groups: the group of each unit (e.g. its dataset), shape (n,).
        statistic: reduces a (chunk, n_units) array along axis 1, ignoring NaN.
        n_boot: replicates; seed: seed of the resampling; chunk: replicates per vector step.

    Returns:
        the replicates, shape (n_boot,).
    """
    matrix, sizes = _grouped(values, groups)
    n_groups = sizes.size
    if n_groups == 0:
        return np.full(n_boot, np.nan)
    rng = np.random.default_rng(seed)
    width = matrix.shape[1]
    out = np.empty(n_boot)
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        drawn = rng.integers(0, n_groups, size=(b, n_groups))  # groups per replicate
        n_drawn = sizes[drawn]  # (b, G)
        within = np.floor(rng.random((b, n_groups, width)) * n_drawn[..., None]).astype(int)
        sample = matrix[drawn[..., None], within]  # (b, G, width)
        sample[np.arange(width)[None, None, :] >= n_drawn[..., None]] = np.nan
        out[start : start + b] = statistic(sample.reshape(b, -1), axis=1)
    return out


def hierarchical_median_ci(
    values: np.ndarray,
    groups: np.ndarray,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Median of the units and its percentile interval under the hierarchical bootstrap."""
    v = np.asarray(values, float)
    if not np.isfinite(v).any():
        return (float("nan"),) * 3
    boots = hierarchical_bootstrap(v, groups, n_boot=n_boot, seed=seed)
    lo, hi = np.quantile(boots, [(1 - level) / 2, (1 + level) / 2])
    return float(np.nanmedian(v)), float(lo), float(hi)
