"""Decompositions of a population's traces as tables: NMF with AIC selection of k, then PCA /
ICA (/ UMAP) at the same (or a given) k.

Table layouts (one row per neuron / component, arrays in cells):

* traces: ``neuron`` (str), ``frame_rate_hz``, ``dff`` (float array over time, all the same
  length).
* components: ``method``, ``component``, ``n_components``, ``frame_rate_hz``,
  ``weights`` (array over neurons, in the traces' neuron order), ``time_course`` (array over
  time, empty for UMAP).
* curves: ``method``, ``n_components``, ``r2``, ``aic``, ``explained_variance``, ``selected``.
* assignments: ``neuron``, ``method``, ``component`` (largest weight), ``weight``.
* timings: ``method``, ``n_components``, ``fit_time_s`` (wall-clock seconds; kept out of the
  other tables so that two runs on the same input give the same bytes).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from calcium_dynamics.classical.components import (
    ICADecomposition,
    PCADecomposition,
    UMAPDecomposition,
    umap_available,
)
from calcium_dynamics.classical.nmf import NMFSelector

logger = logging.getLogger(__name__)

COMPONENT_COLUMNS = [
    "method",
    "component",
    "n_components",
    "frame_rate_hz",
    "weights",
    "time_course",
]
CURVE_COLUMNS = [
    "method",
    "n_components",
    "r2",
    "aic",
    "explained_variance",
    "selected",
]
TIMING_COLUMNS = ["method", "n_components", "fit_time_s"]


def traces_matrix(
    traces: pd.DataFrame, name: str = "population traces"
) -> tuple[np.ndarray, float]:
    """(time × neurons) ΔF/F matrix and frame rate from a traces table.

    Raises:
        ValueError: missing columns, neurons of unequal length or frame rate (naming them).
    """
    missing = {"neuron", "frame_rate_hz", "dff"} - set(traces.columns)
    if missing:
        raise ValueError(f"{name} lacks column(s) {sorted(missing)}")
    if len(traces) < 2:
        raise ValueError(f"{name} holds {len(traces)} neuron(s); a decomposition needs ≥ 2")
    rates = traces["frame_rate_hz"].to_numpy(float)
    if not np.all(rates > 0) or not np.allclose(rates, rates[0]):
        odd = traces["neuron"][~np.isclose(rates, np.median(rates)) | ~(rates > 0)]
        raise ValueError(f"{name}: frame rates differ or are not positive for {list(odd)[:10]}")
    lengths = traces["dff"].map(len).to_numpy()
    if not np.all(lengths == lengths[0]):
        odd = traces["neuron"][lengths != np.median(lengths)]
        raise ValueError(f"{name}: neurons {list(odd)[:10]} have a different number of frames")
    X = np.stack([np.asarray(d, float) for d in traces["dff"]], axis=1)
    return X, float(rates[0])


def _component_rows(method, est, frame_rate_hz) -> list[dict]:
    k = est.components_.shape[0]
    rows = []
    for j in range(k):
        tc = est.time_courses_[:, j] if est.time_courses_ is not None else np.array([])
        rows.append(
            {
                "method": method,
                "component": j,
                "n_components": k,
                "frame_rate_hz": frame_rate_hz,
                "weights": est.components_[j].astype(float),
                "time_course": np.asarray(tc, np.float32),
            }
        )
    return rows


def decompose(
    traces: pd.DataFrame,
    nmf: dict[str, Any],
    comparison: dict[str, Any],
    name: str = "population traces",
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """NMF with AIC selection, then PCA / ICA (/ UMAP) at the same (or a given) k.

    Args:
        traces: traces table (see module docstring).
        nmf: :class:`NMFSelector` parameters.
        comparison: ``methods`` (subset of pca, ica, umap), ``n_components`` (``null``: NMF's
            selected k), ``curve_max_components`` (PCA variance curve), ``ica`` and ``umap``
            estimator parameters.
        name: the dataset's name for error messages.

    Returns:
        ``(components, curves, assignments, timings)`` tables.
    """
    X, rate = traces_matrix(traces, name)
    neurons = traces["neuron"].astype(str).to_numpy()
    selector = NMFSelector(**nmf).fit(X, neuron_names=neurons)
    k = selector.n_components_
    logger.info("%s: AIC selects k=%d (tried %s)", name, k, selector.n_components_tried_.tolist())
    components = _component_rows("nmf", selector, rate)
    timings = [
        {"method": "nmf", "n_components": int(kk), "fit_time_s": float(t)}
        for kk, t in zip(selector.n_components_tried_, selector.fit_times_s_)
    ]
    curves = [
        {
            "method": "nmf",
            "n_components": int(kk),
            "r2": float(r2),
            "aic": float(a),
            "explained_variance": float(r2),
            "selected": bool(kk == k),
        }
        for kk, r2, a in zip(selector.n_components_tried_, selector.r2_, selector.aic_)
    ]
    k_cmp = comparison.get("n_components") or k
    estimators = []
    methods = list(comparison.get("methods", []))
    for method in methods:
        if method == "pca":
            estimators.append(("pca", PCADecomposition(k_cmp)))
        elif method == "ica":
            estimators.append(("ica", ICADecomposition(k_cmp, **comparison.get("ica", {}))))
        elif method == "umap":
            if not umap_available():
                logger.warning("umap-learn is not installed: UMAP comparison skipped")
                continue
            estimators.append(("umap", UMAPDecomposition(k_cmp, **comparison.get("umap", {}))))
        else:
            raise ValueError(f"unknown comparison method {method!r} (pca, ica, umap)")
    fitted = [("nmf", selector)]
    for method, est in estimators:
        est.fit(X, neuron_names=neurons)
        components += _component_rows(method, est, rate)
        timings.append(
            {"method": method, "n_components": int(k_cmp), "fit_time_s": float(est.fit_time_s_)}
        )
        fitted.append((method, est))
    k_curve = min(int(comparison.get("curve_max_components") or k_cmp), *X.shape)
    if "pca" in methods:
        pca = PCADecomposition(k_curve).fit(X)
        ev = np.cumsum(pca.explained_variance_ratio_)
        curves += [
            {
                "method": "pca",
                "n_components": j + 1,
                "r2": float(pca.r2_[j]),
                "aic": float("nan"),
                "explained_variance": float(ev[j]),
                "selected": j + 1 == k_cmp,
            }
            for j in range(k_curve)
        ]
    assignments = pd.DataFrame(
        [
            {
                "neuron": neurons[i],
                "method": method,
                "component": int(est.assignment_[i]),
                "weight": float(est.components_[est.assignment_[i], i]),
            }
            for method, est in fitted
            for i in range(len(neurons))
        ]
    )
    return (
        pd.DataFrame(components, columns=COMPONENT_COLUMNS),
        pd.DataFrame(curves, columns=CURVE_COLUMNS),
        assignments,
        pd.DataFrame(timings, columns=TIMING_COLUMNS),
    )
