"""Apply a trained spike model to ΔF/F traces: rates in Hz at the trace's own frame rate.

Pipeline per trace: check the frame rate → measure ν → resample to the model's rate → split at
NaN gaps → predict each finite segment (ENS²: overlapping windows averaged; CASCADE: every
frame at once, see ``CascadeNet.forward_trace``) → rates back at the input frame times, NaN
inside the gaps. No Python loop runs per sample.
"""

from __future__ import annotations

import copy
import weakref
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
        noise_level_nu: the trace's ν (%·Hz^-½) measured at the model's frame rate, after
            resampling (where the zoo's noise levels are defined).
    """

    rate_hz: np.ndarray
    model_rate: np.ndarray
    model_frame_rate_hz: float
    noise_level_nu: float


def _segments(valid: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of each run of True."""
    edges = np.diff(np.concatenate([[0], valid.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


PRECISIONS = ("fp32", "bf16", "auto")


def bf16_supported() -> bool:
    """Whether this CPU computes bfloat16 convolutions natively (AVX-512 BF16 or AMX)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def inference_dtype(precision: str) -> torch.dtype:
    """The dtype ENS² windows are evaluated in: ``"fp32"``; ``"bf16"`` (bfloat16 weights and
    activations, ≈ 1.5–2× faster on CPUs with native bfloat16, rates within ≈ 1 % of fp32);
    ``"auto"``: bf16 where the CPU supports it natively, else fp32."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}; got {precision!r}")
    if precision == "bf16" or (precision == "auto" and bf16_supported()):
        return torch.bfloat16
    return torch.float32


# network → {dtype: copy in that dtype}; entries go when the network does
_CAST_COPIES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _networks_in_dtype(members, dtype: torch.dtype) -> list:
    """The ensemble's networks in ``dtype`` (copies are made once per network and kept)."""
    if dtype == torch.float32:
        return list(members)
    out = []
    for m in members:
        copies = _CAST_COPIES.setdefault(m, {})
        if dtype not in copies:
            copies[dtype] = copy.deepcopy(m).to(dtype).eval()
        out.append(copies[dtype])
    return out


@torch.inference_mode()
def _predict_sequence_windows(
    members,
    x: np.ndarray,
    window: int,
    stride: int,
    batch_size: int,
    dtype: torch.dtype = torch.float32,
) -> np.ndarray:
    """ENS²-style: average the predictions of every window that covers a sample.

    Windows are centred on samples 0, stride, 2·stride, … (and on the last sample, which is
    always covered). Each batch of windows is a strided view of the padded trace; its
    predictions are added back with one vectorised slice addition per window position (no
    per-sample Python work), and every sample is divided by the number of windows covering it
    (derived once from where the windows start).
    """
    n = x.size
    before, after = window_offsets(window)
    padded = torch.from_numpy(np.pad(x.astype(np.float32), (before, after)))
    nets = _networks_in_dtype(members, dtype)
    total = torch.zeros(n + window)
    starts = torch.zeros(n + window)  # 1 where a window starts (padded coordinates)

    def add(first: int, n_windows: int) -> None:
        # windows centred on first, first + stride, … start at the same padded indices
        span = (n_windows - 1) * stride + window
        windows = padded[first : first + span].unfold(0, window, stride).to(dtype)
        pred = nets[0](windows).float()
        for net in nets[1:]:
            pred += net(windows).float()
        pred /= len(nets)
        stop = first + (n_windows - 1) * stride + 1
        starts[first:stop:stride] = 1.0
        for k in range(window):
            total[first + k : stop + k : stride] += pred[:, k]

    n_regular = (n - 1) // stride + 1
    per_batch = max(1, int(batch_size))
    for start in range(0, n_regular, per_batch):
        add(start * stride, min(per_batch, n_regular - start))
    if (n - 1) % stride:
        add(n - 1, 1)  # the last sample always covered
    # windows covering each sample: the window starts summed over one window length
    count = torch.nn.functional.conv1d(
        torch.nn.functional.pad(starts, (window - 1, 0))[None, None], torch.ones(1, 1, window)
    )[0, 0]
    out = total[before : before + n] / count[before : before + n].clamp_min(1)
    return out.numpy()


# CASCADE traces are cut into tiles of TILE_FRAMES outputs (each with the 63 frames of context
# its windows need) and run TILES_PER_CALL tiles at a time: the same numbers as one whole-trace
# call, about 1.3x faster on one thread because the intermediate activations of a call
# (30 channels x 16k frames) stay close to cache.
TILE_FRAMES = 2048
TILES_PER_CALL = 8


@torch.inference_mode()
def _predict_every_frame(members, x: np.ndarray, window: int) -> np.ndarray:
    """CASCADE: mean over the members of the rate at every frame of ``x`` (n_frames,)."""
    before, after = window_offsets(window)
    n = x.size
    n_tiles = -(-n // TILE_FRAMES)
    padded = np.pad(x.astype(np.float32), (before, after + n_tiles * TILE_FRAMES - n))
    tiles = torch.from_numpy(padded).unfold(0, TILE_FRAMES + window - 1, TILE_FRAMES)
    total = torch.zeros(n_tiles, TILE_FRAMES)
    for member in members:
        for first in range(0, n_tiles, TILES_PER_CALL):
            total[first : first + TILES_PER_CALL] += member.forward_trace(
                tiles[first : first + TILES_PER_CALL]
            )
    return (total.reshape(-1)[:n] / len(members)).numpy()


def predict_model_rate(
    model: SpikeModel,
    dff_model_rate: np.ndarray,
    nu: float,
    *,
    stride: int = 1,
    batch_size: int = 2048,
    precision: str = "fp32",
) -> np.ndarray:
    """Rate (spikes per model frame) of a trace already at the model's frame rate.

    NaN frames split the trace into segments predicted separately (zero padding at segment
    ends, as at trace ends); they are NaN in the output. Negative ensemble averages are set
    to 0. Segments shorter than a window are zero-padded like trace ends (documented
    behaviour: predictions there see less context). ``precision`` (ENS² only; see
    :func:`inference_dtype`): ``"fp32"``, ``"bf16"`` or ``"auto"``.
    """
    dtype = inference_dtype(precision)
    if stride < 1:
        raise ValueError(f"stride must be >= 1 sample, got {stride}")
    x = np.asarray(dff_model_rate, np.float32)
    out = np.full(x.size, np.nan, np.float32)
    members = model.members_for(nu)
    for start, stop in _segments(np.isfinite(x)):
        seg = x[start:stop]
        if model.kind == "ens2":
            pred = _predict_sequence_windows(members, seg, model.window, stride, batch_size, dtype)
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
    precision: str = "fp32",
    name: str = "trace",
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
    model_rate = predict_model_rate(model, resampled, nu, stride=stride, precision=precision)
    # Back to the input frame times: the rate in Hz is smooth, so linear interpolation keeps
    # its integral; frames inside a NaN gap of the input are NaN again.
    t_model = np.arange(model_rate.size) / model_fr
    t_in = np.arange(x.size) / rate
    finite = np.isfinite(model_rate)
    rate_hz = np.interp(t_in, t_model[finite], model_rate[finite] * model_fr)
    rate_hz[~np.isfinite(x)] = np.nan
    return RatePrediction(rate_hz.astype(np.float32), model_rate, model_fr, nu)
