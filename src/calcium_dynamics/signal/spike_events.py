"""Discrete spike events from inferred spike rates.

Both methods take a rate in spikes per frame and the Gaussian kernel the model was trained
with (its single-spike template), and return spike times in seconds (frame centres; frame 0
is at ``t0_s``).
"""

from __future__ import annotations

import numpy as np

from calcium_dynamics.signal.smoothing import gaussian_kernel
from calcium_dynamics.signal.validation import as_trace, check_frame_rate


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


#: mean spikes per frame above which event inference refuses a rate (e.g. 10 per frame at
#: 30 Hz is 300 Hz sustained over the whole trace: an outlier, not a neuron)
MAX_SPIKES_PER_FRAME = 10.0


def _check_total(rate: np.ndarray, max_per_frame: float, fr: float) -> None:
    total = float(np.clip(rate, 0, None).sum())
    if total > max_per_frame * max(rate.size, 1):
        raise ValueError(
            f"rate implies {total:.3g} spikes in {rate.size} frames (> {max_per_frame:g} per "
            f"frame, {max_per_frame * fr:.3g} Hz sustained): implausible; events not inferred"
        )


def greedy_spike_events(
    rate: np.ndarray,
    frame_rate_hz: float,
    sigma_s: float,
    *,
    epsilon: float | None = None,
    t0_s: float = 0.0,
    max_spikes_per_frame: float = MAX_SPIKES_PER_FRAME,
) -> np.ndarray:
    """ENS²'s greedy method: spikes whose smoothed train best matches the rate (least squares).

    The rate is cut into fragments where it exceeds ``epsilon`` (default 0.02 / σ in frames).
    In each fragment, spikes are added one at a time at the frame where the kernel-convolved
    spike train lowers the squared error to the rate the most; a fragment is done when no
    frame lowers it. The gain of a spike at frame j is 2·(r ⋆ k)[j] − Σ k² (over the part of
    the kernel inside the fragment), with r the current residual, so each step is one
    correlation.

    Args:
        rate: spikes per frame, shape (n_frames,); NaN frames are treated as 0.
        frame_rate_hz: frame rate in Hz.
        sigma_s: s.d. of the Gaussian kernel the rates were smoothed with (s).
        epsilon: fragment threshold in spikes per frame.
        t0_s: time of frame 0 in seconds.
        max_spikes_per_frame: a rate whose mean over the trace exceeds this is refused
            (ValueError): it bounds the work on any input.

    Returns:
        Spike times in seconds, sorted (a frame can hold several spikes).
    """
    fr = check_frame_rate(frame_rate_hz)
    r_all = np.nan_to_num(as_trace(rate, "rate"), nan=0.0)
    _check_total(r_all, max_spikes_per_frame, fr)
    sigma_frames = sigma_s * fr
    kernel = gaussian_kernel(sigma_frames)
    energy_k = kernel**2
    eps = 0.02 / max(sigma_frames, 1e-6) if epsilon is None else epsilon
    frames: list[int] = []
    for start, stop in _runs(r_all > eps):
        residual = r_all[start:stop].copy()
        n = residual.size
        self_energy = (
            np.correlate(np.ones(n), energy_k, mode="same")
            if n >= kernel.size
            else (
                np.convolve(np.ones(n), energy_k, mode="full")[
                    kernel.size // 2 : kernel.size // 2 + n
                ]
            )
        )
        max_spikes = int(np.ceil(residual.sum() * 3)) + 5
        for _ in range(max_spikes):
            corr = np.convolve(residual, kernel[::-1], mode="full")[
                kernel.size // 2 : kernel.size // 2 + n
            ]
            gain = 2 * corr - self_energy
            j = int(np.argmax(gain))
            if gain[j] <= 0:
                break
            frames.append(start + j)
            lo, hi = max(0, j - kernel.size // 2), min(n, j + kernel.size // 2 + 1)
            k_lo = lo - (j - kernel.size // 2)
            residual[lo:hi] -= kernel[k_lo : k_lo + hi - lo]
    return np.sort(t0_s + np.asarray(frames, float) / fr)


def sampled_spike_events(
    rate: np.ndarray,
    frame_rate_hz: float,
    sigma_s: float,
    *,
    rng: np.random.Generator | None = None,
    support_threshold: float = 1e-3,
    n_proposals_per_spike: int = 20,
    t0_s: float = 0.0,
    max_spikes_per_frame: float = MAX_SPIKES_PER_FRAME,
    max_proposals: int = 2_000_000,
) -> np.ndarray:
    """CASCADE's method: sample spikes in proportion to the rate, then refine the placement.

    The rate is split into stretches where it exceeds ``support_threshold``. In each stretch,
    round(Σ rate) spikes are drawn with probability ∝ rate (importance sampling); then random
    proposals — move a spike to a frame drawn ∝ rate, shift it by one frame, drop it, or add
    one — are accepted when they lower the L1 error between the spikes convolved with the
    Gaussian template and the rate.

    ``max_spikes_per_frame`` (mean over the trace; more is refused with a ValueError) and
    ``max_proposals`` (refinement proposals per stretch) bound the work on any input.

    Returns:
        Spike times in seconds, sorted.
    """
    fr = check_frame_rate(frame_rate_hz)
    rng = rng or np.random.default_rng(0)
    r_all = np.nan_to_num(as_trace(rate, "rate"), nan=0.0)
    _check_total(r_all, max_spikes_per_frame, fr)
    kernel = gaussian_kernel(sigma_s * fr)
    half = kernel.size // 2
    frames: list[int] = []
    for start, stop in _runs(r_all > support_threshold):
        r = r_all[start:stop]
        n = r.size
        n_spikes = int(round(r.sum()))
        if n_spikes == 0:
            continue
        p = r / r.sum()
        counts = np.bincount(rng.choice(n, size=n_spikes, p=p), minlength=n).astype(float)
        fit = np.convolve(counts, kernel, mode="full")[half : half + n]
        # Each proposal changes the fit only within half a kernel of the frames it touches,
        # so its L1 gain is computed there (constant time per proposal).
        n_prop = min(n_proposals_per_spike * n_spikes, int(max_proposals))
        kinds = rng.integers(4, size=n_prop)
        drawn = rng.choice(n, size=n_prop, p=p)
        picks = rng.random(n_prop)
        # frames holding ≥ 1 spike, kept up to date in O(1) per change (swap-remove)
        occupied = [int(f) for f in np.flatnonzero(counts > 0)]
        where = {f: i for i, f in enumerate(occupied)}
        for kind, new, pick in zip(kinds, drawn, picks):
            changes: list[tuple[int, float]] = []
            if kind == 3 or not occupied:  # add a spike
                changes = [(int(new), 1.0)]
            else:
                j = occupied[int(pick * len(occupied))]
                if kind == 0:  # re-draw its position
                    changes = [(j, -1.0), (int(new), 1.0)]
                elif kind == 1:  # shift it by one frame
                    changes = [(j, -1.0), (int(np.clip(j + rng.choice([-1, 1]), 0, n - 1)), 1.0)]
                else:  # drop it
                    changes = [(j, -1.0)]
            lo = max(0, min(c for c, _ in changes) - half)
            hi = min(n, max(c for c, _ in changes) + half + 1)
            local = fit[lo:hi].copy()
            for c, sign in changes:
                k0 = max(0, c - half)
                k1 = min(n, c + half + 1)
                local[k0 - lo : k1 - lo] += sign * kernel[k0 - (c - half) : k1 - (c - half)]
            if np.abs(local - r[lo:hi]).sum() < np.abs(fit[lo:hi] - r[lo:hi]).sum() - 1e-12:
                fit[lo:hi] = local
                for c, sign in changes:
                    counts[c] += sign
                    if counts[c] > 0 and c not in where:
                        where[c] = len(occupied)
                        occupied.append(c)
                    elif counts[c] == 0 and c in where:
                        i, last = where.pop(c), occupied.pop()
                        if last != c:
                            occupied[i], where[last] = last, i
        frames.extend(np.repeat(start + np.arange(n), counts.astype(int)))
    return np.sort(t0_s + np.asarray(frames, float) / fr)
