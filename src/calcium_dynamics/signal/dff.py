"""ΔF/F from raw fluorescence: neuropil subtraction, running-percentile baseline, QC numbers.

All functions work on 2-D arrays of shape (n_cells, n_frames) in the recording's own units
(Suite2p: arbitrary fluorescence units) and return ΔF/F as a fraction (1.0 = 100 %).

    F_corrected = F − c · F_neu                 (c: neuropil coefficient, 0.7 by default)
    F0          = running low percentile of F_corrected over a window of ``window_s`` seconds
    ΔF/F        = (F_corrected − F0) / F0

The running percentile is vectorised over cells (``scipy.ndimage.percentile_filter`` along
time). For long windows it is evaluated on every k-th frame (k chosen so the window holds at
most ``max_window_frames`` frames) and linearly interpolated back to every frame: the baseline
drifts slowly, so this changes it little and makes an hour-long recording take seconds.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from calcium_dynamics.signal.noise import noise_level_nu
from calcium_dynamics.signal.validation import check_frame_rate

DEFAULT_NEUROPIL_COEFFICIENT = 0.7
MAX_WINDOW_FRAMES = 301


def _cell_names(names: Sequence[str] | None, n: int) -> list[str]:
    if names is None:
        return [f"cell {i}" for i in range(n)]
    if len(names) != n:
        raise ValueError(f"{len(names)} cell names for {n} cells")
    return [str(s) for s in names]


def _as_cells(values, what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise ValueError(f"{what} must have shape (n_cells, n_frames), got {arr.shape}")
    return arr


def check_fluorescence(
    f: np.ndarray,
    fneu: np.ndarray | None = None,
    *,
    names: Sequence[str] | None = None,
    max_nan_fraction: float = 0.5,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Validate raw traces; return them as float64 arrays of shape (n_cells, n_frames).

    Raises ``ValueError`` naming the cell for: F / F_neu shapes that differ, a cell whose
    F is zero (or NaN) in every frame, a cell with more than ``max_nan_fraction`` NaN frames,
    and infinite values. Fewer NaNs are allowed (dropped frames): they stay NaN in ΔF/F.
    """
    f = _as_cells(f, "F")
    labels = _cell_names(names, f.shape[0])
    if fneu is not None:
        fneu = _as_cells(fneu, "Fneu")
        if fneu.shape != f.shape:
            raise ValueError(
                f"F has shape {f.shape} but Fneu has shape {fneu.shape}: both must be "
                "(n_cells, n_frames) from the same recording"
            )
    if f.shape[1] < 2:
        raise ValueError(f"a recording needs at least 2 frames, got {f.shape[1]}")
    for arr, what in ((f, "F"), (fneu, "Fneu")):
        if arr is None:
            continue
        bad = np.isinf(arr).any(axis=1)
        if bad.any():
            raise ValueError(f"{what} of {labels[int(np.argmax(bad))]} holds infinite values")
        nan_frac = np.isnan(arr).mean(axis=1)
        worst = int(np.argmax(nan_frac))
        if nan_frac[worst] > max_nan_fraction:
            raise ValueError(
                f"{what} of {labels[worst]} is NaN in {nan_frac[worst]:.0%} of its frames "
                f"(more than max_nan_fraction={max_nan_fraction}): drop this cell or raise "
                "max_nan_fraction"
            )
    zero = np.all((f == 0) | np.isnan(f), axis=1)
    if zero.any():
        raise ValueError(
            f"F of {labels[int(np.argmax(zero))]} is zero in every frame: an empty ROI has no "
            "ΔF/F; remove it (e.g. mark it as not a cell) before computing ΔF/F"
        )
    return f, fneu


def subtract_neuropil(
    f: np.ndarray, fneu: np.ndarray, coefficient: float = DEFAULT_NEUROPIL_COEFFICIENT
) -> np.ndarray:
    """F − c · F_neu, shape (n_cells, n_frames). ``coefficient`` must lie in [0, 1]."""
    c = float(coefficient)
    if not 0.0 <= c <= 1.0:
        raise ValueError(f"neuropil_coefficient={coefficient!r} must lie in [0, 1]")
    f = np.asarray(f, dtype=np.float64)
    fneu = np.asarray(fneu, dtype=np.float64)
    if f.shape != fneu.shape:
        raise ValueError(f"F has shape {f.shape} but Fneu has shape {fneu.shape}")
    return f - c * fneu


def _fill_nan(x: np.ndarray) -> np.ndarray:
    """Linear interpolation over NaN frames of each row (rows with no finite value stay NaN)."""
    out = x.copy()
    t = np.arange(x.shape[1])
    for i in np.flatnonzero(np.isnan(x).any(axis=1)):
        ok = np.isfinite(x[i])
        if ok.any():
            out[i] = np.interp(t, t[ok], x[i, ok])
    return out


