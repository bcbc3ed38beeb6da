"""PCA, FastICA and UMAP decompositions of population activity, for comparison with NMF.

Preprocessing (Carbonero et al. 2024): the same global min-max normalisation as NMF; PCA and
FastICA then remove each neuron's mean (no per-neuron unit-variance scaling, so the relative
activity of the neurons is kept); UMAP embeds the neurons (rows of the transposed, normalised
matrix) in k dimensions.

Every estimator exposes ``components_`` (k × neurons: the neurons' weights),
``time_courses_`` (time × k, ``None`` for UMAP) and ``assignment_`` (component of largest
weight per neuron).

Sign convention: PCA and ICA components are only defined up to sign. By default
(``orient=True``) each component (weights and time course together, so their product is
unchanged) is flipped so that its largest-magnitude weight is positive. ``orient=False`` keeps
scikit-learn's signs (for PCA set by the time courses, for FastICA arbitrary), which makes
assignment by the largest weight fail for any component that comes out upside down.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import PCA, FastICA
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted

from calcium_dynamics.classical.nmf import (
    MinMaxScaling,
    check_activity_matrix,
    global_min_max,
    r_squared,
)

__all__ = [
    "ICADecomposition",
    "PCADecomposition",
    "UMAPDecomposition",
    "orient_components",
    "umap_available",
]


def orient_components(
    weights: np.ndarray, time_courses: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Flip each component so its largest-magnitude weight is positive.

    Args:
        weights: (k, neurons).
        time_courses: (time, k) or ``None``; flipped with the weights.

    Returns:
        ``(weights, time_courses, signs)`` with ``signs`` (k,) of ±1.
    """
    weights = np.asarray(weights, float)
    peak = weights[np.arange(weights.shape[0]), np.argmax(np.abs(weights), axis=1)]
    signs = np.where(peak < 0, -1.0, 1.0)
    weights = weights * signs[:, None]
    if time_courses is not None:
        time_courses = np.asarray(time_courses, float) * signs[None, :]
    return weights, time_courses, signs


def _oriented(weights, time_courses, orient: bool):
    if orient:
        return orient_components(weights, time_courses)
    return np.asarray(weights, float), time_courses, np.ones(np.shape(weights)[0])


def _check_k(k, limit: int) -> int:
    if k is None or int(k) != k or k < 1:
        raise ValueError(f"n_components must be a positive integer, got {k!r}")
    if k > limit:
        raise ValueError(
            f"n_components={k} exceeds min(time points, neurons)={limit} of the activity matrix"
        )
    return int(k)


class _CentredDecomposition(TransformerMixin, BaseEstimator):
    """Shared preprocessing: global min-max, then per-neuron mean removed."""

    def _prepare(self, X, neuron_names=None) -> np.ndarray:
        X = check_activity_matrix(X, neuron_names=neuron_names)
        Xn, lo, hi = global_min_max(X)
        self.scaling_ = MinMaxScaling(lo, hi)
        self.mean_ = Xn.mean(axis=0)
        self.n_features_in_ = Xn.shape[1]
        self._check = _check_k(self.n_components, min(Xn.shape))
        return Xn

    def _centre_new(self, X) -> np.ndarray:
        check_is_fitted(self, "components_")
        X = check_activity_matrix(X, min_time_points=1)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} neurons, the model {self.n_features_in_}")
        return self.scaling_(X) - self.mean_

    def score(self, X, y=None) -> float:
        """R² (same formula as NMF: global mean in SS_tot) of the reconstruction of X."""
        Xc = self._centre_new(X)
        Xn = Xc + self.mean_
        return r_squared(Xn, self.transform(X) @ self._reconstruction_basis() + self.mean_)


class PCADecomposition(_CentredDecomposition):
    """PCA of the min-max normalised, per-neuron-centred activity.

    Parameters:
        n_components: k.
        svd_solver: passed to :class:`sklearn.decomposition.PCA` ("full" is deterministic).
        orient: apply the sign convention (largest-magnitude weight positive).

    Attributes (after ``fit``):
        components_: principal axes, (k, neurons), sign-oriented.
        time_courses_: projections of the data on them, (time, k).
        explained_variance_ratio_: per component, of the per-neuron-centred data, (k,).
        r2_: (k,), R² of the reconstruction with the first 1..k components plus the
            neuron means, with NMF's formula (SS_tot around the global mean).
        assignment_, fit_time_s_.
    """

    def __init__(self, n_components: int = 5, svd_solver: str = "full", orient: bool = True):
        self.n_components = n_components
        self.svd_solver = svd_solver
        self.orient = orient

    def fit(self, X, y=None, neuron_names=None) -> PCADecomposition:
        Xn = self._prepare(X, neuron_names)
        Xc = Xn - self.mean_
        start = time.perf_counter()
        pca = PCA(n_components=self._check, svd_solver=self.svd_solver, random_state=0)
        scores = pca.fit_transform(Xc)
        self.fit_time_s_ = time.perf_counter() - start
        self.components_, self.time_courses_, self.signs_ = _oriented(
            pca.components_, scores, self.orient
        )
        self.explained_variance_ratio_ = pca.explained_variance_ratio_
        ss_tot = float(np.sum((Xn - Xn.mean()) ** 2))
        residual = Xc.copy()
        r2 = []
        for j in range(self._check):  # peel off one component at a time
            residual -= np.outer(self.time_courses_[:, j], self.components_[j])
            r2.append(1.0 - float(np.sum(residual**2)) / ss_tot)
        self.r2_ = np.asarray(r2)
        self.assignment_ = np.argmax(self.components_, axis=0)
        self.pca_ = pca
        return self

    def transform(self, X) -> np.ndarray:
        return self._centre_new(X) @ self.components_.T

    def _reconstruction_basis(self) -> np.ndarray:
        return self.components_


