"""NMF of population activity with AIC model selection (Carbonero et al. 2024, Sci Rep).

A time × neurons activity matrix X (ΔF/F or fluorescence) is scaled by one global min-max
normalisation to [0, 1] — the same affine map for every neuron, so relative amplitudes between
neurons survive — and factorised as ``X ≈ W H`` with W (time × k) the components' time courses
and H (k × neurons) each neuron's weight in each component ("sub-network").

Fit quality and model selection:

* ``R² = 1 − SS_res / SS_tot`` with ``SS_res = Σ (X − WH)²`` and ``SS_tot = Σ (X − mean X)²``.
* ``AIC = 2 · (SS_res / (2σ²) + k · (n + t))`` with σ² the variance of all entries of the
  normalised X, n neurons and t time points.
* k grows from 1; the first k whose AIC is larger than the previous one stops the search and the
  previous k is chosen. NNDSVD initialisation and the coordinate-descent solver are deterministic,
  so the model kept from the search is exactly the refit at the chosen k.
"""

from __future__ import annotations

import logging
import time
import warnings

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import NMF
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted

logger = logging.getLogger(__name__)

__all__ = [
    "MinMaxScaling",
    "NMFSelector",
    "aic",
    "check_activity_matrix",
    "first_increase",
    "global_min_max",
    "r_squared",
]


def check_activity_matrix(
    X, name: str = "activity matrix", neuron_names=None, min_time_points: int = 2
) -> np.ndarray:
    """Validate a time × neurons matrix and return it as float64.

    Raises:
        ValueError: not 2-D, too few rows or columns, NaN / infinite entries (naming the
            neurons that hold them), or every entry equal.
    """
    X = np.asarray(X, dtype=float)
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (time × neurons), got shape {X.shape}")
    t, n = X.shape
    if t < min_time_points or n < 1:
        raise ValueError(
            f"{name} needs ≥ {min_time_points} time points and ≥ 1 neuron, got shape {X.shape}"
        )
    bad = ~np.isfinite(X)
    if bad.any():
        cols = np.flatnonzero(bad.any(axis=0))
        labels = [str(neuron_names[c]) if neuron_names is not None else str(c) for c in cols]
        shown = ", ".join(labels[:10]) + (" …" if len(labels) > 10 else "")
        raise ValueError(
            f"{name} has {int(bad.sum())} NaN or infinite entries in {len(cols)} neuron(s): "
            f"{shown}. Interpolate or drop them before decomposing."
        )
    if X.max() == X.min():
        raise ValueError(
            f"{name} is constant (every entry equals {X.flat[0]!r}): min-max normalisation is "
            "undefined and there is nothing to decompose"
        )
    return X


