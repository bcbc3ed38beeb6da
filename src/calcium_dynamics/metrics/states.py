"""Discrete-state recovery: match inferred states to true states, then score the match.

Inferred state labels are arbitrary, so they are first mapped onto the true labels by the
Hungarian algorithm (:func:`scipy.optimize.linear_sum_assignment`) on the confusion matrix, which
maximises the number of bins whose labels agree.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = [
    "confusion_matrix",
    "match_states",
    "state_accuracy",
    "state_correlation",
    "state_metrics",
]


def _check_labels(true_states: np.ndarray, inferred_states: np.ndarray) -> tuple[np.ndarray, ...]:
    true_states = np.asarray(true_states)
    inferred_states = np.asarray(inferred_states)
    if true_states.shape != inferred_states.shape or true_states.ndim != 1:
        raise ValueError(
            "true_states and inferred_states must be 1-D arrays of equal length; got shapes "
            f"{true_states.shape} and {inferred_states.shape}"
        )
    if true_states.size == 0:
        raise ValueError("state sequences are empty")
    for name, arr in (("true_states", true_states), ("inferred_states", inferred_states)):
        if not np.issubdtype(arr.dtype, np.integer) or arr.min() < 0:
            raise ValueError(f"{name} must hold non-negative integer state labels")
    return true_states, inferred_states


def confusion_matrix(true_states: np.ndarray, inferred_states: np.ndarray) -> np.ndarray:
    """Counts ``M[i, j]`` of bins with true state ``i`` and inferred state ``j``."""
    true_states, inferred_states = _check_labels(true_states, inferred_states)
    n = int(max(true_states.max(), inferred_states.max())) + 1
    conf = np.zeros((n, n), dtype=np.int64)
    np.add.at(conf, (true_states, inferred_states), 1)
    return conf


def match_states(true_states: np.ndarray, inferred_states: np.ndarray) -> np.ndarray:
    """Relabel ``inferred_states`` onto the true labels (Hungarian matching).

    Returns:
        The relabelled inferred states, shape ``(T,)``. Inferred states left without a partner
        (more inferred than true states) keep fresh labels above the true ones.
    """
    conf = confusion_matrix(true_states, inferred_states)
    rows, cols = linear_sum_assignment(-conf)
    mapping = np.full(conf.shape[1], -1, dtype=np.int64)
    mapping[cols] = rows
    spare = np.flatnonzero(mapping < 0)
    mapping[spare] = conf.shape[0] + np.arange(spare.size)
    return mapping[np.asarray(inferred_states)]


def state_accuracy(true_states: np.ndarray, inferred_states: np.ndarray) -> float:
    """Fraction of bins whose matched inferred state equals the true state."""
    matched = match_states(true_states, inferred_states)
    return float(np.mean(matched == np.asarray(true_states)))


def state_correlation(true_states: np.ndarray, inferred_states: np.ndarray) -> float:
    """Pearson correlation between the true and the matched inferred state sequences.

    The state labels are treated as numbers (as for the sequential-state simulation, whose
    labels follow the order of the sequence). Returns NaN if either sequence is constant.
    """
    true_states = np.asarray(true_states)
    matched = match_states(true_states, inferred_states)
    if np.ptp(true_states) == 0 or np.ptp(matched) == 0:
        return float("nan")
    return float(np.corrcoef(true_states.astype(float), matched.astype(float))[0, 1])


def state_metrics(true_states: np.ndarray, inferred_states: np.ndarray) -> dict[str, float]:
    """``{"accuracy", "correlation"}`` after Hungarian matching."""
    return {
        "accuracy": state_accuracy(true_states, inferred_states),
        "correlation": state_correlation(true_states, inferred_states),
    }