class ICADecomposition(_CentredDecomposition):
    """FastICA of the min-max normalised, per-neuron-centred activity.

    Parameters:
        n_components: k.
        weights: which matrix holds the neurons' weights: ``"unmixing"`` (the rows of the
            unmixing matrix, as Carbonero et al.) or ``"mixing"`` (the columns of the mixing
            matrix, the neurons' loadings on each source).
        max_iter, tol, fun: FastICA settings.
        random_state: seed of FastICA's initial unmixing matrix.
        orient: apply the sign convention (largest-magnitude weight positive).

    Attributes (after ``fit``):
        components_: (k, neurons), sign-oriented.
        time_courses_: estimated sources, (time, k), unit variance.
        mixing_: (neurons, k), oriented with the sources.
        assignment_, fit_time_s_, n_iter_.
    """

    def __init__(
        self,
        n_components: int = 5,
        weights: str = "unmixing",
        max_iter: int = 200,
        tol: float = 1e-4,
        fun: str = "logcosh",
        random_state: int | None = 0,
        orient: bool = True,
    ):
        self.n_components = n_components
        self.orient = orient
        self.weights = weights
        self.max_iter = max_iter
        self.tol = tol
        self.fun = fun
        self.random_state = random_state

    def fit(self, X, y=None, neuron_names=None) -> ICADecomposition:
        if self.weights not in ("unmixing", "mixing"):
            raise ValueError(f"weights must be 'unmixing' or 'mixing', got {self.weights!r}")
        Xn = self._prepare(X, neuron_names)
        Xc = Xn - self.mean_
        ica = FastICA(
            n_components=self._check,
            whiten="unit-variance",
            fun=self.fun,
            max_iter=self.max_iter,
            tol=self.tol,
            random_state=self.random_state,
        )
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            sources = ica.fit_transform(Xc)
        self.fit_time_s_ = time.perf_counter() - start
        raw = ica.components_ if self.weights == "unmixing" else ica.mixing_.T
        self.components_, self.time_courses_, self.signs_ = _oriented(raw, sources, self.orient)
        self.mixing_ = ica.mixing_ * self.signs_[None, :]
        self.unmixing_ = ica.components_ * self.signs_[:, None]
        self.assignment_ = np.argmax(self.components_, axis=0)
        self.n_iter_ = int(ica.n_iter_)
        self.ica_ = ica
        return self

    def transform(self, X) -> np.ndarray:
        return self._centre_new(X) @ self.unmixing_.T

    def _reconstruction_basis(self) -> np.ndarray:
        return self.mixing_.T


def umap_available() -> bool:
    """Whether the optional ``umap-learn`` package can be imported."""
    try:
        import umap  # noqa: F401
    except ImportError:
        return False
    return True


class UMAPDecomposition(BaseEstimator):
    """UMAP embedding of the neurons (rows of the normalised, transposed matrix) in k dims.

    Gives weights only (k × neurons); UMAP has no time courses and no variance explained.
    Needs the optional ``umap-learn`` package.

    Parameters:
        n_components: k.
        n_neighbors, min_dist: UMAP settings.
        random_state: seed (UMAP then runs single-threaded and reproducibly).
    """

    def __init__(
        self,
        n_components: int = 5,
        n_neighbors: int = 15,
        min_dist: float = 0.1,
        random_state: int | None = 0,
    ):
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.random_state = random_state

    def fit(self, X, y=None, neuron_names=None) -> UMAPDecomposition:
        try:
            import umap
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ImportError(
                "UMAP comparison needs the optional package umap-learn (pip install umap-learn)"
            ) from err
        X = check_activity_matrix(X, neuron_names=neuron_names)
        Xn, _, _ = global_min_max(X)
        k = _check_k(self.n_components, min(Xn.shape))
        if Xn.shape[1] <= k + 1:
            raise ValueError(f"UMAP needs more than n_components + 1 = {k + 1} neurons")
        reducer = umap.UMAP(
            n_components=k,
            n_neighbors=min(self.n_neighbors, Xn.shape[1] - 1),
            min_dist=self.min_dist,
            random_state=self.random_state,
            n_jobs=1,
        )
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            embedding = reducer.fit_transform(Xn.T)
        self.fit_time_s_ = time.perf_counter() - start
        self.components_ = np.asarray(embedding, float).T
        self.time_courses_ = None
        self.assignment_ = np.argmax(self.components_, axis=0)
        self.n_features_in_ = Xn.shape[1]
        return self
