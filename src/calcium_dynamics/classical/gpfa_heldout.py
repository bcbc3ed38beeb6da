"""Held-out latents of GPFA on one long recording: blocked cross-validation.

The recording (``(T, N)``) is cut into ``n_folds`` contiguous blocks. For each block a fresh
GPFA is fitted on the other bins (the stretches before and after the block, as two independent
sequences), infers latents on them and — with its parameters fixed — on the block. Scoring with
:func:`calcium_dynamics.metrics.latents_linear.heldout_latent_r2` then fits the linear map to
the true latents on the training bins and scores it on the block, so neither the GPFA nor the
map has seen the bins it is scored on.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from calcium_dynamics.classical.gpfa import GPFA
from calcium_dynamics.metrics.latents_linear import blocked_folds


def heldout_gpfa_latents(
    make_model: Callable[[], GPFA], X: np.ndarray, n_folds: int = 3
) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[tuple[int, int]]]:
    """Per fold, the training latents (bins outside the block, in time order, ``(T − t_k, q)``)
    and the block's latents (``(t_k, q)``) of a GPFA fitted without the block.

    Args:
        make_model: returns an unfitted :class:`GPFA` (same settings for every fold).
        X: the recording, ``(T, N)`` (ΔF/F, or spike counts for Poisson observations).
        n_folds: number of contiguous blocks (≥ 2).

    Returns:
        ``(fold_latents, folds)`` for ``metrics.latents_linear.heldout_latent_r2``.
    """
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X must be a (T, N) array, got shape {X.shape}")
    folds = blocked_folds(X.shape[0], n_folds)
    out = []
    for a, b in folds:
        train = [part for part in (X[:a], X[b:]) if part.shape[0]]
        model = make_model().fit(train)
        train_latents = np.concatenate(model.train_latents_)
        out.append((train_latents, model.transform(X[a:b])))
    return out, folds
