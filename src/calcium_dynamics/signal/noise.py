"""Standardized noise level ν of ΔF/F traces (CASCADE, Rupprecht et al. 2021, Eq. 1).

ν = median_t |ΔF/F(t+1) − ΔF/F(t)| / √f_r × 100, in %·Hz^-½ with ΔF/F as a fraction.
For white Gaussian noise of standard deviation s, ν = 0.954 · s / √f_r · 100
(the median of |N(0, 2s²)| is √2 · 0.6745 · s).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from calcium_dynamics.signal.validation import check_frame_rate


def noise_level_nu(dff: np.ndarray, frame_rate_hz: float) -> np.ndarray | float:
    """Standardized noise level ν (%·Hz^-½) of each trace.

    Args:
        dff: ΔF/F as a fraction, shape (n_frames,) or (n_traces, n_frames). NaNs are ignored
            (every difference that touches a NaN is dropped).
        frame_rate_hz: sampling rate of the traces in Hz.

    Returns:
        A float for a 1-D input, an array of shape (n_traces,) for a 2-D input. NaN where a
        trace has no two consecutive finite samples.
    """
    rate = check_frame_rate(frame_rate_hz)
    arr = np.asarray(dff, dtype=np.float64)
    if arr.ndim not in (1, 2):
        raise ValueError(f"dff must be 1-D or 2-D, got shape {arr.shape}")
    diffs = np.abs(np.diff(arr, axis=-1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows give NaN, by design
        med = np.nanmedian(diffs, axis=-1) if diffs.shape[-1] else np.full(arr.shape[:-1], np.nan)
    nu = med / np.sqrt(rate) * 100.0
    return float(nu) if arr.ndim == 1 else nu


def pooled_noise_level_nu(traces: Sequence[np.ndarray], frame_rates_hz: Sequence[float]) -> float:
    """ν of one neuron recorded in several pieces (recordings) at possibly different rates.

    The absolute frame-to-frame differences of every recording, each divided by the √ of its
    own frame rate, are pooled before the median is taken, so a neuron gets one ν however its
    recording was split. Returns NaN when no recording has two consecutive finite samples.
    """
    if len(traces) != len(frame_rates_hz):
        raise ValueError(f"{len(traces)} traces but {len(frame_rates_hz)} frame rates")
    pooled = []
    for trace, rate in zip(traces, frame_rates_hz):
        rate = check_frame_rate(rate)
        d = np.abs(np.diff(np.asarray(trace, dtype=np.float64))) / np.sqrt(rate)
        pooled.append(d[np.isfinite(d)])
    values = np.concatenate(pooled) if pooled else np.empty(0)
    if values.size == 0:
        return float("nan")
    return float(np.median(values) * 100.0)
