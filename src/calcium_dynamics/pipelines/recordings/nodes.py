"""Kedro nodes of the recordings pipeline (thin wrappers around ``signal/`` and ``models/``)."""

from __future__ import annotations

import logging

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from calcium_dynamics.signal.dff import delta_f_over_f, dff_quality

logger = logging.getLogger(__name__)

QC_COLUMNS = [
    "trace_id",
    "plane",
    "cell",
    "frame_rate_hz",
    "n_frames",
    "noise_level_nu",
    "baseline_median",
    "dff_min",
    "dff_max",
    "dff_p01",
    "dff_p99",
    "nan_fraction",
]


def _is_array(value) -> bool:
    return value is not None and not (np.isscalar(value) and pd.isna(value))


def _group_dff(rows: pd.DataFrame, params: dict) -> tuple[np.ndarray, np.ndarray | None]:
    """ΔF/F and F0 of rows sharing a frame rate and length, shape (n_rows, n_frames)."""
    names = [f"trace {t!r}" for t in rows["trace_id"]]
    if _is_array(rows["dff"].iloc[0]):  # the file already holds ΔF/F
        return np.stack([np.asarray(d, np.float64) for d in rows["dff"]]), None
    f = np.stack([np.asarray(x, np.float64) for x in rows["F"]])
    has_neu = [_is_array(x) for x in rows["Fneu"]]
    fneu = np.stack([np.asarray(x, np.float64) for x in rows["Fneu"]]) if all(has_neu) else None
    if fneu is not None and not params.get("subtract_neuropil", True):
        fneu = None
    return delta_f_over_f(
        f,
        fneu,
        float(rows["frame_rate_hz"].iloc[0]),
        neuropil_coefficient=float(params.get("neuropil_coefficient", 0.7)),
        window_s=float(params.get("baseline_window_s", 60.0)),
        percentile=float(params.get("baseline_percentile", 8.0)),
        smooth_s=float(params.get("baseline_smooth_s", 0.0)),
        names=names,
        max_nan_fraction=float(params.get("max_nan_fraction", 0.5)),
    )


def compute_recording_dff(
    recording: pd.DataFrame, params: dict
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """ΔF/F of every trace and its QC numbers.

    Args:
        recording: a table from one of ``calcium_dynamics.io.recordings``' readers
            (``trace_id, plane, cell, frame_rate_hz, F, Fneu, dff``).
        params: ``neuropil_coefficient`` (c in F − c·F_neu), ``subtract_neuropil`` (bool),
            ``baseline_window_s`` (s), ``baseline_percentile`` (0–100), ``baseline_smooth_s``
            (s), ``max_nan_fraction``.

    Returns:
        ``(dff_table, qc_table)``: ``trace_id, plane, cell, frame_rate_hz, dff`` (ΔF/F as a
        fraction, an array per trace: the input of spike inference) and one QC row per trace
        (columns :data:`QC_COLUMNS`; ν in %·Hz^-½, baseline in the recording's units).
    """
    needed = ["trace_id", "frame_rate_hz"]
    missing = [c for c in needed if c not in recording.columns]
    if missing:
        raise ValueError(f"recording table lacks column(s) {missing}")
    table = recording.reset_index(drop=True).copy()
    for col in ("plane", "cell", "F", "Fneu", "dff"):
        if col not in table.columns:
            table[col] = None if col in ("F", "Fneu", "dff") else 0
    source = [d if _is_array(d) else f for d, f in zip(table["dff"], table["F"])]
    table["_n"] = [len(s) for s in source]
    table["_has_dff"] = [_is_array(d) for d in table["dff"]]
    dff_rows, qc_rows = [], []
    for _, rows in table.groupby(["plane", "frame_rate_hz", "_n", "_has_dff"], sort=False):
        dff, f0 = _group_dff(rows, params)
        rate = float(rows["frame_rate_hz"].iloc[0])
        qc = dff_quality(dff, f0, rate)
        for k, (idx, row) in enumerate(rows.iterrows()):
            dff_rows.append(
                (
                    idx,
                    {
                        "trace_id": row.trace_id,
                        "plane": int(row.plane),
                        "cell": int(row.cell),
                        "frame_rate_hz": rate,
                        "dff": dff[k].astype(np.float32),
                    },
                )
            )
            qc_rows.append(
                (
                    idx,
                    {
                        "trace_id": row.trace_id,
                        "plane": int(row.plane),
                        "cell": int(row.cell),
                        "frame_rate_hz": rate,
                        "n_frames": int(row._n),
                        **{key: float(v[k]) for key, v in qc.items()},
                    },
                )
            )
    dff_table = pd.DataFrame([r for _, r in sorted(dff_rows, key=lambda x: x[0])])
    qc_table = pd.DataFrame([r for _, r in sorted(qc_rows, key=lambda x: x[0])])[QC_COLUMNS]
    logger.info(
        "ΔF/F of %d traces; median ν = %.2f %%·Hz^-½",
        len(dff_table),
        float(np.nanmedian(qc_table["noise_level_nu"])),
    )
    return dff_table, qc_table


def plot_recording_qc(qc: pd.DataFrame, dff: pd.DataFrame, params: dict) -> plt.Figure:
    """Histogram of the noise level ν and the ΔF/F of a few example traces.

    ``params``: ``n_examples`` (traces shown: the lowest, median and highest ν, then evenly
    spread), ``max_seconds`` (length shown, s).
    """
    n_ex = max(1, min(int(params.get("n_examples", 4)), len(dff)))
    order = np.argsort(qc["noise_level_nu"].to_numpy())
    picks = np.unique(order[np.linspace(0, len(order) - 1, n_ex).round().astype(int)])
    fig = plt.figure(figsize=(10, 2.0 + 1.3 * len(picks)))
    grid = fig.add_gridspec(len(picks), 2, width_ratios=[1, 3])
    ax = fig.add_subplot(grid[:, 0])
    nu = qc["noise_level_nu"].to_numpy(float)
    ax.hist(nu[np.isfinite(nu)], bins=min(30, max(5, len(nu) // 2)), color="0.4")
    ax.set_xlabel("noise level ν (%·Hz$^{-1/2}$)")
    ax.set_ylabel("traces")
    ax.set_title(f"{len(qc)} traces, median ν = {np.nanmedian(nu):.2f}")
    max_s = float(params.get("max_seconds", 60.0))
    for k, i in enumerate(picks):
        row = dff.iloc[i]
        y = np.asarray(row["dff"], float)
        t = np.arange(y.size) / row["frame_rate_hz"]
        keep = t <= max_s
        a = fig.add_subplot(grid[k, 1])
        a.plot(t[keep], y[keep], lw=0.7, color="k")
        a.set_ylabel("ΔF/F")
        a.set_title(f"{row['trace_id']}  (ν = {nu[i]:.2f})", fontsize=9, loc="left")
        if k == len(picks) - 1:
            a.set_xlabel("time (s)")
    fig.tight_layout()
    return fig
