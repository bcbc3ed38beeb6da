"""Assignment metrics between decomposed components and a network's true sources.

Shapes: ``k`` components, ``K`` true sources (nodes or processes), ``N`` neurons, ``T`` steps.

* Nodal networks: the component weights (k × N) are summed per node into a K × k matrix; node i
  is assigned when the largest entry of row i sits in a column j whose largest entry is row i.
* Random-process networks: the Pearson correlation between each component's weights and each
  process's true weights (k × K); a component succeeds when its best-correlated process is the
  best of no other component.
* Activity: the Pearson correlation between a component's time course and the activity of the
  source it was matched to.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "NodalAssignment",
    "WeightMatching",
    "activity_correlation",
    "aggregate_node_weights",
    "correlation_matrix",
    "nodal_assignment",
    "score_decomposition",
    "weight_correlation_matching",
]


def _as_weights(weights, name: str = "weights") -> np.ndarray:
    weights = np.asarray(weights, float)
    if weights.ndim != 2:
        raise ValueError(f"{name} must be 2-D (components × neurons), got shape {weights.shape}")
    if not np.isfinite(weights).all():
        raise ValueError(f"{name} contain NaN or infinite values")
    return weights


def aggregate_node_weights(weights, membership, n_nodes: int | None = None) -> np.ndarray:
    """Sum of the weights of each node's neurons in each component.

    Args:
        weights: (k, N) component weights.
        membership: (N,) node index of each neuron (0 … K−1).
        n_nodes: K (default: ``max(membership) + 1``).

    Returns:
        (K, k): entry [i, j] is the summed weight of node i's neurons in component j.
    """
    weights = _as_weights(weights)
    membership = np.asarray(membership)
    if membership.shape != (weights.shape[1],):
        raise ValueError(
            f"membership has shape {membership.shape}, expected ({weights.shape[1]},): one node "
            "per neuron"
        )
    if membership.size and (membership.min() < 0 or int(membership.max()) != membership.max()):
        raise ValueError("membership must hold non-negative integer node indices")
    membership = membership.astype(int)
    n_nodes = int(membership.max()) + 1 if n_nodes is None else int(n_nodes)
    one_hot = (membership[None, :] == np.arange(n_nodes)[:, None]).astype(float)
    return one_hot @ weights.T


@dataclass(frozen=True)
class NodalAssignment:
    """Result of :func:`nodal_assignment`.

    Attributes:
        aggregated: (K, k) summed weights per node and component.
        component_of_node: (K,) best component per node (row maximum).
        assigned: (K,) whether that component's column maximum is the same node.
        accuracy: assigned nodes / K.
    """

    aggregated: np.ndarray
    component_of_node: np.ndarray
    assigned: np.ndarray
    accuracy: float


def nodal_assignment(weights, membership, n_nodes: int | None = None) -> NodalAssignment:
    """Which nodes a decomposition recovers: node i is assigned if the maximum of row i of the
    aggregated matrix is also the maximum of its column."""
    agg = aggregate_node_weights(weights, membership, n_nodes)
    row_best = np.argmax(agg, axis=1)
    col_best = np.argmax(agg, axis=0)
    assigned = col_best[row_best] == np.arange(agg.shape[0])
    return NodalAssignment(agg, row_best, assigned, float(assigned.mean()))


def correlation_matrix(a, b) -> np.ndarray:
    """Pearson correlation between the rows of ``a`` (m, N) and the rows of ``b`` (p, N).

    Rows without variance give NaN.
    """
    a = np.asarray(a, float)
    b = np.asarray(b, float)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"rows must have equal length, got shapes {a.shape} and {b.shape}")
    ac = a - a.mean(axis=1, keepdims=True)
    bc = b - b.mean(axis=1, keepdims=True)
    na = np.sqrt(np.sum(ac**2, axis=1))
    nb = np.sqrt(np.sum(bc**2, axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (ac @ bc.T) / np.outer(na, nb)


@dataclass(frozen=True)
class WeightMatching:
    """Result of :func:`weight_correlation_matching`.

    Attributes:
        correlations: (k, K) correlation between component weights and true source weights.
        best_source: (k,) best-correlated source per component.
        matched_correlation: (k,) that correlation.
        unique: (k,) whether no other component has the same best source.
        success: every component unique and every source matched (k = K).
        accuracy: sources that are the unique best match of a component / K.
    """

    correlations: np.ndarray
    best_source: np.ndarray
    matched_correlation: np.ndarray
    unique: np.ndarray
    success: bool
    accuracy: float


def weight_correlation_matching(weights, true_weights) -> WeightMatching:
    """Match components to sources by the correlation of their weights over neurons.

    Args:
        weights: (k, N) component weights.
        true_weights: (K, N) true source → neuron weights (connection probabilities).
    """
    weights = _as_weights(weights)
    true_weights = _as_weights(true_weights, "true_weights")
    corr = correlation_matrix(weights, true_weights)
    filled = np.where(np.isnan(corr), -np.inf, corr)
    best = np.argmax(filled, axis=1)
    matched = corr[np.arange(corr.shape[0]), best]
    counts = np.bincount(best, minlength=true_weights.shape[0])
    unique = counts[best] == 1
    n_sources = true_weights.shape[0]
    accuracy = float(np.sum(counts == 1)) / n_sources
    success = bool(unique.all() and weights.shape[0] == n_sources)
    return WeightMatching(corr, best, matched, unique, success, accuracy)


def activity_correlation(time_courses, source_activity, source_of_component) -> np.ndarray:
    """Correlation between each component's time course and its matched source's activity.

    Args:
        time_courses: (T, k) component activity.
        source_activity: (T, K) true source activity.
        source_of_component: (k,) index of the matched source per component; a negative index
            marks an unmatched component (NaN in the result).

    Returns:
        (k,) Pearson correlations.
    """
    tc = np.asarray(time_courses, float)
    sa = np.asarray(source_activity, float)
    if tc.ndim != 2 or sa.ndim != 2 or tc.shape[0] != sa.shape[0]:
        raise ValueError(
            f"time courses {tc.shape} and source activity {sa.shape} must be (T, ·) with equal T"
        )
    idx = np.asarray(source_of_component, int)
    if idx.shape != (tc.shape[1],):
        raise ValueError(f"source_of_component must have one entry per component ({tc.shape[1]})")
    if (idx >= sa.shape[1]).any():
        raise ValueError(f"source index out of range (sources: {sa.shape[1]})")
    out = np.full(idx.shape, np.nan)
    ok = idx >= 0
    if ok.any():
        corr = correlation_matrix(tc[:, ok].T, sa.T)
        out[ok] = corr[np.arange(ok.sum()), idx[ok]]
    return out


def score_decomposition(
    weights,
    time_courses,
    true_weights,
    source_activity,
    membership=None,
) -> dict:
    """All assignment metrics of one decomposition against a simulated network's truth.

    Args:
        weights: (k, N) component weights.
        time_courses: (T, k) component activity, or ``None`` (UMAP).
        true_weights: (K, N) true source → neuron weights.
        source_activity: (T, K) true source activity.
        membership: (N,) node per neuron for a nodal network; ``None`` for a process network.

    Returns:
        A flat dict: ``assignment_accuracy`` (nodal rule when ``membership`` is given, weight
        correlation rule otherwise), ``assignment_success`` (every source recovered),
        ``weight_correlation`` (mean over components of the correlation with the matched source's
        weights), ``activity_correlation`` (mean over matched components; NaN without time
        courses), and per-component lists ``matched_source``, ``matched_weight_correlation``,
        ``matched_activity_correlation``.
    """
    weights = _as_weights(weights)
    matching = weight_correlation_matching(weights, true_weights)
    n_sources = np.asarray(true_weights).shape[0]
    if membership is not None:
        nodal = nodal_assignment(weights, membership, n_sources)
        accuracy = nodal.accuracy
        success = bool(nodal.assigned.all())
        source_of_component = np.full(weights.shape[0], -1)
        for node in np.flatnonzero(nodal.assigned):
            source_of_component[nodal.component_of_node[node]] = node
    else:
        accuracy, success = matching.accuracy, matching.success
        source_of_component = matching.best_source
    matched_w = np.array(
        [
            matching.correlations[j, s] if s >= 0 else np.nan
            for j, s in enumerate(source_of_component)
        ]
    )
    if time_courses is not None:
        act = activity_correlation(time_courses, source_activity, source_of_component)
    else:
        act = np.full(weights.shape[0], np.nan)

    def _mean(x: np.ndarray) -> float:
        return float(np.nanmean(x)) if np.isfinite(x).any() else float("nan")

    return {
        "assignment_accuracy": float(accuracy),
        "assignment_success": success,
        "weight_correlation": _mean(matched_w),
        "activity_correlation": _mean(act),
        "matched_source": source_of_component.tolist(),
        "matched_weight_correlation": matched_w.tolist(),
        "matched_activity_correlation": act.tolist(),
    }
