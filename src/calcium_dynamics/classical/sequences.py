"""Input checking shared by the sequence models (HMM, GPFA)."""

from __future__ import annotations

import numpy as np


def as_sequences(X, *, require_finite: bool = False) -> list[np.ndarray]:
    """One ``(T, N)`` array or a list of them (one per trial) → list of float64 arrays.

    Raises ``ValueError`` naming the sequence (and bin / neuron) for a wrong shape, a neuron
    count that differs between sequences, or, with ``require_finite``, a NaN or inf.
    """
    if isinstance(X, np.ndarray) and X.ndim == 2:
        seqs = [X]
    elif isinstance(X, list | tuple):
        seqs = list(X)
    else:
        raise ValueError(
            "X must be a (T, N) array or a list of (T_i, N) arrays (one per sequence / trial); "
            f"got {type(X).__name__} with shape {getattr(X, 'shape', None)}"
        )
    out = []
    for i, seq in enumerate(seqs):
        arr = np.asarray(seq, dtype=np.float64)
        if arr.ndim != 2:
            raise ValueError(f"sequence {i} must have shape (T, N); got shape {arr.shape}")
        if require_finite and not np.all(np.isfinite(arr)):
            bad_t, bad_n = np.argwhere(~np.isfinite(arr))[0]
            raise ValueError(
                f"sequence {i}: non-finite value (NaN or inf) at bin {bad_t}, neuron {bad_n}"
            )
        out.append(arr)
    n_neurons = {s.shape[1] for s in out}
    if len(n_neurons) != 1:
        raise ValueError(f"all sequences must have the same number of neurons; got {n_neurons}")
    return out
