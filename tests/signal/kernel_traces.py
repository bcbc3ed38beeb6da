"""ΔF/F with a known single-spike kernel, for tests of the kinetics estimates."""

from __future__ import annotations

import numpy as np


def kernel(t: np.ndarray, tau_on: float, tau_off: float) -> np.ndarray:
    """e^(−t/τ_off) − e^(−t/τ_on) for t ≥ 0, 0 before (not normalised)."""
    x = np.clip(t, 0.0, None)
    return np.exp(-x / tau_off) - np.exp(-x / tau_on)


def time_to_peak(tau_on: float, tau_off: float) -> float:
    return float(np.log(tau_off / tau_on) * tau_on * tau_off / (tau_off - tau_on))


def kernel_recording(
    tau_on, tau_off, rate, *, amplitude=0.2, noise_sd=0.01, gap_s=(2.5, 3.5), n_spikes=200, seed=0
):
    """Spikes at sub-frame times ``gap_s`` apart, ΔF/F = sum of unit-peak kernels × amplitude
    sampled at frames (0, 1/rate, …) plus white noise. Returns (dff, spike times in s)."""
    rng = np.random.default_rng(seed)
    spikes = np.cumsum(rng.uniform(*gap_s, n_spikes))
    t = np.arange(int((spikes[-1] + 3.0) * rate)) / rate
    scale = amplitude / kernel(time_to_peak(tau_on, tau_off), tau_on, tau_off)
    dff = scale * kernel(t[:, None] - spikes[None], tau_on, tau_off).sum(axis=1)
    return dff + rng.normal(0.0, noise_sd, t.size), spikes
