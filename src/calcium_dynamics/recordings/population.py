"""A recording's population for NMF: traces table (neurons × time) and the NMF figure."""

from __future__ import annotations

import logging

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from calcium_dynamics.classical.decomposition_tables import decompose

logger = logging.getLogger(__name__)


def population_traces(table: pd.DataFrame, bin_s: float | None) -> pd.DataFrame:
    """A decomposition traces table (``neuron, frame_rate_hz, dff``) of one recording;
    NaN frames are set to 0 (baseline) and, with ``bin_s``, frames are averaged in bins."""
    rates = table["frame_rate_hz"].to_numpy(float)
    X = np.stack([np.nan_to_num(np.asarray(d, np.float32)) for d in table["dff"]])
    rate = float(rates[0])
    if bin_s:
        k = max(1, int(round(float(bin_s) * rate)))
        n = X.shape[1] // k * k
        X = X[:, :n].reshape(X.shape[0], -1, k).mean(axis=2)
        rate = rate / k
    return pd.DataFrame(
        {"neuron": table["trace_id"].astype(str), "frame_rate_hz": rate, "dff": list(X)}
    )


def plot_recording_nmf(
    components: pd.DataFrame, curves: pd.DataFrame, recording: str, max_seconds: float = 120.0
) -> plt.Figure:
    """AIC / R² against k (the selected k marked) and the selected components' time courses
    (first ``max_seconds``) and neuron weights."""
    k = int(components["n_components"].iloc[0])
    rate = float(components["frame_rate_hz"].iloc[0])
    fig = plt.figure(figsize=(11, 2.2 + 0.9 * k))
    grid = fig.add_gridspec(k, 3, width_ratios=[1.1, 3, 1.2])
    ax = fig.add_subplot(grid[:, 0])
    ax.plot(curves["n_components"], curves["aic"], "o-", color="k", label="AIC")
    ax.axvline(k, color="C3", ls="--", lw=1)
    ax.set_xlabel("components k")
    ax.set_ylabel("AIC")
    ax2 = ax.twinx()
    ax2.plot(curves["n_components"], curves["r2"], "s:", color="C0", ms=3)
    ax2.set_ylabel("R²", color="C0")
    ax.set_title(f"{recording}: k = {k}", fontsize=9, loc="left")
    for j, row in enumerate(components.sort_values("component").itertuples()):
        tc = np.asarray(row.time_course, float)
        t = np.arange(tc.size) / rate
        keep = t <= max_seconds
        a = fig.add_subplot(grid[j, 1])
        a.plot(t[keep], tc[keep], lw=0.7, color=f"C{j % 10}")
        a.set_ylabel(f"c{j}", rotation=0, labelpad=12)
        if j == k - 1:
            a.set_xlabel("time (s)")
        w = fig.add_subplot(grid[j, 2])
        w.bar(np.arange(len(row.weights)), np.asarray(row.weights), color=f"C{j % 10}", width=1)
        w.set_yticks([])
        if j == k - 1:
            w.set_xlabel("neuron")
    fig.tight_layout()
    return fig


def recording_decomposition(
    table: pd.DataFrame, params: dict, name: str = "recording"
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame] | None:
    """NMF of one recording's population (ΔF/F, neurons × time) with AIC selection of k.

    Uses ``classical.decomposition_tables.decompose`` (``NMFSelector``: global min-max scaling,
    NNDSVD, AIC at its first increase) without the PCA / ICA comparison.

    Args:
        table: the recording's ΔF/F table (``trace_id, frame_rate_hz, dff``).
        params: ``bin_s`` (average ΔF/F in bins of this many seconds first; null: every frame)
            and the ``NMFSelector`` parameters (``n_components``, ``max_components`` …;
            ``max_components`` is capped at the number of cells).
        name: how logs and errors name the recording.

    Returns:
        ``(components, curves, assignments)``: the decomposition pipeline's tables (weights
        over the recording's traces in its ΔF/F order; time courses at the (binned) frame
        rate), or None (logged) when the recording has fewer than 2 cells or 3 time bins.
    """
    traces = population_traces(table, params.get("bin_s"))
    where = str(table["source"].iloc[0]) if "source" in table and len(table) else name
    n_bins = len(traces["dff"].iloc[0]) if len(traces) else 0
    if len(traces) < 2 or n_bins < 3:
        logger.warning(
            "recording %s: %d trace(s) of %d time bins; NMF needs at least 2 cells and 3 "
            "bins, skipped",
            where,
            len(traces),
            n_bins,
        )
        return None
    nmf_params = {k: v for k, v in params.items() if k != "bin_s"}
    if nmf_params.get("max_components"):
        nmf_params["max_components"] = min(int(nmf_params["max_components"]), len(traces))
    comp, curve, assign, _ = decompose(traces, nmf_params, {"methods": []}, name=name)
    return comp, curve, assign
