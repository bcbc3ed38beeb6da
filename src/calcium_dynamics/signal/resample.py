"""Resampling of ΔF/F traces to a target frame rate and re-binning of spike times into frames."""

from __future__ import annotations

import numpy as np
from scipy import signal as sps

from calcium_dynamics.signal.validation import as_trace, check_frame_rate


def resample_trace(
    dff: np.ndarray,
    frame_rate_hz: float,
    target_rate_hz: float,
    *,
    skip_tolerance: float = 0.05,
) -> tuple[np.ndarray, float]:
    """Fourier-resample one ΔF/F trace to ``target_rate_hz``.

    The straight line between the first and last sample is removed before the FFT and added
    back afterwards, so the periodic extension the FFT assumes has no jump (no ringing at the
    ends). NaN samples are bridged by linear interpolation for the FFT and the output samples
    that fall inside a NaN gap of the input are set to NaN again (masked, never zero-filled).

    Args:
        dff: ΔF/F, shape (n_frames,).
        frame_rate_hz: rate of ``dff`` in Hz.
        target_rate_hz: wanted rate in Hz.
        skip_tolerance: when the two rates differ by less than this fraction, the trace is
            returned unchanged (with its own rate).

    Returns:
        ``(trace, rate_hz)``: the resampled trace, shape (round(n·target/rate),), float32,
        and its actual frame rate: ``frame_rate_hz · n_out / n_in`` (within half a sample over
        the trace of ``target_rate_hz``), or ``frame_rate_hz`` when skipped.
    """
    rate = check_frame_rate(frame_rate_hz, "the input trace")
    target = check_frame_rate(target_rate_hz, "target_rate_hz")
    x = as_trace(dff)
    if abs(target / rate - 1.0) < skip_tolerance or x.size < 2:
        return x.astype(np.float32), rate
    n_out = max(round(x.size * target / rate), 1)
    nan = np.isnan(x)
    if nan.all():
        return np.full(n_out, np.nan, dtype=np.float32), rate * n_out / x.size
    idx = np.arange(x.size)
    filled = np.interp(idx, idx[~nan], x[~nan]) if nan.any() else x
    line = np.linspace(filled[0], filled[-1], x.size)
    out = sps.resample(filled - line, n_out)
    t_out = np.arange(n_out) * (x.size / n_out)  # output sample positions in input-frame units
    out += np.interp(t_out, idx, line)
    if nan.any():
        nearest = np.clip(np.rint(t_out).astype(int), 0, x.size - 1)
        out[nan[nearest]] = np.nan
    return out.astype(np.float32), rate * n_out / x.size


def rebin_spike_times(
    spike_times_s: np.ndarray, n_frames: int, frame_rate_hz: float, t0_s: float = 0.0
) -> np.ndarray:
    """Count spikes per frame.

    Frame k is centred on ``t0_s + k / frame_rate_hz`` and spans ± half a frame, so every spike
    inside ``[t0 − ½/f, t0 + (n − ½)/f)`` is counted exactly once; spikes outside are dropped.

    Returns:
        Spike counts per frame, shape (n_frames,), float32.
    """
    rate = check_frame_rate(frame_rate_hz)
    if n_frames < 0:
        raise ValueError(f"n_frames must be >= 0, got {n_frames}")
    spikes = np.asarray(spike_times_s, dtype=np.float64).ravel()
    edges = t0_s + (np.arange(n_frames + 1) - 0.5) / rate
    counts, _ = np.histogram(spikes, bins=edges)
    return counts.astype(np.float32)
