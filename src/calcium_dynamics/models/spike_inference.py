"""Apply a trained spike model to ΔF/F traces: rates in Hz at the trace's own frame rate.

Pipeline per trace: check the frame rate → measure ν → resample to the model's rate → split at
NaN gaps → predict each finite segment (ENS²: overlapping windows averaged; CASCADE: every
frame at once, see ``CascadeNet.forward_trace``) → rates back at the input frame times, NaN
inside the gaps. No Python loop runs per sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from calcium_dynamics.models.spike_kinds import (  # noqa: F401  (re-exported)
    PRECISIONS,
    bf16_supported,
    inference_dtype,
)
from calcium_dynamics.models.spike_models import SpikeModel
from calcium_dynamics.signal.noise import noise_level_nu
from calcium_dynamics.signal.resample import resample_trace
from calcium_dynamics.signal.validation import as_trace, check_frame_rate


@dataclass
class RatePrediction:
    """Spike rates of one trace.

    Attributes:
        rate_hz: spike rate in Hz at the input's frame times, shape (n_frames,), NaN in gaps.
        model_rate: rate in spikes per model frame at the model's frame rate (for events).
        model_frame_rate_hz: the model's (resampled) frame rate.
        noise_level_nu: the trace's ν (%·Hz^-½) measured at the model's frame rate, after
            resampling (where the zoo's noise levels are defined).
        lo_hz, hi_hz: with an interval: its bounds in Hz at the input's frame times (n_frames,),
            NaN in gaps; else None.
    """

    rate_hz: np.ndarray
    model_rate: np.ndarray
    model_frame_rate_hz: float
    noise_level_nu: float
    lo_hz: np.ndarray | None = None
    hi_hz: np.ndarray | None = None


def _segments(valid: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of each run of True."""
    edges = np.diff(np.concatenate([[0], valid.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def predict_model_rate(
    model: SpikeModel,
    dff_model_rate: np.ndarray,
    nu: float,
    *,
    stride: int = 1,
    batch_size: int = 2048,
    precision: str = "fp32",
    members: bool = False,
) -> np.ndarray:
    """Rate (spikes per model frame) of a trace already at the model's frame rate.

    NaN frames split the trace into segments predicted separately (zero padding at segment
    ends, as at trace ends); they are NaN in the output. Negative ensemble averages are set
    to 0. Segments shorter than a window are zero-padded like trace ends (documented
    behaviour: predictions there see less context). ``precision`` (ENS² only; see
    :func:`inference_dtype`): ``"fp32"``, ``"bf16"`` or ``"auto"``. With ``members``, each
    ensemble member's rate, shape (n_members, n_frames), negative values kept (their spread
    is what the rate intervals are built from); else the ensemble mean, (n_frames,).
    """
    dtype = inference_dtype(precision)
    if stride < 1:
        raise ValueError(f"stride must be >= 1 sample, got {stride}")
    x = np.asarray(dff_model_rate, np.float32)
    nets = model.members_for(nu)
    out = np.full((len(nets), x.size) if members else x.size, np.nan, np.float32)
    for start, stop in _segments(np.isfinite(x)):
        seg = x[start:stop]
        pred = model.spec.predict_segment(
            nets,
            seg,
            model.window,
            stride=stride,
            batch_size=batch_size,
            dtype=dtype,
            causal=model.causal,
            mean=not members,
        )
        out[..., start:stop] = pred if members else np.clip(pred, 0.0, None)
    return out


def infer_rates(
    model: SpikeModel,
    dff: np.ndarray,
    frame_rate_hz: float,
    *,
    stride: int = 1,
    precision: str = "fp32",
    name: str = "trace",
    interval: float | None = None,
    calibration=None,
) -> RatePrediction:
    """Spike rates (Hz) of one ΔF/F trace at its own frame rate.

    Args:
        model: a trained :class:`SpikeModel`.
        dff: ΔF/F as a fraction, shape (n_frames,); NaN gaps allowed.
        frame_rate_hz: the trace's frame rate in Hz (required, > 0).
        stride: distance between window centres for ENS² (1 = every window; larger is faster
            and slightly less accurate). CASCADE always evaluates every frame.
        precision: arithmetic of the ENS² windows: ``"fp32"``, ``"bf16"`` (faster on CPUs
            with native bfloat16) or ``"auto"`` (bf16 where native). CASCADE runs in fp32.
        name: how errors name this trace.
        interval: level in (0, 1) of a calibrated interval on the rate (needs
            ``calibration``, a :class:`~calcium_dynamics.models.spikes.calibration.Calibration`).
    """
    rate = check_frame_rate(frame_rate_hz, name)
    x = as_trace(dff, f"dff of {name}")
    if x.size < 2:
        raise ValueError(f"{name}: a trace needs at least 2 frames, got {x.size}")
    if not np.isfinite(x).any():
        raise ValueError(f"{name}: ΔF/F is NaN in every frame")
    resampled, model_fr = resample_trace(x, rate, model.frame_rate_hz)
    # ν at the rate the model works at: its noise levels were made by noise matching there
    nu = noise_level_nu(resampled, model_fr)
    bounds = None
    if interval is None:
        model_rate = predict_model_rate(model, resampled, nu, stride=stride, precision=precision)
    else:
        from calcium_dynamics.models.spikes.calibration import interval as conformal_interval

        if calibration is None:
            raise ValueError(f"{name}: an interval needs the model's calibration tables")
        each = predict_model_rate(
            model, resampled, nu, stride=stride, precision=precision, members=True
        )
        model_rate, lo, hi = (np.full(resampled.size, np.nan, np.float32) for _ in range(3))
        finite = np.isfinite(each).all(0)
        if finite.any():
            parts = conformal_interval(each[:, finite], calibration.table_for(nu), interval)
            for arr, part in zip((model_rate, lo, hi), parts):
                arr[finite] = part
        bounds = (lo, hi)
    # Back to the input frame times: the rate in Hz is smooth, so linear interpolation keeps
    # its integral; frames inside a NaN gap of the input are NaN again.
    t_model = np.arange(model_rate.size) / model_fr
    t_in = np.arange(x.size) / rate
    finite = np.isfinite(model_rate)
    gaps = ~np.isfinite(x)

    def at_input(values: np.ndarray) -> np.ndarray:
        out = np.interp(t_in, t_model[finite], values[finite] * model_fr)
        out[gaps] = np.nan
        return out.astype(np.float32)

    lo_hz, hi_hz = (at_input(b) for b in bounds) if bounds else (None, None)
    return RatePrediction(at_input(model_rate), model_rate, model_fr, nu, lo_hz, hi_hz)
