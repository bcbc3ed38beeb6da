"""Spike rates frame by frame, for closed-loop experiments: :class:`SpikeStream`.

A causal zoo's windows end at the predicted frame, so the rate of frame t is final once frame
t has arrived. The stream keeps, per cell, the last ``window − 1`` frames; each
:meth:`SpikeStream.push` evaluates only the new frames (every member of the cell's ensemble,
cells of one noise level in one batch) and returns their rates in Hz. The numbers are the
batch call's (``infer_spikes(..., causal=True)``) on the same frames: zeros before the first
frame, a NaN frame ends a segment (its rate is NaN and the next segment starts from zeros), and
negative ensemble means are clipped at 0.

    stream = SpikeStream(frame_rate_hz=30.0, baseline=dff_first_minute)  # (n_cells, n_frames)
    for frames in acquisition:              # (n_cells, n_new) ΔF/F
        rates_hz = stream.push(frames)      # (n_cells, n_new)

The noise level ν that picks each cell's ensemble comes from ``baseline`` (ΔF/F recorded
before the closed loop starts, as for the batch call's whole trace) or is given directly.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from calcium_dynamics.models.spike_models import SpikeModel
from calcium_dynamics.signal.noise import noise_level_nu
from calcium_dynamics.signal.validation import check_frame_rate

#: streams do not resample: the recording must be within this fraction of the model's rate
#: (the batch call skips resampling within the same tolerance)
RATE_TOLERANCE = 0.05


class SpikeStream:
    """Causal spike rates of ``n_cells`` cells, pushed a few frames at a time.

    Args:
        model: ``"auto"`` (the shipped causal zoo for ``cell_class`` nearest the frame rate), a
            causal model's name or file, or a causal :class:`SpikeModel`.
        frame_rate_hz: the recording's frame rate (Hz); within 5 % of the model's.
        baseline: ΔF/F (n_cells, n_frames) recorded before streaming, to measure each cell's
            ν; or give ``noise_level_nu``.
        noise_level_nu: each cell's ν (%·Hz^-½ at the model's rate), shape (n_cells,).
        cell_class: ``"excitatory"`` or ``"inhibitory"`` (for ``"auto"``).
        project_path: project whose shipped models are used (default: this one).

    Attributes:
        latency_s: wall-clock seconds of every push so far.
    """

    def __init__(
        self,
        model: str | Path | SpikeModel = "auto",
        *,
        frame_rate_hz: float,
        baseline: np.ndarray | None = None,
        noise_level_nu: np.ndarray | list[float] | None = None,
        cell_class: str = "excitatory",
        project_path: str | Path | None = None,
    ):
        from calcium_dynamics.models.spikes.api import model_set

        rate = check_frame_rate(frame_rate_hz, "SpikeStream")
        cand = model_set(model, cell_class=cell_class, project_path=project_path, causal=True)
        cand = cand.choose(rate)
        self.model, self.name = cand.model, cand.name
        if abs(rate / self.model.frame_rate_hz - 1) >= RATE_TOLERANCE:
            raise ValueError(
                f"SpikeStream: the recording's {rate:g} Hz is not within 5 % of "
                f"{self.name}'s {self.model.frame_rate_hz:.4g} Hz (streams do not resample); "
                "train a causal zoo at this rate (zoo_training --causal --frame-rate ...)"
            )
        self.frame_rate_hz = rate
        if (baseline is None) == (noise_level_nu is None):
            raise ValueError("SpikeStream: give exactly one of baseline= or noise_level_nu=")
        if baseline is not None:
            base = np.asarray(baseline, np.float64)
            if base.ndim != 2:
                raise ValueError(f"baseline must be (n_cells, n_frames), got shape {base.shape}")
            nus = np.array([noise_level_nu_of(b, rate, i) for i, b in enumerate(base)])
        else:
            nus = np.atleast_1d(np.asarray(noise_level_nu, np.float64))
            bad = np.flatnonzero(~(np.isfinite(nus) & (nus > 0)))
            if nus.ndim != 1 or bad.size:
                raise ValueError(
                    f"noise_level_nu must be positive numbers, one per cell; cell(s) "
                    f"{bad.tolist()} are not"
                )
        self.noise_level_nu = nus
        self.n_cells = nus.size
        self.levels = np.array([self.model.level_for(nu) for nu in nus])
        self.context = self.model.window - 1
        self.history = np.zeros((self.n_cells, self.context), np.float32)
        self.frames_seen = 0
        self.latency_s: list[float] = []

    @torch.inference_mode()
    def push(self, frames: np.ndarray) -> np.ndarray:
        """Rates (Hz, float32) of the new frames: ``frames`` (n_cells, n_new) ΔF/F (a 1-D
        array is one frame of every cell); NaN frames give NaN and restart that cell."""
        start = time.perf_counter()
        x = np.asarray(frames, np.float32)
        if x.ndim == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[0] != self.n_cells:
            raise ValueError(
                f"push expects (n_cells={self.n_cells}, n_new) frames, got shape {x.shape}"
            )
        out = np.full(x.shape, np.nan, np.float32)
        clean = np.isfinite(x).all(1)
        for level in np.unique(self.levels):
            cells = np.flatnonzero((self.levels == level) & clean)
            if cells.size:
                out[cells] = self._rates(level, self.history[cells], x[cells])
                self._remember(cells, x[cells])
        for cell in np.flatnonzero(~clean):  # segments split at NaN frames
            self._push_with_gaps(cell, x[cell], out[cell])
        self.frames_seen += x.shape[1]
        self.latency_s.append(time.perf_counter() - start)
        return out

    def _rates(self, level: float, history: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Hz at the new frames of cells (rows) sharing one ensemble."""
        inp = torch.from_numpy(np.concatenate([history, x], axis=1))
        members = self.model.ensembles[level]
        total = members[0].forward_trace(inp)
        for net in members[1:]:
            total += net.forward_trace(inp)
        rate = (total / len(members)).clamp_min(0.0).numpy()
        # spikes per frame → Hz at the recording's rate (the batch call does the same: within
        # 5 % of the model's rate the trace is not resampled and keeps its own rate)
        return rate * np.float32(self.frame_rate_hz)

    def _remember(self, cells: np.ndarray, x: np.ndarray) -> None:
        both = np.concatenate([self.history[cells], x], axis=1)
        self.history[cells] = both[:, -self.context :]

    def _push_with_gaps(self, cell: int, x: np.ndarray, out: np.ndarray) -> None:
        finite = np.isfinite(x)
        edges = np.diff(np.concatenate([[0], finite.astype(np.int8), [0]]))
        starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        level, idx = self.levels[cell], np.array([cell])
        for a, b in zip(starts, stops):
            if a > 0:  # a NaN frame came before: the segment starts from zeros
                self.history[cell] = 0.0
            out[a:b] = self._rates(level, self.history[idx], x[None, a:b])[0]
            self._remember(idx, x[None, a:b])
        if not finite[-1]:
            self.history[cell] = 0.0


def noise_level_nu_of(dff: np.ndarray, frame_rate_hz: float, cell: int) -> float:
    """ν of one baseline trace; a ValueError naming the cell when it cannot be measured."""
    nu = noise_level_nu(dff, frame_rate_hz)
    if not (np.isfinite(nu) and nu > 0):
        raise ValueError(
            f"baseline of cell {cell}: its noise level cannot be measured (too short, constant "
            "or NaN); give noise_level_nu= instead"
        )
    return float(nu)
