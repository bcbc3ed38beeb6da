"""Indicator kinetics from simultaneous spikes and ΔF/F: the isolated-spike response.

The response of a trace to one action potential is estimated by averaging the ΔF/F around
spikes that have no other spike within a quiet interval before and after them, each frame
placed at its exact lag from the spike (spike times are finer than frames, so frames from
many spikes fill the sub-frame lags), baseline-subtracted and averaged in lag bins. A
rise-and-decay kernel

    k(t) = peak · (e^(−(t−t₀)/τ_off) − e^(−(t−t₀)/τ_on)) / max_t(…),  t ≥ t₀ (0 before)

is fitted to the average by least squares (scipy). τ_on / τ_off give the AR(2) coefficients of
the kernel at any frame rate (:func:`calcium_dynamics.simulate.calcium.ar2_coefficients`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import curve_fit

from calcium_dynamics.signal.validation import as_trace, check_frame_rate

#: upper bound of τ_on / τ_off in the fit: the kernel tends to the alpha function as it → 1
MAX_TAU_RATIO = 0.999
#: fewest finite lag bins a kernel is fitted to (four parameters)
MIN_FIT_BINS = 8


@dataclass(frozen=True)
class SpikeKernel:
    """Fitted single-spike response; times in seconds, ``peak`` in ΔF/F (fraction).

    ``onset_s`` is the kernel's start relative to the spike, ``time_to_peak_s`` the time from
    the spike to the kernel's peak (onset included), ``rmse`` the fit's residual (ΔF/F).
    """

    peak: float
    onset_s: float
    tau_on_s: float
    tau_off_s: float
    time_to_peak_s: float
    rmse: float

    def response(self, lags_s: np.ndarray) -> np.ndarray:
        """The fitted kernel at ``lags_s`` (s), ΔF/F, same shape as ``lags_s``."""
        ratio = self.tau_on_s / self.tau_off_s
        return self.peak * _unit_kernel(
            np.asarray(lags_s, float), self.onset_s, self.tau_off_s, ratio
        )


def isolated_spike_average(
    dff: np.ndarray,
    frame_rate_hz: float,
    spike_times_s: np.ndarray,
    *,
    t0_s: float = 0.0,
    lags_s: np.ndarray | None = None,
    quiet_before_s: float = 3.0,
    quiet_after_s: float = 2.0,
) -> tuple[np.ndarray, int]:
    """Mean baseline-subtracted ΔF/F around isolated spikes of one recording.

    Args:
        dff: ΔF/F of one recording, shape (n_frames,); frame ``i`` is at ``t0_s + i / rate``.
        frame_rate_hz: frame rate in Hz.
        spike_times_s: spike times in seconds on the same clock, shape (n_spikes,).
        lags_s: lags at which the response is sampled, shape (n_lags,), default −0.3 s to
            2 s in 10 ms steps, evenly spaced; must include negative lags (the baseline).
        quiet_before_s / quiet_after_s: a spike counts as isolated when no other spike lies
            within this many seconds before / after it.

    Returns:
        (response, n_spikes): the mean response in lag bins centred on ``lags_s`` (shape
        (n_lags,); each spike's mean over negative lags subtracted; NaN in bins no frame
        fell into, all-NaN when no spike qualifies) and the number of isolated spikes
        averaged. Spikes whose window leaves the recording or touches a NaN frame are
        skipped.
    """
    rate = check_frame_rate(frame_rate_hz)
    y = as_trace(dff)
    spikes = np.sort(as_trace(spike_times_s, "spike_times_s"))
    lags = default_lags() if lags_s is None else as_trace(lags_s, "lags_s")
    if not (lags < 0).any() or not (lags > 0).any():
        raise ValueError("lags_s must include negative (baseline) and positive lags")
    step = float(np.median(np.diff(lags)))
    if not step > 0 or not np.allclose(np.diff(lags), step, rtol=1e-6, atol=1e-9):
        raise ValueError("lags_s must be evenly spaced and increasing")
    if min(quiet_before_s, quiet_after_s) < 0:
        raise ValueError("quiet_before_s and quiet_after_s must be >= 0")
    t = t0_s + np.arange(y.size) / rate
    gaps = np.diff(spikes)
    before = np.concatenate([[np.inf], gaps])
    after = np.concatenate([gaps, [np.inf]])
    isolated = (
        (before >= quiet_before_s)
        & (after >= quiet_after_s)
        & (spikes + lags[0] >= t[0])
        & (spikes + lags[-1] <= t[-1])
    )
    sums = np.zeros(lags.size)
    counts = np.zeros(lags.size, dtype=np.int64)
    n_used = 0
    for spike in spikes[isolated]:
        # frame times are sorted: the window is one slice, found by bisection
        lo = np.searchsorted(t, spike + lags[0] - step / 2)
        hi = np.searchsorted(t, spike + lags[-1] + step / 2, side="right")
        offsets, values = t[lo:hi] - spike, y[lo:hi]
        if not np.isfinite(values).all() or not (offsets < 0).any():
            continue
        values = values - values[offsets < 0].mean()
        index = np.clip(np.rint((offsets - lags[0]) / step).astype(int), 0, lags.size - 1)
        np.add.at(sums, index, values)
        np.add.at(counts, index, 1)
        n_used += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        response = np.where(counts > 0, sums / counts, np.nan)
    return response, n_used


def default_lags() -> np.ndarray:
    """−0.3 s to 2 s in 10 ms steps, shape (231,)."""
    return np.round(np.arange(-30, 201) * 0.01, 10)


def _rise_time(tau_off: float, ratio: float) -> float:
    """Time (s) from the kernel's onset to its peak, τ_on = ratio · τ_off (ratio < 1)."""
    tau_on = ratio * tau_off
    return float(np.log(1.0 / ratio) * tau_on * tau_off / (tau_off - tau_on))


