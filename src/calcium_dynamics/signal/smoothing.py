"""Spike-train smoothing into target spike rates (spikes per frame)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage, stats

from calcium_dynamics.signal.validation import as_trace, check_frame_rate

_TRUNCATE_SD = 4.0


def gaussian_kernel(sigma_frames: float) -> np.ndarray:
    """Normalized Gaussian kernel (sums to 1), odd length, truncated at ±4σ.

    A σ of zero (or below a hundredth of a frame) gives the identity kernel ``[1.0]``.
    """
    if sigma_frames < 0:
        raise ValueError(f"sigma must be >= 0, got {sigma_frames} frames")
    if sigma_frames < 1e-2:
        return np.ones(1)
    half = int(np.ceil(_TRUNCATE_SD * sigma_frames))
    t = np.arange(-half, half + 1)
    k = np.exp(-0.5 * (t / sigma_frames) ** 2)
    return k / k.sum()


def causal_kernel(sigma_frames: float) -> np.ndarray:
    """Causal smoothing kernel: an inverse-Gaussian density with mean 2σ and s.d. σ.

    Index 0 is lag 0; the kernel sums to 1 and is zero for negative lags, so a spike only raises
    the rate at and after its own frame.
    """
    if sigma_frames < 1e-2:
        return np.ones(1)
    mean = 2.0 * sigma_frames
    shape = mean**3 / sigma_frames**2  # λ of IG(mean, λ): var = mean³ / λ = σ²
    lags = np.arange(0, int(np.ceil(mean + 6 * sigma_frames)) + 1)
    dist = stats.invgauss(mu=mean / shape, scale=shape)
    k = np.diff(dist.cdf(np.concatenate([[0.0], lags + 0.5])))  # mass of each frame
    return k / k.sum()


def smooth_spike_counts(
    counts: np.ndarray, frame_rate_hz: float, sigma_s: float, *, causal: bool = False
) -> np.ndarray:
    """Convolve spike counts per frame with a normalized kernel of s.d. ``sigma_s`` seconds.

    The ends are handled by reflection, so the integral (total number of spikes) is preserved
    exactly as long as the kernel is shorter than the trace.

    Args:
        counts: spike counts per frame, shape (n_frames,).
        frame_rate_hz: frame rate in Hz.
        sigma_s: kernel standard deviation in seconds.
        causal: use the causal inverse-Gaussian kernel instead of the symmetric Gaussian.

    Returns:
        Spike rate in spikes per frame, shape (n_frames,), float32 (× frame rate = Hz).
    """
    rate = check_frame_rate(frame_rate_hz)
    x = as_trace(counts, "counts")
    sigma_frames = float(sigma_s) * rate
    kernel = causal_kernel(sigma_frames) if causal else gaussian_kernel(sigma_frames)
    if x.size == 0 or kernel.size == 1:
        return x.astype(np.float32)
    if kernel.size > x.size:
        raise ValueError(
            f"smoothing kernel ({kernel.size} frames for sigma_s={sigma_s}) is longer than the "
            f"trace ({x.size} frames)"
        )
    if not causal:
        return ndimage.convolve1d(x, kernel, mode="reflect").astype(np.float32)
    full = np.convolve(x, kernel)  # full[i] = Σ_lag kernel[lag] · x[i − lag]
    out = full[: x.size].copy()
    out[::-1][: full.size - x.size] += full[x.size :]  # fold the tail past the end back in
    return out.astype(np.float32)
