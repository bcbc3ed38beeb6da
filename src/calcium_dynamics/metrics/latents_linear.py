"""Recovery of continuous latents up to a linear map (GPFA evaluation).

Latent models identify their latents only up to an invertible linear transform, so the inferred
latents are linearly regressed (least squares with an intercept) onto the true latents and the
fit is scored per true dimension.
"""

from __future__ import annotations

import numpy as np

__all__ = ["linear_latent_r2"]


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
    design = np.hstack([inferred, np.ones((inferred.shape[0], 1))])
    weights, *_ = np.linalg.lstsq(design, true, rcond=None)
    prediction = design @ weights
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
