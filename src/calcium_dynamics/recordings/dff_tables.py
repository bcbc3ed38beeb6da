"""ΔF/F and QC tables of one recording (one row per trace), from a reader's raw table.

A recording table comes from ``calcium_dynamics.io.recordings`` (Suite2p, NWB, arrays): one
row per trace with ``trace_id, plane, cell, frame_rate_hz`` (Hz) and either ``F`` / ``Fneu``
(raw fluorescence, arrays over frames) or ``dff`` (ΔF/F as a fraction). No Kedro here.
"""

from __future__ import annotations

import logging

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

CARRIED_COLUMNS = ["source", "series", "start_time_s"]


def is_array(value) -> bool:
    return value is not None and not (np.isscalar(value) and pd.isna(value))


def _group_dff(rows: pd.DataFrame, params: dict) -> tuple[np.ndarray, np.ndarray | None]:
    """ΔF/F and F0 of rows sharing a frame rate and length, shape (n_rows, n_frames)."""
    names = [f"trace {t!r}" for t in rows["trace_id"]]
    if is_array(rows["dff"].iloc[0]):  # the file already holds ΔF/F
        return np.stack([np.asarray(d, np.float64) for d in rows["dff"]]), None
    f = np.stack([np.asarray(x, np.float64) for x in rows["F"]])
    has_neu = [is_array(x) for x in rows["Fneu"]]
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
    """ΔF/F of every trace and its QC numbers, computed in batches of neurons.

    Args:
        recording: a table from one of ``calcium_dynamics.io.recordings``' readers
            (``trace_id, plane, cell, frame_rate_hz, F, Fneu, dff``; ``source``,
            ``start_time_s`` and ``series`` are carried over when present).
        params: ``neuropil_coefficient`` (c in F − c·F_neu), ``subtract_neuropil`` (bool),
            ``baseline_window_s`` (s), ``baseline_percentile`` (0–100), ``baseline_smooth_s``
            (s), ``max_nan_fraction``, ``batch_size`` (neurons per batch: bounds the memory of
            the float64 work arrays; the result does not depend on it).

    Returns:
        ``(dff_table, qc_table)``: ``trace_id, plane, cell, frame_rate_hz, dff`` (ΔF/F as a
        fraction, a float32 array per trace: the input of spike inference) plus the carried
        columns, and one QC row per trace (columns :data:`QC_COLUMNS`; ν in %·Hz^-½,
        baseline in the recording's units).
    """
    needed = ["trace_id", "frame_rate_hz"]
    missing = [c for c in needed if c not in recording.columns]
    if missing:
        raise ValueError(f"recording table lacks column(s) {missing}")
    table = recording.reset_index(drop=True).copy()
    for col in ("plane", "cell", "F", "Fneu", "dff"):
        if col not in table.columns:
            table[col] = None if col in ("F", "Fneu", "dff") else 0
    carried = [c for c in CARRIED_COLUMNS if c in table.columns]
    source = [d if is_array(d) else f for d, f in zip(table["dff"], table["F"])]
    table["_n"] = [len(s) for s in source]
    table["_has_dff"] = [is_array(d) for d in table["dff"]]
    check_recording_length(table, params)
    batch = max(1, int(params.get("batch_size", 200)))
    dff_rows, qc_rows = [], []
    for _, group in table.groupby(["plane", "frame_rate_hz", "_n", "_has_dff"], sort=False):
        for b in range(0, len(group), batch):
            rows = group.iloc[b : b + batch]
            dff, f0 = _group_dff(rows, params)
            rate = float(rows["frame_rate_hz"].iloc[0])
            qc = dff_quality(dff, f0, rate)
            for k, (idx, row) in enumerate(rows.iterrows()):
                ids = {
                    "trace_id": row.trace_id,
                    "plane": int(row.plane),
                    "cell": int(row.cell),
                    "frame_rate_hz": rate,
                }
                dff_rows.append(
                    (
                        idx,
                        {
                            **ids,
                            **{c: row[c] for c in carried},
                            "dff": dff[k].astype(np.float32),
                        },
                    )
                )
                qc_rows.append(
                    (
                        idx,
                        {
                            **ids,
                            "n_frames": int(row._n),
                            **{key: float(v[k]) for key, v in qc.items()},
                        },
                    )
                )
            del dff, f0
    dff_table = pd.DataFrame([r for _, r in sorted(dff_rows, key=lambda x: x[0])])
    qc_table = pd.DataFrame([r for _, r in sorted(qc_rows, key=lambda x: x[0])])[QC_COLUMNS]
    logger.info(
        "ΔF/F of %d traces; median ν = %.2f %%·Hz^-½",
        len(dff_table),
        float(np.nanmedian(qc_table["noise_level_nu"])),
    )
    return dff_table, qc_table


def check_recording_length(table: pd.DataFrame, params: dict) -> None:
    """Refuse frame rates outside ``min_frame_rate_hz``–``max_frame_rate_hz`` and recordings
    shorter than ``min_frames``; warn when shorter than the baseline window. Errors name the
    recording's source (its path) and the parameter to change."""
    where = str(table["source"].iloc[0]) if "source" in table.columns and len(table) else "?"
    lo = float(params.get("min_frame_rate_hz", 0.5))
    hi = float(params.get("max_frame_rate_hz", 1000.0))
    for rate in table["frame_rate_hz"].unique():
        if not lo <= float(rate) <= hi:
            raise ValueError(
                f"recording {where}: frame rate {float(rate):g} Hz is outside the accepted "
                f"{lo:g}–{hi:g} Hz (recordings.dff.min_frame_rate_hz / max_frame_rate_hz); a "
                "frame period in s given as a rate?"
            )
    min_frames = int(params.get("min_frames", 10))
    short = table[table["_n"] < min_frames]
    if len(short):
        raise ValueError(
            f"recording {where}: {len(short)} trace(s) have fewer than {min_frames} frames "
            f"(e.g. {short['trace_id'].iloc[0]}: {int(short['_n'].iloc[0])}); too short for a "
            "baseline and for spike inference (recordings.dff.min_frames)"
        )
    seconds = table["_n"] / table["frame_rate_hz"].astype(float)
    window = float(params.get("baseline_window_s", 30.0))
    if (seconds < window).any():
        logger.warning(
            "recording %s: %.1f s long, shorter than the %.0f s baseline window: the baseline "
            "is a percentile of the whole recording",
            where,
            float(seconds.min()),
            window,
        )


def recording_dff_table(recording: pd.DataFrame, params: dict) -> pd.DataFrame:
    """ΔF/F table of one recording with its QC numbers as extra columns (one row per trace)."""
    dff, qc = compute_recording_dff(recording, params)
    extra = [c for c in QC_COLUMNS if c not in dff.columns]
    return pd.concat([dff, qc[extra]], axis=1)
