"""What differs between ENS² and CASCADE, as one interface: :class:`SpikeKind`.

A :class:`~calcium_dynamics.models.spike_models.SpikeModel` holds its networks; its ``spec``
(an :class:`Ens2Kind` or a :class:`CascadeKind`) says how to build a network from a config, how
to predict the rate of a trace segment with an ensemble, how to turn rates into spike events,
whether the model keeps one ensemble per noise level, and whether it is tied to a frame rate.
Code that applies a model asks its spec instead of switching on the kind's name; a new kind is
one subclass here and one entry in :data:`KINDS`.
"""

from __future__ import annotations

import copy
import weakref
from abc import ABC, abstractmethod

import numpy as np
import torch
from torch import nn

from calcium_dynamics.models.cascade import CascadeNet
from calcium_dynamics.models.ens2 import UNet1d
from calcium_dynamics.models.ens2_inference import ChannelsLastUNet
from calcium_dynamics.signal.spike_events import greedy_spike_events, sampled_spike_events_many
from calcium_dynamics.signal.windows import window_offsets

PRECISIONS = ("fp32", "bf16", "auto")


def bf16_supported() -> bool:
    """Whether this CPU computes bfloat16 convolutions natively (AVX-512 BF16 or AMX)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def inference_dtype(precision: str) -> torch.dtype:
    """The dtype ENS² windows are evaluated in: ``"fp32"``; ``"bf16"`` (bfloat16 convolutions,
    float32 normalisations: ≈ 1.3× faster on CPUs with native bfloat16, rates within ≈ 1 % of
    fp32);
    ``"auto"``: bf16 where the CPU supports it natively, else fp32."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}; got {precision!r}")
    if precision == "bf16" or (precision == "auto" and bf16_supported()):
        return torch.bfloat16
    return torch.float32


# network → {dtype: (weight versions, inference copy)}; entries go when the network does
_CAST_COPIES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _weight_versions(net: nn.Module) -> tuple[int, ...] | None:
    """In-place-update counters of the network's weights (they change with every optimiser
    step or ``load_state_dict``), so a cached copy is rebuilt when its source is trained; None
    for weights made under ``torch.inference_mode`` (they keep no counter)."""
    params = list(net.parameters())
    if any(p.is_inference() for p in params):
        return None
    return tuple(p._version for p in params)


def _inference_copy(net: nn.Module, dtype: torch.dtype) -> nn.Module:
    """``net`` as it is evaluated in ``dtype``: U-Nets as a
    :class:`~.ens2_inference.ChannelsLastUNet` (same function, faster), other networks in
    float32 as they are, and copies cast to ``dtype`` otherwise. Copies are kept per network
    and weight version (made anew each call where the weights keep no version)."""
    fast = isinstance(net, UNet1d) and dtype in (torch.float32, torch.bfloat16)
    if dtype == torch.float32 and not fast:
        return net
    versions = _weight_versions(net)
    copies = _CAST_COPIES.setdefault(net, {})
    cached = copies.get(dtype)
    if versions is None or cached is None or cached[0] != versions:
        copy_ = ChannelsLastUNet(net, dtype) if fast else copy.deepcopy(net).to(dtype).eval()
        cached = (versions, copy_)
        if versions is not None:
            copies[dtype] = cached
    return cached[1]


