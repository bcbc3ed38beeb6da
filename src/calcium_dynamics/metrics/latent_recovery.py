"""Latent recovery: how well a linear map of inferred rates recovers the true latent states.

Protocol of Zhu et al. (2022): trials are split 80/20 into training and test sets in five
complementary ways (each trial is tested once); on each training set the ridge penalty is chosen
by 5-fold cross-validation over training trials; the map fitted on the whole training set is
scored on the test trials with the coefficient of determination R² per latent dimension; the
five R² values are averaged. Features can lead the latents by a lag (deconvolved events come
later than the spikes).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

DEFAULT_ALPHAS = tuple(float(a) for a in np.logspace(-3, 5, 17))


@dataclass(frozen=True)
class LatentRecovery:
    """Result of :func:`latent_r2`.

    Attributes:
        r2: mean held-out R² per latent dimension over the splits, shape (D,).
        r2_per_split: shape (n_splits, D).
        r2_per_trial: held-out R² of each trial (pooled over dimensions), shape (trials,).
        predictions: held-out predictions of every trial, shape (trials, T − lag, D).
        alphas: ridge penalty chosen in each split, shape (n_splits,).
        lag_bins: lag used.
    """

    r2: np.ndarray
    r2_per_split: np.ndarray
    r2_per_trial: np.ndarray
    predictions: np.ndarray
    alphas: np.ndarray
    lag_bins: int


def _check(features: np.ndarray, targets: np.ndarray, lag_bins: int) -> None:
    if features.ndim != 3 or targets.ndim != 3:
        raise ValueError(
            f"features and targets must be (trials, bins, ·); got {features.shape}, {targets.shape}"
        )
    if features.shape[:2] != targets.shape[:2]:
        raise ValueError(
            f"features {features.shape[:2]} and targets {targets.shape[:2]} differ in "
            "(trials, bins)"
        )
    if not 0 <= lag_bins < features.shape[1]:
        raise ValueError(f"lag_bins must be in [0, {features.shape[1]}); got {lag_bins}")
    if not np.isfinite(features).all():
        raise ValueError("features contain NaN or infinite values")
    if not np.isfinite(targets).all():
        raise ValueError("targets contain NaN or infinite values")


def _ridge_path(x: np.ndarray, y: np.ndarray, alphas: np.ndarray):
    """Weights and intercepts for every alpha (features standardised with x's statistics)."""
    mu, sd = x.mean(0), x.std(0)
    sd = np.where(sd > 0, sd, 1.0)
    xs = (x - mu) / sd
    ym = y.mean(0)
    evals, evecs = np.linalg.eigh(xs.T @ xs)
    proj = evecs.T @ (xs.T @ (y - ym))
    for alpha in alphas:
        w = evecs @ (proj / (evals + alpha)[:, None])
        yield alpha, w / sd[:, None], ym - (mu / sd) @ w


def _r2(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    ss_res = ((y - pred) ** 2).sum(0)
    ss_tot = ((y - y.mean(0)) ** 2).sum(0)
    return 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, np.nan)


def latent_r2(
    features: np.ndarray,
    targets: np.ndarray,
    *,
    n_splits: int = 5,
    inner_folds: int = 5,
    alphas: tuple[float, ...] | np.ndarray = DEFAULT_ALPHAS,
    lag_bins: int = 0,
    seed: int = 0,
    test_trials: np.ndarray | None = None,
) -> LatentRecovery:
    """Cross-validated ridge R² from features to latent states.

    With ``test_trials`` (e.g. the validation trials a latent model never trained on), there
    is one split: the map is fitted on the other trials and scored on these only (their
    predictions and per-trial R² are filled; the others are NaN).

    Args:
        features: inferred rates or other features, shape (trials, T, F).
        targets: true latent states, shape (trials, T, D).
        n_splits: complementary train / test splits over trials (test fraction 1 / n_splits).
        inner_folds: cross-validation folds (over training trials) for the ridge penalty.
        alphas: candidate ridge penalties (on standardised features).
        lag_bins: features at bin t + lag predict the latent at bin t.
        seed: seed of the trial permutation.
        test_trials: indices of the only test trials (one split; ``n_splits`` unused).
    """
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(targets, dtype=np.float64)
    _check(x, y, lag_bins)
    n_trials = x.shape[0]
    if n_splits < 2 or n_trials < n_splits or inner_folds < 2:
        raise ValueError(
            f"need n_splits >= 2, inner_folds >= 2 and at least n_splits trials; got "
            f"n_splits={n_splits}, inner_folds={inner_folds}, trials={n_trials}"
        )
    n_bins = x.shape[1] - lag_bins
    x, y = x[:, lag_bins:], y[:, :n_bins]
    alphas = np.asarray(alphas, dtype=np.float64)
    rng = np.random.default_rng(seed)
    fold = np.empty(n_trials, dtype=np.int64)
    fold[rng.permutation(n_trials)] = np.arange(n_trials) % n_splits
    if test_trials is not None:
        test_trials = np.unique(np.asarray(test_trials, dtype=np.int64))
        if test_trials.size == 0 or test_trials.size >= n_trials or test_trials.min() < 0:
            raise ValueError("test_trials must name some, not all, of the trials")
        if test_trials.max() >= n_trials:
            raise ValueError(f"test_trials index {test_trials.max()} ≥ {n_trials} trials")
        fold[:] = 1
        fold[test_trials] = 0
        n_splits = 1
    preds = np.full_like(y, np.nan) if test_trials is not None else np.zeros_like(y)
    r2_split, chosen = [], []

    def flat(a, idx):
        return a[idx].reshape(-1, a.shape[-1])

    for k in range(n_splits):
        train, test = np.flatnonzero(fold != k), np.flatnonzero(fold == k)
        inner = np.arange(train.size) % min(inner_folds, train.size)
        inner = inner[rng.permutation(train.size)]
        scores = np.zeros(alphas.size)
        for j in np.unique(inner):
            fit, val = train[inner != j], train[inner == j]
            yv = flat(y, val)
            for i, (_, w, b) in enumerate(_ridge_path(flat(x, fit), flat(y, fit), alphas)):
                scores[i] += ((yv - (flat(x, val) @ w + b)) ** 2).sum()
        best = alphas[int(np.argmin(scores))]
        _, w, b = next(_ridge_path(flat(x, train), flat(y, train), np.array([best])))
        pred = x[test] @ w + b
        preds[test] = pred
        r2_split.append(_r2(flat(y, test), pred.reshape(-1, y.shape[-1])))
        chosen.append(best)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # a latent constant within a trial
        per_trial = np.array(
            [
                np.nanmean(_r2(y[i].reshape(-1, y.shape[-1]), preds[i]))
                if np.isfinite(preds[i]).all()
                else np.nan
                for i in range(n_trials)
            ]
        )
    r2_split = np.asarray(r2_split)
    return LatentRecovery(
        r2=r2_split.mean(0),
        r2_per_split=r2_split,
        r2_per_trial=per_trial,
        predictions=preds,
        alphas=np.asarray(chosen),
        lag_bins=int(lag_bins),
    )


def smooth_frames(frames: np.ndarray, frame_rate_hz: float, sigma_s: float) -> np.ndarray:
    """Gaussian smoothing along time (axis 1) of (trials, frames, N) data; σ in seconds."""
    if frame_rate_hz <= 0 or sigma_s < 0:
        raise ValueError("frame_rate_hz must be > 0 and sigma_s >= 0")
    sigma = sigma_s * frame_rate_hz
    if sigma < 1e-3:
        return np.asarray(frames, dtype=np.float64)
    return ndimage.gaussian_filter1d(np.asarray(frames, float), sigma, axis=1, mode="nearest")


def frames_to_bins(frames: np.ndarray, frame_bins: int, n_bins: int) -> np.ndarray:
    """Linear interpolation of (trials, frames, N) frame values onto sub-frame bins.

    Frame k is placed at the centre of its bins, k·frame_bins + (frame_bins − 1)/2; values past
    the first / last frame centre are held constant.

    Returns:
        Shape (trials, n_bins, N).
    """
    f = np.asarray(frames, dtype=np.float64)
    centres = np.arange(f.shape[1]) * frame_bins + (frame_bins - 1) / 2.0
    t = np.arange(n_bins, dtype=np.float64)
    idx = np.clip(np.searchsorted(centres, t) - 1, 0, max(f.shape[1] - 2, 0))
    if f.shape[1] == 1:
        return np.repeat(f, n_bins, axis=1)
    w = np.clip((t - centres[idx]) / frame_bins, 0.0, 1.0)[None, :, None]
    return f[:, idx] * (1.0 - w) + f[:, idx + 1] * w