def running_baseline(
    f: np.ndarray,
    frame_rate_hz: float,
    *,
    window_s: float = 60.0,
    percentile: float = 8.0,
    smooth_s: float = 0.0,
    max_window_frames: int = MAX_WINDOW_FRAMES,
) -> np.ndarray:
    """Baseline F0: running ``percentile`` of each trace over a centred ``window_s`` window.

    Args:
        f: fluorescence, shape (n_cells, n_frames); NaN frames are bridged linearly first.
        frame_rate_hz: frames per second (Hz).
        window_s: window length in seconds (clipped to the recording's length).
        percentile: percentile in (0, 100) taken in each window (low: transients are brief
            rises above the baseline).
        smooth_s: s.d. (s) of a Gaussian smoothing applied before the percentile (0: none).
            Smoothing lowers the noise, and with it the bias of a low percentile below the
            true baseline (about −1.4 noise s.d. for the 8th percentile of Gaussian noise).
        max_window_frames: above this many frames per window the filter runs on every k-th
            frame and is interpolated back (see the module docstring).

    Returns:
        F0 in the units of ``f``, shape (n_cells, n_frames). Within half a window of either
        end the window is completed by mirroring the trace, so a burst of activity right at
        an end can lift F0 there.
    """
    rate = check_frame_rate(frame_rate_hz, "the recording")
    if not 0.0 < float(percentile) < 100.0:
        raise ValueError(f"baseline_percentile={percentile!r} must lie in (0, 100)")
    if not float(window_s) > 0:
        raise ValueError(f"baseline_window_s={window_s!r} must be > 0 seconds")
    if not float(smooth_s) >= 0:
        raise ValueError(f"baseline_smooth_s={smooth_s!r} must be ≥ 0 seconds")
    x = _fill_nan(_as_cells(f, "F"))
    if smooth_s > 0:
        x = ndimage.gaussian_filter1d(x, float(smooth_s) * rate, axis=1, mode="reflect")
    n = x.shape[1]
    width = int(min(max(round(window_s * rate), 1), n))
    step = max(1, int(np.ceil(width / max(int(max_window_frames), 1))))
    idx = np.arange(0, n, step)
    if idx[-1] != n - 1:
        idx = np.append(idx, n - 1)
    sub = x[:, idx]
    size = max(1, int(round(width / step)))
    base_sub = ndimage.percentile_filter(sub, float(percentile), size=(1, size), mode="reflect")
    if step == 1:
        return base_sub
    t = np.arange(n)
    return np.stack([np.interp(t, idx, row) for row in base_sub])


def delta_f_over_f(
    f: np.ndarray,
    fneu: np.ndarray | None,
    frame_rate_hz: float,
    *,
    neuropil_coefficient: float = DEFAULT_NEUROPIL_COEFFICIENT,
    window_s: float = 60.0,
    percentile: float = 8.0,
    smooth_s: float = 0.0,
    names: Sequence[str] | None = None,
    max_nan_fraction: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """ΔF/F (fraction) and baseline F0 of raw traces.

    Args:
        f: raw fluorescence, shape (n_cells, n_frames).
        fneu: neuropil fluorescence of the same shape, or ``None`` (no subtraction).
        frame_rate_hz: frames per second (Hz).
        neuropil_coefficient: c in F − c · F_neu.
        window_s, percentile, smooth_s: the running-percentile baseline
            (see :func:`running_baseline`).
        names: cell names used in error messages.
        max_nan_fraction: cells with more NaN frames are refused.

    Returns:
        ``(dff, f0)``, both shape (n_cells, n_frames); ``dff`` is NaN where F was NaN.

    Raises:
        ValueError: naming the cell, for bad input (see :func:`check_fluorescence`) and for a
            baseline that is not positive somewhere (ΔF/F is undefined there: usually the
            neuropil coefficient is too large for this ROI).
    """
    labels = _cell_names(names, _as_cells(f, "F").shape[0])
    f, fneu = check_fluorescence(f, fneu, names=labels, max_nan_fraction=max_nan_fraction)
    corrected = f if fneu is None else subtract_neuropil(f, fneu, neuropil_coefficient)
    f0 = running_baseline(
        corrected, frame_rate_hz, window_s=window_s, percentile=percentile, smooth_s=smooth_s
    )
    bad = ~(np.nanmin(f0, axis=1) > 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(
            f"the baseline F0 of {labels[i]} falls to {np.nanmin(f0[i]):.3g} ≤ 0 after neuropil "
            f"subtraction (coefficient {neuropil_coefficient}): ΔF/F is undefined; lower "
            "neuropil_coefficient or exclude this ROI"
        )
    return (corrected - f0) / f0, f0


def dff_quality(dff: np.ndarray, f0: np.ndarray | None, frame_rate_hz: float) -> dict:
    """Per-cell QC numbers of ΔF/F traces, each an array of shape (n_cells,).

    ``noise_level_nu`` (ν, %·Hz^-½, CASCADE's standardized noise level), ``baseline_median``
    (median F0, raw units; NaN when ``f0`` is None), ``dff_min`` / ``dff_max`` and
    ``dff_p01`` / ``dff_p99`` (fractions), ``nan_fraction`` (share of NaN frames).
    """
    d = _as_cells(dff, "dff")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows give NaN, by design
        nu = np.atleast_1d(noise_level_nu(d, frame_rate_hz))
        p01, p99 = np.nanpercentile(d, [1, 99], axis=1)
        base = (
            np.nanmedian(_as_cells(f0, "f0"), axis=1)
            if f0 is not None
            else np.full(d.shape[0], np.nan)
        )
        return {
            "noise_level_nu": nu,
            "baseline_median": base,
            "dff_min": np.nanmin(d, axis=1),
            "dff_max": np.nanmax(d, axis=1),
            "dff_p01": p01,
            "dff_p99": p99,
            "nan_fraction": np.isnan(d).mean(axis=1),
        }
