"""Argument checks shared by the numerics: clear errors that name the offending parameter."""

from __future__ import annotations

import math

import numpy as np


def check_frame_rate(frame_rate_hz: float | None, what: str = "trace") -> float:
    """Return ``frame_rate_hz`` as a float, or raise if it is missing, non-finite or ≤ 0."""
    if frame_rate_hz is None:
        raise ValueError(
            f"frame_rate_hz is missing for {what}: every trace needs its frame rate in Hz"
        )
    try:
        rate = float(frame_rate_hz)
    except (TypeError, ValueError):
        raise ValueError(f"frame_rate_hz={frame_rate_hz!r} for {what} is not a number") from None
    if not math.isfinite(rate) or rate <= 0:
        raise ValueError(f"frame_rate_hz={frame_rate_hz!r} for {what} must be a finite number > 0")
    return rate


def as_trace(values, name: str = "dff") -> np.ndarray:
    """Return a 1-D float64 view of ``values`` or raise naming ``name``."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (n_frames,), got shape {arr.shape}")
    return arr