def _networks_in_dtype(members, dtype: torch.dtype) -> list:
    """The ensemble's networks as evaluated in ``dtype`` (copies made once per network and
    weight version, and kept)."""
    return [_inference_copy(m, dtype) for m in members]


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
def _predict_every_frame(
    members, x: np.ndarray, window: int, causal: bool = False, mean: bool = True
) -> np.ndarray:
    """CASCADE: rate of every member at every frame of ``x`` (n_frames,): their mean
    (n_frames,), or each member's (n_members, n_frames) with ``mean=False``. ``causal``
    windows end at the predicted frame."""
    before, after = window_offsets(window, causal)
    n = x.size
    n_tiles = -(-n // TILE_FRAMES)
    padded = np.pad(x.astype(np.float32), (before, after + n_tiles * TILE_FRAMES - n))
    tiles = torch.from_numpy(padded).unfold(0, TILE_FRAMES + window - 1, TILE_FRAMES)
    each = torch.zeros(len(members), n_tiles, TILE_FRAMES)
    for i, member in enumerate(members):
        for first in range(0, n_tiles, TILES_PER_CALL):
            each[i, first : first + TILES_PER_CALL] = member.forward_trace(
                tiles[first : first + TILES_PER_CALL]
            )
    each = each.reshape(len(members), -1)[:, :n]
    return (each.mean(0) if mean else each).numpy()


class SpikeKind(ABC):
    """The behaviour of one kind of spike model (see the module docstring)."""

    name: str = ""
    #: one ensemble per noise level ν (routed by the trace's ν), or a single ensemble
    noise_specific: bool = False
    #: trained for one frame rate and served with a warning far from it
    frame_rate_specific: bool = False
    #: can be trained with windows that end at the predicted frame (closed-loop use)
    has_causal_form: bool = False

    @abstractmethod
    def build_network(self, config: dict) -> nn.Module:
        """An untrained network for ``config``."""

    def predict_segment(
        self,
        members: list[nn.Module],
        x: np.ndarray,
        window: int,
        *,
        stride: int = 1,
        batch_size: int = 2048,
        dtype: torch.dtype | None = None,
        causal: bool = False,
        mean: bool = True,
    ) -> np.ndarray:
        """Mean rate of the ensemble (spikes per model frame) at every frame of ``x``
        (finite ΔF/F at the model's frame rate, shape (n_frames,)); with ``mean=False`` each
        member's rate, (n_members, n_frames). ``causal``: windows end at the predicted frame
        (kinds without :attr:`has_causal_form` raise)."""
        if causal and not self.has_causal_form:
            raise ValueError(f"{self.name} has no causal form (its network sees whole windows)")
        dtype = torch.float32 if dtype is None else dtype
        return self._predict(members, x, window, stride, batch_size, dtype, causal, mean)

    @abstractmethod
    def _predict(self, members, x, window, stride, batch_size, dtype, causal, mean) -> np.ndarray:
        """:meth:`predict_segment` of this kind, arguments checked."""

    @abstractmethod
    def events(
        self, rates: list[np.ndarray], frame_rate_hz: float, sigma_s: float, rng
    ) -> list[np.ndarray]:
        """Spike times (s) of each rate (spikes per frame at ``frame_rate_hz``)."""


class Ens2Kind(SpikeKind):
    """ENS²: a 1-D U-Net over 96-sample windows at 60 Hz; every window covering a sample is
    averaged (``stride`` > 1 trades accuracy for speed); greedy spike events. Any recording is
    resampled to its rate by design, so it is not frame-rate specific."""

    name = "ens2"

    def build_network(self, config: dict) -> nn.Module:
        return UNet1d(int(config.get("base_channels", 9)))

    def _predict(self, members, x, window, stride, batch_size, dtype, causal, mean):
        if mean:
            return _predict_sequence_windows(members, x, window, stride, batch_size, dtype)
        return np.stack(
            [_predict_sequence_windows([m], x, window, stride, batch_size, dtype) for m in members]
        )

    def events(self, rates, frame_rate_hz, sigma_s, rng):
        return [greedy_spike_events(rate, frame_rate_hz, sigma_s) for rate in rates]


class CascadeKind(SpikeKind):
    """CASCADE: a zoo of 64-frame CNN ensembles, one per noise level, trained at one frame rate;
    every frame predicted in one tiled pass; events sampled ∝ rate and refined, vectorised over
    traces (``float32`` always: ``dtype`` applies to ENS² only)."""

    name = "cascade"
    noise_specific = True
    frame_rate_specific = True
    has_causal_form = True
    #: traces whose events are sampled together (bounds the sampler's memory)
    event_batch = 250

    def build_network(self, config: dict) -> nn.Module:
        return CascadeNet()

    def _predict(self, members, x, window, stride, batch_size, dtype, causal, mean):
        return _predict_every_frame(members, x, window, causal, mean)

    def events(self, rates, frame_rate_hz, sigma_s, rng):
        out: list[np.ndarray] = []
        for start in range(0, len(rates), self.event_batch):
            chunk = rates[start : start + self.event_batch]
            out += sampled_spike_events_many(chunk, frame_rate_hz, sigma_s, rng=rng)
        return out


#: the kinds a model file may name
KINDS: dict[str, SpikeKind] = {k.name: k for k in (Ens2Kind(), CascadeKind())}


def spike_kind(name: str) -> SpikeKind:
    """The :class:`SpikeKind` called ``name``; unknown names raise, listing the known ones."""
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(
            f"unknown spike model {name!r}; known models: {', '.join(KINDS)}"
        ) from None