def _unit_kernel(lags: np.ndarray, onset: float, tau_off: float, ratio: float) -> np.ndarray:
    """Rise/decay kernel with τ_on = ratio · τ_off, scaled to a peak of 1."""
    tau_on = ratio * tau_off
    x = np.clip(lags - onset, 0.0, None)
    t_peak = _rise_time(tau_off, ratio)
    top = np.exp(-t_peak / tau_off) - np.exp(-t_peak / tau_on)
    return (np.exp(-x / tau_off) - np.exp(-x / tau_on)) / top


def fit_spike_kernel(lags_s: np.ndarray, response: np.ndarray) -> SpikeKernel:
    """Least-squares fit of the rise/decay kernel to an isolated-spike response.

    Args:
        lags_s: lags in seconds, shape (n_lags,).
        response: mean ΔF/F at those lags, shape (n_lags,), baseline ≈ 0; NaN bins (no
            frame fell into them) are left out of the fit.

    Raises:
        ValueError: on shape mismatch, fewer than 8 finite bins, or a response without a
            positive peak.
    """
    lags = as_trace(lags_s, "lags_s")
    y = as_trace(response, "response")
    if lags.shape != y.shape:
        raise ValueError(f"lags_s {lags.shape} and response {y.shape} differ in shape")
    finite = np.isfinite(y)
    if finite.sum() < MIN_FIT_BINS:
        raise ValueError(
            f"response has {int(finite.sum())} finite bins (< {MIN_FIT_BINS}): "
            "too few isolated spikes were averaged"
        )
    lags, y = lags[finite], y[finite]
    if not y.max() > 0:
        raise ValueError("response has no positive peak: nothing to fit")
    span = float(lags[-1] - lags[0])

    def model(x, peak, onset, tau_off, ratio):
        return peak * _unit_kernel(x, onset, tau_off, ratio)

    p0 = [float(y.max()), 0.0, 0.3 * span, 0.1]
    lower = [0.0, float(lags[0]) / 2, 0.005, 1e-3]
    upper = [10.0 * float(y.max()), span / 4, 2.0 * span, MAX_TAU_RATIO]
    params, _ = curve_fit(model, lags, y, p0=p0, bounds=(lower, upper), maxfev=20000)
    peak, onset, tau_off, ratio = (float(v) for v in params)
    rmse = float(np.sqrt(np.mean((model(lags, *params) - y) ** 2)))
    return SpikeKernel(
        peak=peak,
        onset_s=onset,
        tau_on_s=ratio * tau_off,
        tau_off_s=tau_off,
        time_to_peak_s=onset + _rise_time(tau_off, ratio),
        rmse=rmse,
    )
