"""Staggered line-scan sampling and the event inputs built from it (RADICaL, AutoLFADS).

A frame lasts ``frame_bins`` sub-frame bins. The laser reaches neuron ``n`` at a fixed phase
within the frame set by its vertical position in the field of view (top rows first); the
absolute phase of the frame clock shifts from trial to trial. Neuron ``n`` of trial ``i`` is
sampled at bins ``t`` with ``(t − phase_n − shift_i) mod frame_bins == 0`` and NaN elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from calcium_dynamics.signal.deconvolution import deconvolve_oasis


@dataclass(frozen=True)
class LineScanSampling:
    """Which bins each neuron is sampled at.

    Attributes:
        phase: phase of each neuron within the frame, shape (neurons,), in 0..frame_bins−1.
        shift: frame-clock shift of each trial, shape (trials,), in 0..frame_bins−1.
        mask: True where sampled, shape (trials, bins, neurons).
        frame_bins: sub-frame bins per frame.
    """

    phase: np.ndarray
    shift: np.ndarray
    mask: np.ndarray
    frame_bins: int


def line_scan_sampling(
    n_trials: int, n_bins: int, n_neurons: int, frame_bins: int = 3, seed: int = 0
) -> LineScanSampling:
    """Draw field-of-view positions and per-trial frame shifts; build the sampling mask.

    Neuron positions are uniform over the field of view; the phase is the band of the frame the
    position falls in (``floor(position · frame_bins)``), so relative phases are fixed across
    trials. ``n_bins`` must be a multiple of ``frame_bins`` so every neuron has the same number
    of samples per trial.
    """
    if frame_bins < 1:
        raise ValueError(f"frame_bins must be >= 1; got {frame_bins}")
    if n_bins % frame_bins:
        raise ValueError(f"n_bins ({n_bins}) must be a multiple of frame_bins ({frame_bins})")
    rng = np.random.default_rng(seed)
    position = rng.uniform(0.0, 1.0, n_neurons)
    phase = np.floor(position * frame_bins).astype(np.int64)
    shift = rng.integers(0, frame_bins, n_trials)
    t = np.arange(n_bins)
    mask = ((t[None, :, None] - phase[None, None, :] - shift[:, None, None]) % frame_bins) == 0
    return LineScanSampling(phase=phase, shift=shift, mask=mask, frame_bins=int(frame_bins))


def apply_sampling(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Values where sampled, NaN elsewhere (float32), shape of ``values``."""
    if values.shape != mask.shape:
        raise ValueError(f"values {values.shape} and mask {mask.shape} differ in shape")
    return np.where(mask, values, np.nan).astype(np.float32)


def to_frames(sampled: np.ndarray, mask: np.ndarray, frame_bins: int) -> np.ndarray:
    """Drop the unsampled bins: each neuron's k-th sample of a trial becomes frame k.

    This is the frame-time view every non-SBTT method uses (all neurons treated as sampled at
    the frame time).

    Returns:
        Shape (trials, bins // frame_bins, neurons).
    """
    n_bins = sampled.shape[1]
    n_frames = n_bins // frame_bins
    per_neuron = mask.sum(axis=1)
    if np.any(per_neuron != n_frames):
        raise ValueError("every neuron must be sampled exactly once per frame")
    # stable sort puts the sampled bins first, in time order
    order = np.argsort(~mask, axis=1, kind="stable")[:, :n_frames]
    return np.take_along_axis(sampled, order, axis=1)


def deconvolve_sampled(
    sampled: np.ndarray,
    frame_rate_hz: float,
    *,
    s_min: float = 0.1,
    penalty: int = 1,
    tau_decay_s: float | None = None,
    progress: bool = True,
) -> np.ndarray:
    """OASIS AR(1) deconvolution of each neuron's sampled values, put back at their sample bins.

    The samples of one neuron from all trials are joined in trial order into one trace at the
    frame rate (NaNs removed), deconvolved with the noise-constrained L1 (or L0) OASIS fit, and
    the events returned to the bins they were sampled at. Events below ``s_min`` are set to 0
    after the fit (the noise-constrained solver takes no minimal event size itself).

    Args:
        sampled: fluorescence with NaN where not sampled, shape (trials, bins, neurons).
        frame_rate_hz: per-neuron sampling rate (Hz).
        s_min: minimal event size (fluorescence units).

    Returns:
        Events ≥ 0, NaN where not sampled, shape (trials, bins, neurons), float32.
    """
    x = np.asarray(sampled, dtype=np.float64)
    mask = np.isfinite(x)
    empty = np.flatnonzero(~mask.any(axis=(0, 1)))
    if empty.size:
        raise ValueError(f"neurons {empty.tolist()} have no sampled values (every entry NaN)")
    out = np.full(x.shape, np.nan, dtype=np.float32)
    for n in tqdm(range(x.shape[2]), desc="OASIS", disable=not progress, leave=False):
        m = mask[:, :, n]
        trace = x[:, :, n][m]  # trial-major, time order within trial
        result = deconvolve_oasis(
            trace, frame_rate_hz, ar_order=1, penalty=penalty, tau_decay_s=tau_decay_s
        )
        events = np.where(result.events >= s_min, result.events, 0.0)
        column = out[:, :, n]
        column[m] = events
        out[:, :, n] = column
    return out


def discretise_events(events: np.ndarray) -> np.ndarray:
    """RADICaL's event-to-count rule for Poisson models: 0 → 0, (0, 2] → 1, > 2 → floor.

    NaN stays NaN (float32 output).
    """
    e = np.asarray(events, dtype=np.float64)
    counts = np.where(e > 2, np.floor(e), np.where(e > 0, 1.0, 0.0))
    return np.where(np.isnan(e), np.nan, counts).astype(np.float32)
