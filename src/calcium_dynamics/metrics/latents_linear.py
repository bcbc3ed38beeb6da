"""Recovery of continuous latents up to a linear map (GPFA evaluation).

Latent models identify their latents only up to an invertible linear transform, so the inferred
latents are linearly regressed (least squares with an intercept) onto the true latents and the
fit is scored per true dimension.
"""

from __future__ import annotations

import itertools

import numpy as np

__all__ = [
    "blocked_folds",
    "crossvalidated_linear_r2",
    "heldout_latent_r2",
    "linear_latent_r2",
]


def linear_latent_r2(inferred: np.ndarray, true: np.ndarray) -> dict[str, object]:
    """R² and MSE of the least-squares map from inferred to true latents.

    Args:
        inferred: inferred latents, shape ``(T, q_inferred)``.
        true: true latents, shape ``(T, q_true)``.

    Returns:
        ``{"r2_per_dim": list, "r2_mean": float, "mse_per_dim": list, "mse_mean": float,
        "prediction": (T, q_true) array}``; R² = 1 − residual variance / variance of the truth.
    """
    inferred = np.asarray(inferred, dtype=np.float64)
    true = np.asarray(true, dtype=np.float64)
    if inferred.ndim != 2 or true.ndim != 2 or inferred.shape[0] != true.shape[0]:
        raise ValueError(
            "inferred and true latents must be (T, q) arrays with the same T; got shapes "
            f"{inferred.shape} and {true.shape}"
        )
    if not (np.all(np.isfinite(inferred)) and np.all(np.isfinite(true))):
        raise ValueError("latents contain NaN or inf")
    if inferred.shape[0] <= inferred.shape[1] + 1:
        raise ValueError("need more time bins than inferred latent dimensions + 1")
    return _r2(apply_linear_map(inferred, fit_linear_map(inferred, true)), true)


def blocked_folds(n_time: int, n_folds: int) -> list[tuple[int, int]]:
    """Contiguous test blocks ``[(start, stop), …]`` that tile ``range(n_time)`` (near-equal)."""
    if n_folds < 2:
        raise ValueError(f"n_folds must be ≥ 2 for held-out scoring, got {n_folds}")
    if n_time < 2 * n_folds:
        raise ValueError(f"{n_time} bins are too few for {n_folds} folds")
    edges = np.linspace(0, n_time, n_folds + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in itertools.pairwise(edges)]


def _r2(prediction: np.ndarray, true: np.ndarray) -> dict[str, object]:
    mse = np.mean((true - prediction) ** 2, axis=0)
    var = np.var(true, axis=0)
    if np.any(var == 0):
        raise ValueError(f"true latent dimensions {np.flatnonzero(var == 0).tolist()} are constant")
    r2 = 1.0 - mse / var
    return {
        "r2_per_dim": r2.tolist(),
        "r2_mean": float(np.mean(r2)),
        "mse_per_dim": mse.tolist(),
        "mse_mean": float(np.mean(mse)),
        "prediction": prediction,
    }


def fit_linear_map(inferred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Least-squares weights ``(q_inferred + 1, q_true)`` (last row: intercept)."""
    design = np.hstack([inferred, np.ones((inferred.shape[0], 1))])
    weights, *_ = np.linalg.lstsq(design, true, rcond=None)
    return weights


def apply_linear_map(inferred: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return np.hstack([inferred, np.ones((inferred.shape[0], 1))]) @ weights


def heldout_latent_r2(
    fold_latents: list[tuple[np.ndarray, np.ndarray]],
    true: np.ndarray,
    folds: list[tuple[int, int]],
) -> dict[str, object]:
    """Cross-validated R² of latent recovery over contiguous blocks of one long sequence.

    For each fold ``k`` with test block ``folds[k] = (a, b)``, ``fold_latents[k]`` holds
    ``(train_inferred, test_inferred)``: the latents a model fitted *without* the block inferred
    on the training bins (every bin outside ``[a, b)``, in time order, shape
    ``(T − (b − a), q)``) and on the block (``(b − a, q)``). The linear map to the truth is
    fitted on the training bins only and applied to the block; R² = 1 − MSE / Var(truth) over
    all bins, each predicted by the fold that held it out.

    Latents independent of the truth score ≈ 0 or below (tested), whereas the in-sample
    :func:`linear_latent_r2` gives smooth independent latents high R².
    """
    true = np.asarray(true, dtype=np.float64)
    prediction = np.empty_like(true)
    for (a, b), (train_inferred, test_inferred) in zip(folds, fold_latents, strict=True):
        train_true = np.concatenate([true[:a], true[b:]])
        train_inferred = np.asarray(train_inferred, np.float64)
        if train_inferred.shape[0] != train_true.shape[0]:
            raise ValueError(
                f"fold {a}:{b}: {train_inferred.shape[0]} training latents for "
                f"{train_true.shape[0]} training bins"
            )
        weights = fit_linear_map(train_inferred, train_true)
        prediction[a:b] = apply_linear_map(np.asarray(test_inferred, np.float64), weights)
    return _r2(prediction, true)


def crossvalidated_linear_r2(
    inferred: np.ndarray, true: np.ndarray, n_folds: int = 5
) -> dict[str, object]:
    """:func:`heldout_latent_r2` for latents that are fixed (inferred once on all bins): only
    the linear map is held out. Use it for models that cannot be refitted per fold; it still
    credits the latent model with having seen the test bins."""
    inferred = np.asarray(inferred, dtype=np.float64)
    folds = blocked_folds(inferred.shape[0], n_folds)
    pairs = [(np.concatenate([inferred[:a], inferred[b:]]), inferred[a:b]) for a, b in folds]
    return heldout_latent_r2(pairs, true, folds)
