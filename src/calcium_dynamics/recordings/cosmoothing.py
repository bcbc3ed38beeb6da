"""Held-out neuron prediction ("co-smoothing") on real recordings, where no latent truth exists.

Every model sees only the *held-in* neurons. A linear readout — ridge regression with the
penalty chosen by leave-one-out cross-validation on the training trials
(``sklearn.linear_model.RidgeCV``) — maps the model's per-bin representation (GPFA latents, HMM
state probabilities, LFADS factors), with causal exponential filters of it so that the slow
calcium response can be expressed, to the *held-out* neurons' ΔF/F on the training trials. It
then predicts them on the test trials, which neither the model nor the readout has seen. The
same readout serves every model, so the scores compare representations, not observation models.

Scores per held-out neuron: R² on the test trials and the Gaussian log-likelihood per bin
(nats) of its ΔF/F under the prediction with the residual variance of the training trials,
also as a gain over the neuron's training mean (the ``mean`` reference, gain 0). A ``psth``
reference (the training trials' condition average) says what trial-averaged structure alone
explains: single-trial models should beat it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import RidgeCV

#: ridge penalties tried (on z-scored features)
ALPHAS = np.logspace(-3, 4, 15)
SCORE_COLUMNS = ["model", "neuron", "r2", "ll_per_bin", "ll_gain_per_bin"]


def filtered_features(z: np.ndarray, taus_bins: list[float]) -> np.ndarray:
    """Features ``[z_t, (k_τ1 ∗ z)_t, …]`` per bin: the representation and its causal
    exponential filters (unit-gain kernels of time constants τ in bins, restarted at each
    trial's start) — the shape a calcium indicator gives a rate, so ΔF/F that lags the latent
    can be expressed linearly.

    Args:
        z: (n_trials, n_bins, d) representation.
        taus_bins: time constants in bins (> 0); empty: the representation alone.

    Returns:
        (n_trials · n_bins, d · (1 + len(taus_bins))).
    """
    from scipy.signal import lfilter

    z = np.asarray(z, np.float64)
    parts = [z]
    for tau in taus_bins:
        if not tau > 0:
            raise ValueError(f"readout filter time constants must be > 0; got {tau} bins")
        a = np.exp(-1.0 / tau)
        parts.append(lfilter([1 - a], [1, -a], z, axis=1))
    feats = np.concatenate(parts, axis=2)
    return feats.reshape(-1, feats.shape[2])


def _gaussian_ll(y: np.ndarray, pred: np.ndarray, var: np.ndarray) -> np.ndarray:
    """Mean log N(y | pred, var) per bin, per neuron (nats); y, pred (n, m), var (m,)."""
    return -0.5 * (np.log(2 * np.pi * var) + (y - pred) ** 2 / var).mean(axis=0)


def _r2(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    ss_res = ((y - pred) ** 2).sum(axis=0)
    ss_tot = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
    return 1.0 - ss_res / np.maximum(ss_tot, 1e-12)


def score_predictions(
    model: str,
    neurons: list[str],
    y_train: np.ndarray,
    fit_train: np.ndarray,
    y_test: np.ndarray,
    pred_test: np.ndarray,
) -> pd.DataFrame:
    """Score test-trial predictions of the held-out neurons (one row per neuron).

    Args:
        model: name in the ``model`` column.
        neurons: the held-out neurons' ids (m,).
        y_train, fit_train: their training ΔF/F and the in-sample fit, (n_train_bins, m): the
            residual variance of the Gaussian likelihood comes from these.
        y_test, pred_test: test ΔF/F and the prediction, (n_test_bins, m).
    """
    shapes = {a.shape for a in (y_train, fit_train)} | {a.shape[1:] for a in (y_test, pred_test)}
    if len({s[-1] for s in shapes}) != 1 or y_test.shape != pred_test.shape:
        raise ValueError(f"{model}: data and predictions differ in shape ({shapes})")
    var = np.maximum(((y_train - fit_train) ** 2).mean(axis=0), 1e-10)
    mean = y_train.mean(axis=0)
    var_mean = np.maximum(y_train.var(axis=0), 1e-10)
    ll = _gaussian_ll(y_test, pred_test, var)
    ll_mean = _gaussian_ll(y_test, np.broadcast_to(mean, y_test.shape), var_mean)
    return pd.DataFrame(
        {
            "model": model,
            "neuron": list(neurons),
            "r2": _r2(y_test, pred_test),
            "ll_per_bin": ll,
            "ll_gain_per_bin": ll - ll_mean,
        },
        columns=SCORE_COLUMNS,
    )


def readout_scores(
    model: str,
    neurons: list[str],
    z_train: np.ndarray,
    y_train: np.ndarray,
    z_test: np.ndarray,
    y_test: np.ndarray,
    taus_bins: list[float],
) -> pd.DataFrame:
    """Ridge readout from a representation to held-out neurons, scored on the test trials.

    Args:
        z_train, z_test: (n_trials, n_bins, d) representation of the training / test trials,
            computed from the held-in neurons only.
        y_train, y_test: (n_trials, n_bins, m) the held-out neurons' ΔF/F.
        taus_bins: readout filter time constants in bins (see :func:`filtered_features`).
    """
    x_train = filtered_features(z_train, taus_bins)
    x_test = filtered_features(z_test, taus_bins)
    if not (np.isfinite(x_train).all() and np.isfinite(x_test).all()):
        raise ValueError(f"{model}: the representation holds NaN or inf; cannot score it")
    centre, scale = x_train.mean(axis=0), x_train.std(axis=0)
    scale[scale == 0] = 1.0
    x_train, x_test = (x_train - centre) / scale, (x_test - centre) / scale
    m = y_train.shape[2]
    yt = y_train.reshape(-1, m)
    ridge = RidgeCV(alphas=ALPHAS).fit(x_train, yt)
    return score_predictions(  # predict gives (n,) for one target: shape it (n, m)
        model,
        neurons,
        yt,
        ridge.predict(x_train).reshape(-1, m),
        y_test.reshape(-1, m),
        ridge.predict(x_test).reshape(-1, m),
    )


def condition_average(
    y_train: np.ndarray, cond_train: np.ndarray, cond_test: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Trial-averaged prediction (``psth``): each trial gets the mean of the training trials
    of its condition (the mean of all training trials for a condition absent from them).

    Returns:
        ``(fit_train, pred_test)`` of the shapes of the training / test trials.
    """
    overall = y_train.mean(axis=0)
    means = {c: y_train[cond_train == c].mean(axis=0) for c in np.unique(cond_train)}
    fit = np.stack([means[c] for c in cond_train])
    pred = np.stack([means.get(c, overall) for c in cond_test])
    return fit, pred
