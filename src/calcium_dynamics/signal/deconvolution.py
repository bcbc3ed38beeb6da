"""OASIS deconvolution (``oasis-deconv`` package) with the project's conventions.

Thin wrapper: NaN frames are left out of the fit and come back as NaN, the frame rate is
required, and problems raise clear errors instead of returning silent zeros.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from oasis.functions import deconvolve

from calcium_dynamics.signal.validation import as_trace, check_frame_rate

MIN_FRAMES = 10


@dataclass(frozen=True)
class Deconvolution:
    """Result of deconvolving one trace of n frames.

    Attributes:
        calcium: denoised calcium (ΔF/F units), shape (n,), NaN where the input was NaN.
        events: deconvolved event amplitudes (ΔF/F units per frame, ≥ 0), shape (n,), NaN where
            the input was NaN.
        baseline: fitted fluorescence baseline (ΔF/F units).
        ar_coefficients: AR(p) coefficients of the calcium kernel (γ₁ or γ₁, γ₂).
        tau_decay_s: decay time constant in seconds implied by the AR coefficients.
        noise_sd: noise standard deviation used by the noise constraint.
    """

    calcium: np.ndarray
    events: np.ndarray
    baseline: float
    ar_coefficients: tuple[float, ...]
    tau_decay_s: float
    noise_sd: float


def deconvolve_oasis(
    trace: np.ndarray,
    frame_rate_hz: float,
    *,
    ar_order: int = 1,
    tau_decay_s: float | None = None,
    tau_rise_s: float | None = None,
    penalty: int = 1,
    s_min: float = 0.0,
    optimize_g: int = 0,
    noise_sd: float | None = None,
) -> Deconvolution:
    """Deconvolve one ΔF/F trace with OASIS (L1 or L0 penalty, noise constraint).

    Args:
        trace: ΔF/F, shape (n_frames,). NaN frames are dropped before the fit (the remaining
            frames are treated as consecutive, as for a trace sampled only at those frames) and
            are NaN in the outputs.
        frame_rate_hz: rate of the (non-NaN) frames in Hz.
        ar_order: 1 (decay only) or 2 (rise and decay); used when time constants are not given.
        tau_decay_s, tau_rise_s: fixed time constants in seconds; estimated from the data when
            None.
        penalty: 1 for L1 (convex), 0 for L0.
        s_min: minimal event size (ΔF/F units); smaller events are set to 0.
        optimize_g: number of large isolated events used to refine the AR coefficients.
        noise_sd: noise s.d. (ΔF/F units); estimated from the power spectrum when None.
    """
    rate = check_frame_rate(frame_rate_hz)
    x = as_trace(trace, "trace")
    if ar_order not in (1, 2):
        raise ValueError(f"ar_order must be 1 or 2, got {ar_order}")
    finite = np.isfinite(x)
    if finite.sum() < MIN_FRAMES:
        raise ValueError(
            f"trace has {int(finite.sum())} finite frames; OASIS needs at least {MIN_FRAMES}"
        )
    y = x[finite].astype(np.float64)
    kwargs: dict = {"penalty": penalty, "optimize_g": optimize_g, "sn": noise_sd}
    if tau_decay_s is not None:
        kwargs.update(tau_d=tau_decay_s, framerate=rate, tau_r=tau_rise_s or 0)
    else:
        kwargs["g"] = (None,) * ar_order
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = deconvolve(y, **kwargs)
    c, s, b, g = result[0], result[1], result[2], tuple(float(v) for v in np.atleast_1d(result[3]))
    calcium = np.full(x.size, np.nan)
    events = np.full(x.size, np.nan)
    s = np.clip(s, 0.0, None)
    s[s < s_min] = 0.0  # the noise-constrained solvers take no minimal event size themselves
    calcium[finite], events[finite] = c, s
    return Deconvolution(
        calcium=calcium,
        events=events,
        baseline=float(b),
        ar_coefficients=g,
        tau_decay_s=_decay_time(g, rate),
        noise_sd=float(noise_sd) if noise_sd is not None else _noise_estimate(y),
    )


def _decay_time(g: tuple[float, ...], rate: float) -> float:
    """Decay time constant (s) of an AR(1) / AR(2) kernel: the slowest root of its polynomial."""
    roots = np.roots([1.0, *(-v for v in g)])
    slowest = float(np.max(np.abs(roots))) if roots.size else 0.0
    if not 0.0 < slowest < 1.0:
        return float("nan")
    return -1.0 / (rate * np.log(slowest))


def _noise_estimate(y: np.ndarray) -> float:
    from oasis.functions import GetSn

    return float(GetSn(y))
