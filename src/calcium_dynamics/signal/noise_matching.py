"""Noise matching (CASCADE): add shot-noise-like Gaussian noise until a trace reaches a target ν."""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize

from calcium_dynamics.signal.noise import noise_level_nu
from calcium_dynamics.signal.validation import as_trace, check_frame_rate

WHITE_NOISE_NU_FACTOR = math.sqrt(2.0) * 0.6744897501960817  # median |N(0, 2)|


def n_noise_replicas(nu_own: float, nu_target: float, max_replicas: int = 500) -> int:
    """Number of noisy replicas to draw from one trace: min(max, ⌈1.2 (ν_target / ν_own)²⌉).

    Returns 0 when the trace is already noisier than the target (it is excluded).
    """
    if not np.isfinite(nu_own) or nu_own <= 0:
        raise ValueError(f"own noise level must be a finite number > 0, got {nu_own}")
    if nu_target <= 0:
        raise ValueError(f"target noise level must be > 0, got {nu_target}")
    if nu_own > nu_target:
        return 0
    return int(min(max_replicas, math.ceil(1.2 * (nu_target / nu_own) ** 2)))


def match_noise_level(
    dff: np.ndarray,
    frame_rate_hz: float,
    nu_target: float,
    rng: np.random.Generator,
    *,
    xtol: float = 1e-4,
) -> np.ndarray:
    """One noisy replica of ``dff`` whose measured ν equals ``nu_target``.

    The added noise is Gaussian with a per-frame standard deviation proportional to
    √max(ΔF/F + 1, 0) relative to its median over the trace (shot-noise-like: brighter frames
    are noisier). One noise draw is made and its scale is found by root finding on the measured
    ν of the noised trace, so the target is hit to within ``xtol`` (relative), not only on average.

    Args:
        dff: ΔF/F, shape (n_frames,); NaNs stay NaN.
        frame_rate_hz: frame rate in Hz.
        nu_target: wanted ν in %·Hz^-½; must not be below the trace's own ν.
        rng: numpy random generator (the caller owns the seed).

    Returns:
        The noised trace, shape (n_frames,), float32.
    """
    rate = check_frame_rate(frame_rate_hz)
    x = as_trace(dff)
    nu_own = noise_level_nu(x, rate)
    if not np.isfinite(nu_own):
        raise ValueError("cannot noise-match a trace without two consecutive finite samples")
    if nu_own > nu_target * (1 + 1e-9):
        raise ValueError(
            f"trace noise level ν={nu_own:.3g} already exceeds the target {nu_target:.3g}"
        )
    shape = np.sqrt(np.clip(x + 1.0, 0.0, None))
    med = np.nanmedian(shape)
    shape = shape / med if med > 0 else np.ones_like(shape)
    noise = rng.standard_normal(x.size) * shape

    def gap(scale: float) -> float:
        return noise_level_nu(x + scale * noise, rate) - nu_target

    # White noise of s.d. s alone would give ν = 0.954·s/√f·100: a scale well past that brackets
    # the root because ν grows without bound in the scale.
    hi = 2.0 * nu_target * math.sqrt(rate) / (100.0 * WHITE_NOISE_NU_FACTOR) + 1e-12
    while gap(hi) < 0:
        hi *= 2.0
    if gap(0.0) >= 0:
        return x.astype(np.float32)
    scale = optimize.brentq(gap, 0.0, hi, xtol=xtol * hi, rtol=1e-10)
    return (x + scale * noise).astype(np.float32)
