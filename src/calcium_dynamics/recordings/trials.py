"""Trials × time × neurons arrays of one recording, cut around a trials table's events."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)


def cut_trials(
    dff: pd.DataFrame,
    spikes: pd.DataFrame,
    trials: pd.DataFrame,
    params: dict,
    name: str = "recording",
) -> dict[str, np.ndarray]:
    """Trials × time × neurons arrays of one recording, ready for the latent-dynamics models.

    Each trial is the window [t − ``before_s``, t + ``after_s``) around its ``align`` time t
    (a column of the trials table, s in the recording's clock: NWB session time). With
    ``after_s: null`` the window ends after the shortest trial (``stop_time − start_time``).
    Frame i of a trace is at ``start_time_s + i / frame_rate_hz``. Trials that do not fit
    inside the recording are left out (their numbers are in ``dropped_trials``). Windows that
    overlap are refused (a frame in two trials would sit in training and test trials at once):
    shorten ``before_s`` / ``after_s`` or fix the table.

    Returns:
        ``dff`` and ``rate_hz`` (float32, (n_trials, n_bins, n_neurons); ΔF/F fraction and
        Hz), ``time_s`` (n_bins,: s from the align time), ``trial_index``, ``align_time_s``,
        ``start_time``, ``stop_time`` and every numeric trials column as ``trial_<name>``
        (n_trials,), ``trace_id`` (n_neurons,), ``frame_rate_hz`` and ``dropped_trials``.
    """
    align = str(params.get("align", "start_time"))
    for col in {"start_time", "stop_time", align}:
        if col not in trials.columns:
            raise ValueError(
                f"{name}: the trials table has no {col!r} column (columns: {list(trials.columns)})"
            )
    if list(dff["trace_id"]) != list(spikes["trace_id"]):
        raise ValueError(f"{name}: ΔF/F and spike tables list different traces")
    rates = dff["frame_rate_hz"].to_numpy(float)
    if not np.allclose(rates, rates[0]):
        raise ValueError(f"{name}: traces at different frame rates cannot be cut into trials")
    rate = float(rates[0])
    t0 = float(dff["start_time_s"].iloc[0]) if "start_time_s" in dff.columns else 0.0
    before = float(params.get("before_s", 0.0))
    after = params.get("after_s")
    if after is None:
        after = float((trials["stop_time"] - trials["start_time"]).min())
    n_bins = int(round((before + float(after)) * rate))
    if n_bins < 1:
        raise ValueError(f"{name}: the trial window holds no frame (before_s + after_s ≤ 0)")
    X = np.stack([np.asarray(d, np.float32) for d in dff["dff"]], axis=1)  # (T, N)
    R = np.stack([np.asarray(r, np.float32) for r in spikes["rate_hz"]], axis=1)
    first = np.round((trials[align].to_numpy(float) - before - t0) * rate).astype(int)
    ok = (first >= 0) & (first + n_bins <= X.shape[0])
    if not ok.any():
        raise ValueError(f"{name}: no trial window lies inside the recording")
    if not ok.all():
        logger.warning("%s: %d trial(s) outside the recording left out", name, int((~ok).sum()))
    _check_no_overlap(first, ok, n_bins, rate, name)
    idx = first[ok][:, None] + np.arange(n_bins)[None, :]
    out = {
        "dff": X[idx],
        "rate_hz": R[idx],
        "time_s": (np.arange(n_bins) / rate - before).astype(np.float64),
        "trial_index": np.flatnonzero(ok),
        "align_time_s": trials[align].to_numpy(float)[ok],
        "trace_id": np.array(dff["trace_id"].astype(str).tolist(), dtype=str),
        "frame_rate_hz": np.float64(rate),
        "dropped_trials": np.flatnonzero(~ok),
    }
    for col in trials.columns:
        values = trials[col]
        if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            key = col if col in ("start_time", "stop_time") else f"trial_{col}"
            out[key] = values.to_numpy()[ok]
    return out


def _check_no_overlap(first: np.ndarray, ok: np.ndarray, n_bins: int, rate: float, name: str):
    """Raise naming the first two trials (table rows) whose windows share a frame."""
    rows = np.flatnonzero(ok)
    order = rows[np.argsort(first[rows], kind="stable")]
    starts = first[order]
    clash = np.flatnonzero(starts[1:] < starts[:-1] + n_bins)
    if clash.size:
        a, b = order[clash[0]], order[clash[0] + 1]
        raise ValueError(
            f"{name}: the windows of trials {a} and {b} (table rows) overlap "
            f"({(starts[clash[0] + 1] - starts[clash[0]]) / rate:g} s apart, windows "
            f"{n_bins / rate:g} s long); shorten recordings.trials.before_s / after_s or fix "
            "the trials table"
        )
