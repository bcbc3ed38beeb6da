"""Write small ground-truth .mat files in the CASCADE database layout for tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import io as sio


def recording(n_frames=600, rate=30.0, spikes_s=(1.0, 2.5, 2.6, 10.0), dff=None, t=None) -> dict:
    """One recording struct: fluo_time (s), fluo_mean (ΔF/F), events_AP (10 kHz samples)."""
    if t is None:
        t = 0.2 + np.arange(n_frames) / rate
    if dff is None:
        rng = np.random.default_rng(n_frames)
        dff = rng.normal(0.0, 0.01, len(t))
    return {
        "fluo_time": np.asarray(t, float).reshape(1, -1),
        "fluo_mean": np.asarray(dff, float).reshape(-1, 1),
        "events_AP": (np.asarray(spikes_s, float) * 1e4).reshape(-1, 1),
    }


def write_neuron(path: Path, recordings: list[dict]) -> Path:
    cells = np.empty((1, len(recordings)), dtype=object)
    for i, rec in enumerate(recordings):
        cells[0, i] = rec
    path.parent.mkdir(parents=True, exist_ok=True)
    sio.savemat(path, {"CAttached": cells})
    return path
