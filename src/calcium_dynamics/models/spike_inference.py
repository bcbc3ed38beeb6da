"""Apply a trained spike model to ΔF/F traces: rates in Hz at the trace's own frame rate.

Pipeline per trace: check the frame rate → measure ν → resample to the model's rate → split at
NaN gaps → predict each finite segment (ENS²: overlapping windows averaged; CASCADE: every
frame at once, see ``CascadeNet.forward_trace``) → rates back at the input frame times, NaN
inside the gaps. No Python loop runs per sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from calcium_dynamics.models.spike_models import SpikeModel
from calcium_dynamics.signal.noise import noise_level_nu
from calcium_dynamics.signal.resample import resample_trace
from calcium_dynamics.signal.validation import as_trace, check_frame_rate
from calcium_dynamics.signal.windows import window_offsets


@dataclass
class RatePrediction:
    """Spike rates of one trace.

    Attributes:
        rate_hz: spike rate in Hz at the input's frame times, shape (n_frames,), NaN in gaps.
        model_rate: rate in spikes per model frame at the model's frame rate (for events).
        model_frame_rate_hz: the model's (resampled) frame rate.
        noise_level_nu: the trace's measured ν (%·Hz^-½).
    """

    rate_hz: np.ndarray
    model_rate: np.ndarray
    model_frame_rate_hz: float
    noise_level_nu: float


def _segments(valid: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of each run of True."""
    edges = np.diff(np.concatenate([[0], valid.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


@torch.no_grad()
def _predict_sequence_windows(
    members, x: np.ndarray, window: int, stride: int, batch_size: int
) -> np.ndarray:
    """ENS²-style: average the predictions of every window that covers a sample."""
    n = x.size
    before, after = window_offsets(window)
    padded = torch.from_numpy(np.pad(x.astype(np.float32), (before, after)))
    centres = torch.arange(0, n, stride)
    if (n - 1) % stride:
        centres = torch.cat([centres, torch.tensor([n - 1])])  # the last sample always covered
    total = torch.zeros(n + window)
    count = torch.zeros(n + window)
    for start in range(0, len(centres), batch_size):
        c = centres[start : start + batch_size]
        idx = c[:, None] + torch.arange(window)[None, :]  # window start = centre in padded coords
        windows = padded[idx]
        pred = torch.stack([m(windows) for m in members]).mean(0)
        total.index_add_(0, idx.reshape(-1), pred.reshape(-1))
        count.index_add_(0, idx.reshape(-1), torch.ones(idx.numel()))
    out = total[before : before + n] / count[before : before + n].clamp_min(1)
    return out.numpy()


@torch.no_grad()
def _predict_every_frame(members, x: np.ndarray, window: int) -> np.ndarray:
    before, after = window_offsets(window)
    padded = torch.from_numpy(np.pad(x.astype(np.float32), (before, after)))[None]
    pred = torch.stack([m.forward_trace(padded)[0] for m in members]).mean(0)
    return pred.numpy()


def predict_model_rate(
    model: SpikeModel,
    dff_model_rate: np.ndarray,
    nu: float,
    *,
    stride: int = 1,
    batch_size: int = 1024,
) -> np.ndarray:
    """Rate (spikes per model frame) of a trace already at the model's frame rate.

    NaN frames split the trace into segments predicted separately (zero padding at segment
    ends, as at trace ends); they are NaN in the output. Negative ensemble averages are set
    to 0. Segments shorter than a window are zero-padded like trace ends (documented
    behaviour: predictions there see less context).
    """
    x = np.asarray(dff_model_rate, np.float32)
    out = np.full(x.size, np.nan, np.float32)
    members = model.members_for(nu)
    for start, stop in _segments(np.isfinite(x)):
        seg = x[start:stop]
        if model.kind == "ens2":
            pred = _predict_sequence_windows(members, seg, model.window, stride, batch_size)
        else:
            pred = _predict_every_frame(members, seg, model.window)
        out[start:stop] = np.clip(pred, 0.0, None)
    return out


def infer_rates(
    model: SpikeModel,
    dff: np.ndarray,
    frame_rate_hz: float,
    *,
    stride: int = 1,
    name: str = "trace",
) -> RatePrediction:
    """Spike rates (Hz) of one ΔF/F trace at its own frame rate.

    Args:
        model: a trained :class:`SpikeModel`.
        dff: ΔF/F as a fraction, shape (n_frames,); NaN gaps allowed.
        frame_rate_hz: the trace's frame rate in Hz (required, > 0).
        stride: distance between window centres for ENS² (1 = every window; larger is faster
            and slightly less accurate). CASCADE always evaluates every frame.
        name: how errors name this trace.
    """
    rate = check_frame_rate(frame_rate_hz, name)
    x = as_trace(dff, f"dff of {name}")
    if x.size < 2:
        raise ValueError(f"{name}: a trace needs at least 2 frames, got {x.size}")
    if not np.isfinite(x).any():
        raise ValueError(f"{name}: ΔF/F is NaN in every frame")
    nu = noise_level_nu(x, rate)
    resampled, model_fr = resample_trace(x, rate, model.frame_rate_hz)
    model_rate = predict_model_rate(model, resampled, nu, stride=stride)
    # Back to the input frame times: the rate in Hz is smooth, so linear interpolation keeps
    # its integral; frames inside a NaN gap of the input are NaN again.
    t_model = np.arange(model_rate.size) / model_fr
    t_in = np.arange(x.size) / rate
    finite = np.isfinite(model_rate)
    rate_hz = np.interp(t_in, t_model[finite], model_rate[finite] * model_fr)
    rate_hz[~np.isfinite(x)] = np.nan
    return RatePrediction(rate_hz.astype(np.float32), model_rate, model_fr, nu)
