"""The QC figure of recordings: ν histogram and example ΔF/F traces (lowest … highest ν)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


def qc_picks(nu: np.ndarray, n_examples: int) -> np.ndarray:
    """Indices of ``n_examples`` traces from the lowest to the highest ν."""
    n_ex = max(1, min(int(n_examples), len(nu)))
    order = np.argsort(nu)
    return order[np.unique(np.linspace(0, len(order) - 1, n_ex).round().astype(int))]


def draw_qc(nu: np.ndarray, examples: list[dict], max_s: float) -> plt.Figure:
    """ν histogram of all traces + ΔF/F of ``examples`` (``trace_id, frame_rate_hz, dff, nu``)."""
    fig = plt.figure(figsize=(10, 2.0 + 1.3 * len(examples)))
    grid = fig.add_gridspec(len(examples), 2, width_ratios=[1, 3])
    ax = fig.add_subplot(grid[:, 0])
    ax.hist(nu[np.isfinite(nu)], bins=min(30, max(5, len(nu) // 2)), color="0.4")
    ax.set_xlabel("noise level ν (%·Hz$^{-1/2}$)")
    ax.set_ylabel("traces")
    ax.set_title(f"{len(nu)} traces, median ν = {np.nanmedian(nu):.2f}")
    for k, ex in enumerate(examples):
        y = np.asarray(ex["dff"], float)
        t = np.arange(y.size) / ex["frame_rate_hz"]
        keep = t <= max_s
        a = fig.add_subplot(grid[k, 1])
        a.plot(t[keep], y[keep], lw=0.7, color="k")
        a.set_ylabel("ΔF/F")
        a.set_title(f"{ex['trace_id']}  (ν = {ex['nu']:.2f})", fontsize=9, loc="left")
        if k == len(examples) - 1:
            a.set_xlabel("time (s)")
    fig.tight_layout()
    return fig


def plot_recording_qc(qc: pd.DataFrame, dff: pd.DataFrame, params: dict) -> plt.Figure:
    """Histogram of the noise level ν and the ΔF/F of a few example traces.

    ``qc`` and ``dff`` list the same traces in the same order. ``params``: ``n_examples``
    (traces shown: the lowest, median and highest ν, then evenly spread), ``max_seconds``
    (length shown, s).
    """
    nu = qc["noise_level_nu"].to_numpy(float)
    examples = [
        {
            "trace_id": dff.iloc[i]["trace_id"],
            "frame_rate_hz": dff.iloc[i]["frame_rate_hz"],
            "dff": dff.iloc[i]["dff"],
            "nu": nu[i],
        }
        for i in qc_picks(nu, params.get("n_examples", 4))
    ]
    return draw_qc(nu, examples, float(params.get("max_seconds", 60.0)))