def global_min_max(X: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Scale X to [0, 1] with its global minimum and maximum.

    Returns ``(X_scaled, minimum, maximum)``. Entries are clipped to [0, 1] against rounding, so
    the result is non-negative by construction; the minimum maps to exactly 0 and the maximum
    to exactly 1.
    """
    lo, hi = float(X.min()), float(X.max())
    span = hi - lo
    if not np.isfinite(span):  # range overflows float64: scale down first
        scale = max(abs(lo), abs(hi))
        Xs = X / scale
        lo_s, hi_s = lo / scale, hi / scale
        out = (Xs - lo_s) / (hi_s - lo_s)
    else:
        out = (X - lo) / span
    return np.clip(out, 0.0, 1.0), lo, hi


class MinMaxScaling:
    """The fitted global min-max map x ↦ (x − min) / (max − min)."""

    def __init__(self, minimum: float, maximum: float):
        self.minimum, self.maximum = minimum, maximum

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """Apply the training map (new data may leave [0, 1]; NMF transforms are clipped)."""
        return (X - self.minimum) / (self.maximum - self.minimum)


def r_squared(X: np.ndarray, X_hat: np.ndarray) -> float:
    """R² = 1 − Σ(X − X̂)² / Σ(X − mean X)² over all entries (mean over the whole matrix)."""
    ss_res = float(np.sum((X - X_hat) ** 2))
    ss_tot = float(np.sum((X - X.mean()) ** 2))
    return 1.0 - ss_res / ss_tot


def aic(ss_res: float, sigma2: float, k: int, n_neurons: int, n_time: int) -> float:
    """AIC = 2 · (SS_res / (2σ²) + k · (n + t))."""
    return 2.0 * (ss_res / (2.0 * sigma2) + k * (n_neurons + n_time))


def first_increase(values) -> int:
    """Index of the value before the first increase (the last index if none increases)."""
    values = np.asarray(values, float)
    for i in range(1, len(values)):
        if values[i] > values[i - 1]:
            return i - 1
    return len(values) - 1


class NMFSelector(TransformerMixin, BaseEstimator):
    """NMF with global min-max normalisation and AIC selection of the number of components.

    Parameters:
        n_components: fix k (no selection); ``None`` selects k by AIC.
        max_components: the largest k the search tries (default ``min(t, n)``).
        early_stop: stop the search at the first AIC increase (as the paper). ``False`` fits
            every k up to ``max_components`` (full R² / AIC curves); the selection rule, applied to
            the curve, gives the same k.
        max_iter: iteration limit of :class:`sklearn.decomposition.NMF`.
        tol: stopping tolerance of :class:`sklearn.decomposition.NMF`.
        alpha_W: regularisation of W (0: none, as the paper).
        alpha_H: regularisation of H (0: none, as the paper).
        l1_ratio: L1 share of the regularisation.
        random_state: seed of the randomised SVD inside NNDSVD.
        solver_dtype: precision of the factorisation ("float32" halves the solver time; the
            data lie in [0, 1], and R², AIC and σ² are always computed in float64).

    Attributes (after ``fit``):
        n_components_: chosen k.
        components_: H, (k, neurons), each neuron's weight per component.
        time_courses_: W, (time, k), the components' activity on the training data.
        assignment_: (neurons,), component of largest weight for each neuron.
        n_components_tried_: the k values fitted, (m,).
        aic_, r2_, ss_res_: curves over ``n_components_tried_``, (m,).
        sigma2_: variance of all entries of the normalised X.
        scaling_: the :class:`MinMaxScaling` fitted on X.
        fit_times_s_: seconds per fit in the search, (m,); ``fit_time_s_`` of the chosen one.
        reconstruction_err_, n_iter_: of the chosen model.
    """

    def __init__(
        self,
        n_components: int | None = None,
        max_components: int | None = None,
        early_stop: bool = True,
        max_iter: int = 200,
        tol: float = 1e-4,
        alpha_W: float = 0.0,
        alpha_H: float | str = "same",
        l1_ratio: float = 0.0,
        random_state: int | None = 0,
        solver_dtype: str = "float32",
    ):
        self.n_components = n_components
        self.max_components = max_components
        self.early_stop = early_stop
        self.max_iter = max_iter
        self.tol = tol
        self.alpha_W = alpha_W
        self.alpha_H = alpha_H
        self.l1_ratio = l1_ratio
        self.random_state = random_state
        self.solver_dtype = solver_dtype

    # -- helpers ---------------------------------------------------------------------------
    def _nmf(self, k: int) -> NMF:
        return NMF(
            n_components=k,
            init="nndsvd",
            solver="cd",
            beta_loss="frobenius",
            max_iter=self.max_iter,
            tol=self.tol,
            alpha_W=self.alpha_W,
            alpha_H=self.alpha_H,
            l1_ratio=self.l1_ratio,
            random_state=self.random_state,
        )

    def _fit_one(self, X: np.ndarray, k: int) -> tuple[NMF, np.ndarray, float]:
        model = self._nmf(k)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            W = model.fit_transform(X).astype(float)
        elapsed = time.perf_counter() - start
        if model.n_iter_ >= self.max_iter:
            logger.debug("NMF with k=%d stopped at max_iter=%d", k, self.max_iter)
        return model, W, elapsed

    @staticmethod
    def _check_k(k, limit: int, name: str) -> int:
        if int(k) != k or k < 1:
            raise ValueError(f"{name} must be a positive integer, got {k!r}")
        if k > limit:
            raise ValueError(
                f"{name}={k} exceeds min(time points, neurons)={limit}: NMF cannot have more "
                "components than the smaller side of the matrix"
            )
        return int(k)

    # -- API -------------------------------------------------------------------------------
    def fit(self, X, y=None, neuron_names=None) -> NMFSelector:
        """Normalise X (time × neurons), select k by AIC (or use ``n_components``) and fit.

        Args:
            X: activity matrix, (time, neurons). NaN, infinite or constant input is refused.
            y: ignored.
            neuron_names: labels used in error messages.
        """
        X = check_activity_matrix(X, neuron_names=neuron_names)
        Xn, lo, hi = global_min_max(X)
        self.scaling_ = MinMaxScaling(lo, hi)
        t, n = Xn.shape
        limit = min(t, n)
        self.sigma2_ = float(Xn.var())
        if self.n_components is not None:
            ks = [self._check_k(self.n_components, limit, "n_components")]
        else:
            k_max = limit if self.max_components is None else self.max_components
            ks = list(range(1, self._check_k(k_max, limit, "max_components") + 1))
        ss_tot = float(np.sum((Xn - Xn.mean()) ** 2))
        if self.solver_dtype not in ("float32", "float64"):
            raise ValueError(
                f"solver_dtype must be 'float32' or 'float64', not {self.solver_dtype!r}"
            )
        X_solver = Xn.astype(self.solver_dtype)
        tried, aics, r2s, ss_res_list, times, fits = [], [], [], [], [], []
        for k in ks:
            model, W, elapsed = self._fit_one(X_solver, k)
            ss_res = float(np.sum((Xn - W @ model.components_.astype(float)) ** 2))
            tried.append(k)
            aics.append(aic(ss_res, self.sigma2_, k, n, t))
            r2s.append(1.0 - ss_res / ss_tot)
            ss_res_list.append(ss_res)
            times.append(elapsed)
            fits.append((model, W))
            searching = self.n_components is None and self.early_stop
            if searching and len(aics) > 1 and aics[-1] > aics[-2]:
                break
        best = 0 if self.n_components is not None else first_increase(aics)
        if self.n_components is None and best == len(ks) - 1:
            logger.warning(
                "AIC kept decreasing up to max_components=%d; choosing k=%d", ks[-1], ks[-1]
            )
        model, W = fits[best]
        self.model_ = model
        self.n_components_ = tried[best]
        self.components_ = model.components_.astype(float)
        self.time_courses_ = W
        self.assignment_ = np.argmax(self.components_, axis=0)
        self.n_components_tried_ = np.asarray(tried)
        self.aic_ = np.asarray(aics)
        self.r2_ = np.asarray(r2s)
        self.ss_res_ = np.asarray(ss_res_list)
        self.fit_times_s_ = np.asarray(times)
        self.fit_time_s_ = float(times[best])
        self.reconstruction_err_ = float(model.reconstruction_err_)
        self.n_iter_ = int(model.n_iter_)
        self.n_features_in_ = n
        return self

    def transform(self, X) -> np.ndarray:
        """Time courses (time, k) of new data under the fitted weights and normalisation."""
        check_is_fitted(self, "components_")
        X = check_activity_matrix(X, min_time_points=1)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} neurons, the model {self.n_features_in_}")
        Xn = np.clip(self.scaling_(X), 0.0, None)
        return self.model_.transform(Xn.astype(self.solver_dtype)).astype(float)

    def inverse_transform(self, W) -> np.ndarray:
        """Reconstruction W H in the normalised units, (time, neurons)."""
        check_is_fitted(self, "components_")
        return np.asarray(W) @ self.components_

    def score(self, X, y=None) -> float:
        """R² of the reconstruction of X (normalised with the training map)."""
        check_is_fitted(self, "components_")
        X = check_activity_matrix(X, min_time_points=1)
        Xn = np.clip(self.scaling_(X), 0.0, None)
        W = self.model_.transform(Xn.astype(self.solver_dtype)).astype(float)
        return r_squared(Xn, W @ self.components_)
