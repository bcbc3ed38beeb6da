"""Calcium fluorescence from spike counts: GCaMP6f AR(2) model (RADICaL) and AR(1) model.

All functions work on arrays shaped (trials, bins, neurons) at once (time is axis 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal, stats


def ar2_coefficients(tau_on_s: float, tau_off_s: float, bin_s: float) -> tuple[float, float]:
    """AR(2) coefficients (γ₁, γ₂) of a rise/decay calcium kernel.

    γ₁ = d + r and γ₂ = −d·r with d = exp(−Δ/τ_off), r = exp(−Δ/τ_on).
    """
    if min(tau_on_s, tau_off_s, bin_s) <= 0:
        raise ValueError("tau_on_s, tau_off_s and bin_s must be > 0")
    d, r = np.exp(-bin_s / tau_off_s), np.exp(-bin_s / tau_on_s)
    return float(d + r), float(-d * r)


def ar_calcium(drive: np.ndarray, ar_coefs: np.ndarray, *, unit_peak: bool = False) -> np.ndarray:
    """Run c(t) = Σ_i a_i c(t−i) + drive(t) along axis 1 (zero initial state).

    Args:
        drive: input per bin (e.g. spike counts), shape (trials, bins, neurons).
        ar_coefs: AR coefficients, shape (p,) shared by all neurons or (p, neurons).
        unit_peak: divide by the peak of the single-spike response (shared coefficients only),
            so one spike rises to exactly 1.

    Returns:
        Calcium, same shape as ``drive``, float64.
    """
    x = np.asarray(drive, dtype=np.float64)
    a = np.asarray(ar_coefs, dtype=np.float64)
    if x.ndim != 3:
        raise ValueError(f"drive must have shape (trials, bins, neurons); got {x.shape}")
    if a.ndim == 1:
        out = signal.lfilter([1.0], np.concatenate([[1.0], -a]), x, axis=1)
        if unit_peak:
            impulse = np.zeros(max(2000, x.shape[1]))
            impulse[0] = 1.0
            out /= signal.lfilter([1.0], np.concatenate([[1.0], -a]), impulse).max()
        return out
    if a.ndim != 2 or a.shape[1] != x.shape[2]:
        raise ValueError(f"ar_coefs must have shape (p,) or (p, {x.shape[2]}); got {a.shape}")
    if unit_peak:
        raise ValueError("unit_peak needs AR coefficients shared by all neurons")
    out = np.zeros_like(x)
    p = a.shape[0]
    for t in range(x.shape[1]):  # loop over time, vectorised over trials and neurons
        acc = x[:, t].copy()
        for lag in range(1, min(p, t) + 1):
            acc += a[lag - 1] * out[:, t - lag]
        out[:, t] = acc
    return out


def hill_saturation(calcium: np.ndarray, half_saturation: float, hill: float) -> np.ndarray:
    """Saturating indicator response f(c) = (1 + K^n) c^n / (c^n + K^n), with f(1) = 1.

    ``half_saturation`` K is in units of the single-spike calcium peak; ``hill`` is n.
    """
    if half_saturation <= 0 or hill <= 0:
        raise ValueError("half_saturation and hill must be > 0")
    c = np.clip(calcium, 0.0, None) ** hill
    k = half_saturation**hill
    return (1.0 + k) * c / (c + k)


@dataclass(frozen=True)
class GCaMPTraces:
    """Simulated GCaMP6f fluorescence, (trials, bins, neurons) at the spike bin rate.

    Attributes:
        calcium: noiseless calcium after the AR(2) kernel (single-spike peak 1).
        fluorescence: min–max normalised, saturated, noisy fluorescence (ΔF/F-like units).
        noise_sd: per-neuron Gaussian noise s.d. sn, shape (neurons,).
        ar_coefs: (γ₁, γ₂).
    """

    calcium: np.ndarray
    fluorescence: np.ndarray
    noise_sd: np.ndarray
    ar_coefs: tuple[float, float]


def gcamp6f_fluorescence(
    spikes: np.ndarray,
    *,
    bin_s: float,
    tau_on_s: float = 0.02,
    tau_off_s: float = 0.4,
    amplitude_sd: float = 0.1,
    half_saturation: float = 5.0,
    hill: float = 1.0,
    noise_sd_mean: float = 0.12,
    noise_sd_sd: float = 0.02,
    noise_sd_min: float = 0.06,
    seed: int = 0,
) -> GCaMPTraces:
    """Spike counts → GCaMP6f-like fluorescence (RADICaL's simulator, Zhu et al. 2022).

    Steps: spike amplitudes jittered (each spike 1 + N(0, amplitude_sd)); AR(2) calcium with
    τ_on / τ_off, one spike peaking at 1; Hill saturation; per-neuron min–max to [0, 1];
    Gaussian noise of s.d. sn plus signal-dependent noise of variance sn²·f (sn per neuron from
    N(noise_sd_mean, noise_sd_sd) truncated below noise_sd_min).

    Args:
        spikes: spike counts, shape (trials, bins, neurons).
        bin_s: bin width in seconds.
    """
    s = np.asarray(spikes, dtype=np.float64)
    if s.ndim != 3:
        raise ValueError(f"spikes must have shape (trials, bins, neurons); got {s.shape}")
    if np.any(s < 0):
        raise ValueError("spike counts must be >= 0")
    rng = np.random.default_rng(seed)
    jittered = s + amplitude_sd * np.sqrt(s) * rng.standard_normal(s.shape)
    jittered = np.clip(jittered, 0.0, None)
    coefs = ar2_coefficients(tau_on_s, tau_off_s, bin_s)
    calcium = ar_calcium(jittered, np.array(coefs), unit_peak=True)
    f = hill_saturation(calcium, half_saturation, hill)
    lo = f.min(axis=(0, 1), keepdims=True)
    span = f.max(axis=(0, 1), keepdims=True) - lo
    f = (f - lo) / np.where(span > 0, span, 1.0)
    a = (noise_sd_min - noise_sd_mean) / noise_sd_sd
    sn = stats.truncnorm.rvs(
        a, np.inf, loc=noise_sd_mean, scale=noise_sd_sd, size=s.shape[2], random_state=rng
    )
    noise = rng.standard_normal(s.shape) * np.sqrt(sn**2 + sn**2 * f)
    return GCaMPTraces(calcium=calcium, fluorescence=f + noise, noise_sd=sn, ar_coefs=coefs)


@dataclass(frozen=True)
class AR1Traces:
    """AR(1) calcium of Keeley et al. (calcium-LFADS / HMM synthetic data).

    Attributes:
        calcium: AR(1) calcium with innovation noise, (trials, bins, neurons).
        dff: calcium plus measurement noise (the observed ΔF/F), same shape.
        alpha: AR coefficient per neuron, (neurons,).
        jump: ΔF/F jump per spike per neuron, (neurons,).
    """

    calcium: np.ndarray
    dff: np.ndarray
    alpha: np.ndarray
    jump: np.ndarray


def ar1_calcium_traces(
    spikes: np.ndarray,
    *,
    alpha_range: tuple[float, float] = (0.8, 0.95),
    jump_range: tuple[float, float] = (0.8, 1.2),
    ar_noise_var: float = 1e-3,
    measurement_noise_sd: float = 0.2,
    seed: int = 0,
) -> AR1Traces:
    """y_t = α y_{t−1} + c s_t + ε_t (ε ~ N(0, ar_noise_var)), plus N(0, sd²) measurement noise.

    α ~ U(alpha_range) and c ~ U(jump_range) per neuron (Keeley et al.).
    """
    s = np.asarray(spikes, dtype=np.float64)
    if s.ndim != 3:
        raise ValueError(f"spikes must have shape (trials, bins, neurons); got {s.shape}")
    rng = np.random.default_rng(seed)
    n = s.shape[2]
    alpha = rng.uniform(*alpha_range, size=n)
    jump = rng.uniform(*jump_range, size=n)
    drive = jump * s + np.sqrt(ar_noise_var) * rng.standard_normal(s.shape)
    calcium = ar_calcium(drive, alpha[None, :])
    dff = calcium + measurement_noise_sd * rng.standard_normal(s.shape)
    return AR1Traces(calcium=calcium, dff=dff, alpha=alpha, jump=jump)
