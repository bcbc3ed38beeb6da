"""Gaussian-process factor analysis with Gaussian, Poisson or calcium observations.

Every latent ``x_j`` is an independent Gaussian process over time bins with the squared-exponential
covariance ``k(t, t') = (1 − ν) exp(−(t − t')² / 2ℓ_j²) + ν δ_tt'`` (ν = ``gp_noise_var``, the
small independent variance of Yu et al. 2009 that keeps the matrix well conditioned).

* ``observations="gaussian"``: ``y_t ~ N(C x_t + d, R)`` with diagonal R; fitted by exact EM
  (Yu et al. 2009): the E-step is the exact Gaussian posterior, the M-step updates C, d, R in
  closed form and each length scale by gradient ascent on the expected log prior. The SE
  covariance is symmetric Toeplitz, so the posterior precision commutes with time reversal; in
  the even / odd basis ``(x_t ± x_{T−1−t}) / √2`` it splits into two blocks of half the size,
  factorised once per segment length for all segments of that length (about a quarter of the
  dense cost, same numbers). The length-scale objective is split the same way.
* ``observations="poisson"``: spike counts ``s_t ~ Poisson(softplus(C x_t + d))``.
* ``observations="calcium"``: ΔF/F through the calcium AR(p)-Poisson likelihood of
  :mod:`calcium_dynamics.likelihoods.calcium` with rate ``softplus(C x_t + d)`` and
  per-neuron AR coefficients, jump and noise variance.

The two non-conjugate models are fitted by black-box variational inference: per segment and latent
the posterior is Gaussian in whitened coordinates, ``x_j = L_j v_j`` with ``L_j L_jᵀ = K_j`` and
``q(v_j) = N(m_j, diag(s_j²))`` (so the posterior over ``x_j`` has full covariance), and the ELBO
is estimated by Monte Carlo with reparameterised samples and maximised with Adam over the
variational and model parameters together.

Long recordings are cut into contiguous segments of at most ``segment_length`` bins that are
treated as independent trials (the usual GPFA practice); the calcium likelihood of a segment's
first bins uses the preceding ΔF/F samples as its autoregressive past.
"""

from __future__ import annotations

import functools
import itertools
import math
import warnings
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from scipy.linalg import lapack
from sklearn.base import BaseEstimator
from sklearn.decomposition import FactorAnalysis
from tqdm.auto import tqdm

from calcium_dynamics.classical.sequences import as_sequences
from calcium_dynamics.likelihoods.calcium import calcium_ar_poisson_log_likelihood

__all__ = [
    "GPFA",
    "gaussian_gpfa_posterior",
    "orthonormalize_latents",
    "se_covariance",
    "spectral_basis",
    "spectral_factor",
    "spectral_sd",
]

_OBSERVATIONS = ("gaussian", "poisson", "calcium")
_DEFAULT_AR = {1: (0.51,), 2: (1.81, -0.81)}
_LR_SCHEDULES = ("cosine", "constant")
_GP_BASES = ("exact", "spectral")
_LR_FINAL_FRACTION = 0.01  # cosine schedule: step size at the last step / learning_rate


def se_covariance(
    n_time: int, length_scale: torch.Tensor | float, gp_noise_var: float
) -> torch.Tensor:
    """Squared-exponential GP covariance on bins ``0..T−1`` (float64 torch, differentiable in ℓ).

    Args:
        n_time: number of bins T.
        length_scale: ℓ in bins, scalar (tensor or float).
        gp_noise_var: ν, independent variance on the diagonal; the marginal variance is 1.

    Returns:
        ``(T, T)`` covariance.
    """
    ell = torch.as_tensor(length_scale, dtype=torch.float64)
    t = torch.arange(n_time, dtype=torch.float64)
    sq = (t[:, None] - t[None, :]) ** 2
    return (1.0 - gp_noise_var) * torch.exp(-sq / (2.0 * ell**2)) + gp_noise_var * torch.eye(
        n_time, dtype=torch.float64
    )


def spectral_basis(n_time: int, n_basis: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Cosine basis of the spectral GP prior on a segment of T bins.

    The segment sits in the middle of a window of ``T_ext = 2T`` bins (T / 2 of padding on each
    side keeps the reflecting ends of the cosine basis away from the data). Basis function k is
    the orthonormal DCT-II vector ``√(α_k / T_ext) cos(π k (t + ½) / T_ext)`` of the window
    (α_0 = 1, α_k = 2), restricted to the segment's bins.

    Returns:
        ``(basis (T, M), omega (M,))``: M = min(n_basis, T_ext) functions and their angular
        frequencies ``π k / T_ext`` (radians / bin), float64.
    """
    n_ext = 2 * n_time
    n_basis = min(int(n_basis), n_ext)
    k = torch.arange(n_basis, dtype=torch.float64)
    t = torch.arange(n_time, dtype=torch.float64) + (n_ext - n_time) // 2
    omega = math.pi * k / n_ext
    alpha = torch.where(k == 0, 1.0, 2.0)
    basis = torch.sqrt(alpha / n_ext) * torch.cos(omega * (t[:, None] + 0.5))
    return basis, omega


@functools.lru_cache(maxsize=16)
def _cached_spectral_basis(n_time: int, n_basis: int) -> tuple[torch.Tensor, torch.Tensor]:
    return spectral_basis(n_time, n_basis)


def spectral_sd(length_scales: torch.Tensor, omega: torch.Tensor) -> torch.Tensor:
    """Prior s.d. of the basis weights: √S(ω_k) with the squared-exponential spectral density
    ``S(ω) = √(2π) ℓ exp(−ω²ℓ²/2)`` of a unit-variance GP; ``(q, M)`` for ℓ ``(q,)`` bins."""
    ell = length_scales[:, None]
    # in log space: the density underflows to 0 at high frequencies, where √ has no gradient
    log_density = 0.5 * math.log(2.0 * math.pi) + torch.log(ell) - 0.5 * (omega * ell) ** 2
    return torch.exp(0.5 * log_density)


def spectral_factor(basis: torch.Tensor, sd: torch.Tensor) -> torch.Tensor:
    """``A_j`` with ``x_j = A_j v_j``, ``v_j ~ N(0, I)``: the basis scaled by the weights' prior
    s.d. and each row normalised so that every bin has unit prior variance (the cosine window
    otherwise inflates the variance of latents whose ℓ approaches the segment length); the
    prior covariance ``A_j A_jᵀ`` is then a correlation matrix. ``(q, T, M)``."""
    scaled = basis[None] * sd[:, None, :]
    return scaled / torch.sqrt((scaled**2).sum(dim=-1, keepdim=True))


def constant_weights(factor: torch.Tensor, exact: bool) -> torch.Tensor:
    """Whitened weights ``w_j`` of the constant function: ``A_j w_j ≈ 1`` for the prior factors
    ``A_j`` ``(q, T, D)``; ``(q, D)``. Exact prior (``A_j`` the lower-triangular Cholesky factor,
    D = T): ``w_j = A_j⁻¹ 1``, exactly. Spectral prior: the least-squares weights (the basis holds
    the constant up to the row normalisation of :func:`spectral_factor`)."""
    q, n_time, n_dim = factor.shape
    ones = torch.ones(q, n_time, 1, dtype=factor.dtype)
    if exact:
        return torch.linalg.solve_triangular(factor, ones, upper=False)[..., 0]
    gram = factor.transpose(-1, -2) @ factor
    ridge = 1e-10 * gram.diagonal(dim1=-2, dim2=-1).sum(-1)[:, None, None]
    eye = torch.eye(n_dim, dtype=factor.dtype)
    return torch.linalg.solve(gram + ridge * eye, factor.transpose(-1, -2) @ ones)[..., 0]


def center_latents(factors: dict, var_params: dict, model: dict, exact: bool) -> torch.Tensor:
    """Move the mean of every latent over all segments into the offset, in place.

    With ``x_j = A_j v_j`` and rates from ``C x + d``, shifting each segment's whitened mean by
    ``−c_j w_j`` (``w_j``: :func:`constant_weights`) and the offset by ``+C c`` leaves ``C x + d``
    unchanged (up to the least-squares residual of the spectral basis), and
    ``c_j = Σ_s ⟨v_sj, w_j⟩ / (n_seg ‖w_j‖²)`` minimises the KL term ``½ Σ_s ‖v_sj − c_j w_j‖²``
    over the shift, so the move never raises it. Zero-mean GP latents that carry a baseline
    (a direction along which gradient steps crawl: the prior pulls the latent to 0 while the
    offset has to follow) are put back where the offset should hold it.

    Args:
        factors: segment length → prior factors ``(q, T, D)``.
        var_params: segment length → ``(mean (n_seg, q, D), log_sd)``; the means are shifted.
        model: model tensors; ``model["offset"]`` ``(N,)`` is shifted by ``loading @ c``.
        exact: whether the factors are Cholesky factors (see :func:`constant_weights`).

    Returns:
        c ``(q,)``: the constant moved out of each latent.
    """
    weights = {n_time: constant_weights(a, exact) for n_time, a in factors.items()}
    num = sum((mean * weights[n][None]).sum(dim=(0, 2)) for n, (mean, _) in var_params.items())
    den = sum(mean.shape[0] * (weights[n] ** 2).sum(-1) for n, (mean, _) in var_params.items())
    c = num / den
    for n_time, (mean, _) in var_params.items():
        mean -= c[None, :, None] * weights[n_time][None]
    model["offset"] += model["loading"] @ c
    return c


def _to_parity(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Orthogonal change of basis ``Qᵀ x`` along ``axis`` to the even / odd time-reversal parts.

    For ``T = 2h`` (``+1``): even coordinates ``(x_i + x_{T−1−i}) / √2`` for ``i < h`` (then the
    middle sample when T is odd), followed by odd coordinates ``(x_i − x_{T−1−i}) / √2``. A
    symmetric Toeplitz (more generally centrosymmetric) matrix is block-diagonal in this basis.
    """
    x = np.moveaxis(x, axis, -1)
    n_time = x.shape[-1]
    h = n_time // 2
    top, bottom = x[..., :h], x[..., ::-1][..., :h]
    parts = [(top + bottom) / math.sqrt(2.0)]
    if n_time % 2:
        parts.append(x[..., h : h + 1])
    parts.append((top - bottom) / math.sqrt(2.0))
    return np.moveaxis(np.concatenate(parts, axis=-1), -1, axis)


def _from_parity(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """Inverse of :func:`_to_parity` (``Q z``)."""
    z = np.moveaxis(z, axis, -1)
    n_time = z.shape[-1]
    h, n_even = n_time // 2, n_time - n_time // 2
    even, odd = z[..., :h], z[..., n_even:]
    out = np.empty_like(z)
    out[..., :h] = (even + odd) / math.sqrt(2.0)
    out[..., n_time - h :] = ((even - odd) / math.sqrt(2.0))[..., ::-1]
    if n_time % 2:
        out[..., h] = z[..., h]
    return np.moveaxis(out, -1, axis)


def _parity_blocks(mat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Diagonal blocks ``(Q_eᵀ A Q_e, Q_oᵀ A Q_o)`` of ``Qᵀ A Q`` for ``A`` of shape (..., T, T)."""
    n_time = mat.shape[-1]
    n_even = n_time - n_time // 2
    rotated = _to_parity(_to_parity(mat, -1), -2)
    return rotated[..., :n_even, :n_even], rotated[..., n_even:, n_even:]


def _chol_inverse(mat: np.ndarray) -> tuple[np.ndarray, float]:
    """Inverse and log-determinant of a symmetric positive-definite matrix (LAPACK potrf/potri)."""
    if mat.size == 0:  # the odd block of a one-bin segment
        return np.zeros_like(mat), 0.0
    chol, info = lapack.dpotrf(mat, lower=1)
    if info != 0:
        raise np.linalg.LinAlgError("matrix is not positive definite")
    inv, _ = lapack.dpotri(chol, lower=1)  # lower triangle; the upper one is zero (clean potrf)
    inv += inv.T
    inv[np.diag_indices_from(inv)] *= 0.5
    return inv, 2.0 * float(np.sum(np.log(np.diag(chol))))


@functools.lru_cache(maxsize=16)
def _parity_lags(n_time: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lags ``|i − k|`` and ``T − 1 − i − k`` for ``i, k < T // 2``, and ``h − i`` (odd T)."""
    h = n_time // 2
    i = np.arange(h)
    return np.abs(i[:, None] - i[None, :]), n_time - 1 - i[:, None] - i[None, :], h - i


def _toeplitz_parity_blocks(first_row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Even / odd blocks of the symmetric Toeplitz matrix with first row ``first_row`` (T,).

    ``A_even[i, k] = a(|i−k|) + a(T−1−i−k)`` and ``A_odd[i, k] = a(|i−k|) − a(T−1−i−k)`` for
    ``i, k < T // 2``; for odd T the even block also holds the middle sample (row / column
    ``√2 a(h − i)``, corner ``a(0)``). Built from the T lag values in O(T²) without forming A.
    """
    n_time = first_row.shape[0]
    near, far, mid = _parity_lags(n_time)
    direct, mirrored = first_row[near], first_row[far]
    even, odd = direct + mirrored, direct - mirrored
    if n_time % 2:
        column = math.sqrt(2.0) * first_row[mid]
        even = np.block([[even, column[:, None]], [column[None, :], first_row[:1, None]]])
    return even, odd


def _se_parity_blocks(
    n_time: int, length_scale: float, gp_noise_var: float, with_derivative: bool = False
):
    """Even / odd blocks of the SE covariance (and of its derivative in log ℓ)."""
    sq = np.arange(n_time, dtype=np.float64) ** 2
    se = (1.0 - gp_noise_var) * np.exp(-sq / (2.0 * length_scale**2))
    cov_row = se.copy()
    cov_row[0] += gp_noise_var
    k_even, k_odd = _toeplitz_parity_blocks(cov_row)
    if not with_derivative:
        return k_even, k_odd
    d_even, d_odd = _toeplitz_parity_blocks(se * sq / length_scale**2)
    return k_even, k_odd, d_even, d_odd


def _gaussian_posterior_parity(
    ys: np.ndarray,
    loading: np.ndarray,
    offset: np.ndarray,
    noise_var: np.ndarray,
    length_scales: np.ndarray,
    gp_noise_var: float,
):
    """Exact Gaussian GPFA posterior of equal-length segments, in the even / odd time basis.

    The posterior precision ``blockdiag_j(K_j⁻¹) + (Cᵀ R⁻¹ C) ⊗ I_T`` (latent-major) commutes with
    time reversal, so in the basis of :func:`_to_parity` it splits into an even and an odd block
    of about half the size: each is factorised once for all segments of this length.

    Args:
        ys: ``(S, T, N)``; loading ``(N, q)``; offset, noise_var ``(N,)``; length_scales ``(q,)``.

    Returns:
        ``(means (S, T, q), log_lik (S,), covs)`` where ``covs`` is ``(cov_even, cov_odd)``, the
        posterior covariance blocks of shape ``(q·n_p, q·n_p)`` (latent-major within a parity).
    """
    n_seg, n_time, n_neurons = ys.shape
    q = loading.shape[1]
    n_even = n_time - n_time // 2
    sizes = (n_even, n_time - n_even)
    c_rinv_c = loading.T @ (loading / noise_var[:, None])  # (q, q)
    precisions = [np.kron(c_rinv_c, np.eye(n)) for n in sizes]
    logdet_k = 0.0
    for j, ell in enumerate(length_scales):
        for p, k_block in enumerate(_se_parity_blocks(n_time, float(ell), gp_noise_var)):
            n = sizes[p]
            k_inv, logdet = _chol_inverse(k_block)
            precisions[p][j * n : (j + 1) * n, j * n : (j + 1) * n] += k_inv
            logdet_k += logdet
    centred = ys - offset
    proj = _to_parity((centred / noise_var) @ loading, axis=1)  # (S, T, q), Qᵀ per latent
    covs, means_parity, logdet_p, b_dot_mean = [], [], 0.0, np.zeros(n_seg)
    start = 0
    for precision, n in zip(precisions, sizes):
        try:
            cov, logdet = _chol_inverse(precision)
        except np.linalg.LinAlgError as err:
            raise np.linalg.LinAlgError(
                "GPFA posterior precision is not positive definite"
            ) from err
        b = np.swapaxes(proj[:, start : start + n], 1, 2).reshape(n_seg, q * n)
        mean_flat = b @ cov
        b_dot_mean += np.sum(b * mean_flat, axis=1)
        means_parity.append(np.swapaxes(mean_flat.reshape(n_seg, q, n), 1, 2))
        covs.append(cov)
        logdet_p += logdet
        start += n
    means = _from_parity(np.concatenate(means_parity, axis=1), axis=1)
    quad = np.sum(centred**2 / noise_var, axis=(1, 2)) - b_dot_mean
    log_lik = -0.5 * (
        n_time * n_neurons * math.log(2 * math.pi)
        + n_time * np.sum(np.log(noise_var))
        + logdet_k
        + logdet_p
        + quad
    )
    return means, log_lik, tuple(covs)


def gaussian_gpfa_posterior(
    y: np.ndarray,
    loading: np.ndarray,
    offset: np.ndarray,
    noise_var: np.ndarray,
    length_scales: np.ndarray,
    gp_noise_var: float = 1e-3,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | float]:
    """Exact E-step of Gaussian GPFA for one segment or a batch of equal-length segments.

    Args:
        y: observations, shape ``(T, N)`` or ``(S, T, N)``.
        loading: C, shape ``(N, q)``; offset: d, shape ``(N,)``; noise_var: diag(R), ``(N,)``.
        length_scales: ℓ per latent (bins), shape ``(q,)``.
        gp_noise_var: ν of the GP covariance.

    Returns:
        ``(mean, cov, log_likelihood)``: posterior mean ``(T, q)`` (or ``(S, T, q)``); posterior
        covariance ``(qT, qT)`` in latent-major order (index ``j·T + t``), the same for every
        segment of that length; and ``log p(y)`` in nats (a float, or ``(S,)``).
    """
    single = y.ndim == 2
    ys = y[None] if single else y
    n_time = ys.shape[1]
    q = loading.shape[1]
    means, log_lik, (cov_even, cov_odd) = _gaussian_posterior_parity(
        ys, loading, offset, noise_var, length_scales, gp_noise_var
    )
    n_even = n_time - n_time // 2
    blocks = np.zeros((q, n_time, q, n_time))  # (j, t, k, u) in the parity basis
    blocks[:, :n_even, :, :n_even] = cov_even.reshape(q, n_even, q, n_even)
    blocks[:, n_even:, :, n_even:] = cov_odd.reshape(q, n_time - n_even, q, n_time - n_even)
    cov = _from_parity(_from_parity(blocks, axis=1), axis=3).reshape(q * n_time, q * n_time)
    if single:
        return means[0], cov, float(log_lik[0])
    return means, cov, log_lik


def orthonormalize_latents(
    latents: np.ndarray, loading: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Orthonormalised latents for display (Yu et al. 2009).

    With ``C = U D Vᵀ`` (SVD), ``C x = U (D Vᵀ x)``: the returned latents ``D Vᵀ x`` are ordered
    by the variance they explain and their loading ``U`` has orthonormal columns.

    Args:
        latents: ``(T, q)``; loading: ``C``, ``(N, q)``.

    Returns:
        ``(orthonormal_latents (T, q), U (N, q))``.
    """
    u, singular, vt = np.linalg.svd(loading, full_matrices=False)
    return latents @ (np.diag(singular) @ vt).T, u


def _segments(seqs: Sequence[np.ndarray], segment_length: int | None) -> list[tuple[int, int, int]]:
    """``(sequence index, start, stop)`` of near-equal contiguous segments ≤ segment_length."""
    out = []
    for i, seq in enumerate(seqs):
        n_time = seq.shape[0]
        n_seg = 1 if segment_length is None else max(1, math.ceil(n_time / segment_length))
        bounds = np.linspace(0, n_time, n_seg + 1).round().astype(int)
        out.extend((i, int(a), int(b)) for a, b in itertools.pairwise(bounds))
    return out


def _softplus_inverse(x: np.ndarray) -> np.ndarray:
    return np.where(x > 20, x, np.log(np.expm1(np.minimum(x, 20))))


def _log_softplus(f: torch.Tensor) -> torch.Tensor:
    return torch.where(f < -30, f, torch.log(F.softplus(f).clamp_min(1e-300)))


def _length_scale_objective_parity(
    log_ell: np.ndarray,
    stats: list[tuple[int, int, np.ndarray, np.ndarray]],
    gp_noise_var: float,
) -> tuple[float, np.ndarray]:
    """:func:`length_scale_objective` with the moments already in the even / odd time basis.

    ``stats`` holds ``(count, T, M_even, M_odd)``; K, its inverse and ∂K are block-diagonal in
    that basis, so only the diagonal blocks of ``Qᵀ M Q`` enter.
    """
    ell = math.exp(float(log_ell[0]))
    value, grad = 0.0, 0.0
    for count, n_time, m_even, m_odd in stats:
        k_even, k_odd, d_even, d_odd = _se_parity_blocks(n_time, ell, gp_noise_var, True)
        for k_block, d_block, moment in ((k_even, d_even, m_even), (k_odd, d_odd, m_odd)):
            k_inv, logdet = _chol_inverse(k_block)
            k_inv_m = k_inv @ moment
            value += 0.5 * float(np.sum(k_inv * moment)) + 0.5 * count * logdet
            weight = count * k_inv - k_inv_m @ k_inv
            grad += 0.5 * float(np.sum(weight * d_block))
    return float(value), np.array([grad])


def length_scale_objective(
    log_ell: np.ndarray, stats: list[tuple[int, np.ndarray]], gp_noise_var: float
) -> tuple[float, np.ndarray]:
    """−Σ E[log N(x; 0, K(ℓ))] up to a constant, and its derivative in log ℓ.

    Args:
        log_ell: ``(1,)`` log length scale (bins).
        stats: per segment length T, ``(count, M)`` with ``M = Σ_seg E[x xᵀ]`` ``(T, T)``.
        gp_noise_var: ν of the GP covariance.

    Returns:
        ``f = Σ ½ tr(K⁻¹M) + (count/2) log|K|`` and ``df/dlog ℓ = ½ Σ ⟨count·K⁻¹ − K⁻¹MK⁻¹, ∂K⟩``.
        Computed in the even / odd time basis, where K is block-diagonal (two half-size blocks).
    """
    parity = [(count, m.shape[0], *_parity_blocks(m)) for count, m in stats]
    return _length_scale_objective_parity(log_ell, parity, gp_noise_var)


class GPFA(BaseEstimator):
    """Gaussian-process factor analysis (squared-exponential GP per latent).

    Args:
        n_latents: q.
        observations: ``"gaussian"`` (EM), ``"poisson"`` (spike counts) or ``"calcium"`` (ΔF/F),
            the latter two by black-box variational inference.
        ar_order: p of the calcium AR(p) likelihood (1 or more).
        segment_length: cut sequences into segments of at most this many bins (``None``: whole
            sequences); segments are independent GP draws.
        length_scale_init: initial ℓ for every latent (bins).
        gp_noise_var: ν of the GP covariance.
        n_iter: EM iterations (gaussian) or Adam steps (variational models).
        tol: EM stops when the log-likelihood per bin improves less than this.
        learning_rate: Adam step size (variational models).
        lr_schedule: ``"cosine"`` (default) anneals the step size along a half cosine from
            ``learning_rate`` to 1 % of it at the last step; ``"constant"`` keeps it fixed.
            Stochastic-gradient VI only settles when the step size decays: with a constant step
            the Monte Carlo noise keeps moving the estimate; on the benchmark simulations the latent
            R² of the final iterate moves by about ±0.06 between checkpoints 200 steps apart.
        n_samples: Monte Carlo samples per ELBO estimate.
        max_spikes: truncation of the spike-count sum (calcium).
        ar_init: initial AR coefficients (length p); default 0.51 for AR(1), (1.81, −0.81) for
            AR(2), and (0.51, 0, …) otherwise.
        jump_init: initial ΔF/F jump per spike; init_smoothing_bins: width (sd, bins) of the
            Gaussian smoothing of the spike proxy before the initial factor analysis of the
            Poisson and calcium models (the Gaussian model starts from factor analysis of the raw
            data).
        gp_basis: GP prior of the variational models: ``"exact"`` (Cholesky factor of the SE
            covariance, recomputed every step) or ``"spectral"`` (cosine basis with the SE
            spectral density, see the module docstring). Gaussian EM always uses the exact prior.
        n_basis: basis functions per latent and segment with ``gp_basis="spectral"``; M of them
            represent length scales down to about ``3.2 T / M`` bins for T-bin segments (a fit
            that ends below warns). ``None``: ``max(64, ⌈8 T / length_scale_init⌉)``, capped
            at 2T, so latents can shorten to about 0.4 of the initial length scale.
        center_latents: after every Adam step of a variational fit, move the mean of each latent
            over the training segments into the offset (:func:`center_latents`). The move keeps
            the rates and never raises the KL term; it helps a fit out of optima where a latent
            carries the baseline (docs/benchmarks/hmm-gpfa.md). Off by default, so fits made
            before it existed are reproduced. Per step it costs one more factor of the prior
            per latent (a Cholesky factorisation and a triangular solve with the exact prior; a
            D × D solve with the spectral one).
        random_state: seed; verbose: progress bar.

    Attributes:
        loading_: ``(N, q)`` loading matrix C.
        offset_: ``(N,)`` offset d.
        length_scales_: ``(q,)`` GP length scales (bins).
        noise_var_: ``(N,)`` (gaussian: diag R; calcium: σ²).
        ar_coefs_: ``(p, N)`` calcium AR coefficients (calcium only).
        jump_: ``(N,)`` calcium jump per spike (calcium only).
        history_: log-likelihood per EM iteration, or ELBO per step (nats).
        train_latents_: posterior means on the fitted data, list of ``(T_i, q)``.
        n_features_in_: number of neurons N.
    """

    def __init__(
        self,
        n_latents: int = 3,
        observations: str = "gaussian",
        ar_order: int = 1,
        segment_length: int | None = 500,
        length_scale_init: float = 350.0,
        gp_noise_var: float = 1e-3,
        n_iter: int = 100,
        tol: float = 1e-6,
        learning_rate: float = 0.02,
        lr_schedule: str = "cosine",
        n_samples: int = 2,
        max_spikes: int = 10,
        ar_init: Sequence[float] | None = None,
        jump_init: float = 1.0,
        init_smoothing_bins: float = 20.0,
        gp_basis: str = "exact",
        n_basis: int | None = None,
        center_latents: bool = False,
        random_state: int = 0,
        verbose: bool = False,
    ):
        self.n_latents = n_latents
        self.observations = observations
        self.ar_order = ar_order
        self.segment_length = segment_length
        self.length_scale_init = length_scale_init
        self.gp_noise_var = gp_noise_var
        self.n_iter = n_iter
        self.tol = tol
        self.learning_rate = learning_rate
        self.lr_schedule = lr_schedule
        self.n_samples = n_samples
        self.max_spikes = max_spikes
        self.ar_init = ar_init
        self.jump_init = jump_init
        self.init_smoothing_bins = init_smoothing_bins
        self.gp_basis = gp_basis
        self.n_basis = n_basis
        self.center_latents = center_latents
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ checks and set-up

    def _check_params(self) -> None:
        if self.observations not in _OBSERVATIONS:
            raise ValueError(
                f"observations must be one of {_OBSERVATIONS}; got {self.observations!r}"
            )
        if isinstance(self.n_latents, bool) or int(self.n_latents) != self.n_latents:
            raise ValueError(f"n_latents must be an integer ≥ 1; got {self.n_latents!r}")
        if self.n_latents < 1:
            raise ValueError(f"n_latents must be ≥ 1; got {self.n_latents}")
        if self.ar_order < 1:
            raise ValueError(f"ar_order must be ≥ 1; got {self.ar_order}")
        if self.lr_schedule not in _LR_SCHEDULES:
            raise ValueError(
                f"lr_schedule must be one of {_LR_SCHEDULES}; got {self.lr_schedule!r}"
            )
        if self.gp_basis not in _GP_BASES:
            raise ValueError(f"gp_basis must be one of {_GP_BASES}; got {self.gp_basis!r}")
        if self.n_basis is not None and (
            isinstance(self.n_basis, bool) or int(self.n_basis) != self.n_basis or self.n_basis < 2
        ):
            raise ValueError(f"n_basis must be an integer ≥ 2 or None; got {self.n_basis!r}")
        if not isinstance(self.center_latents, (bool, np.bool_)):
            raise ValueError(f"center_latents must be True or False; got {self.center_latents!r}")
        if self.length_scale_init <= 0:
            raise ValueError(f"length_scale_init must be > 0 bins; got {self.length_scale_init}")

    def _validate(self, X, fitting: bool) -> list[np.ndarray]:
        seqs = as_sequences(X, require_finite=True)
        if not fitting:
            if not hasattr(self, "loading_"):
                raise RuntimeError("this GPFA is not fitted yet; call fit first")
            if seqs[0].shape[1] != self.n_features_in_:
                raise ValueError(
                    f"X has {seqs[0].shape[1]} neurons but the model was fitted on "
                    f"{self.n_features_in_}"
                )
        if self.observations == "poisson":
            for i, s in enumerate(seqs):
                bad = (s < 0) | (s != np.round(s))
                if bad.any():
                    t, n = np.argwhere(bad)[0]
                    raise ValueError(
                        f"sequence {i}: Poisson GPFA needs non-negative integer spike counts; "
                        f"bin {t}, neuron {n} holds {s[t, n]!r}"
                    )
        if fitting:
            allv = np.concatenate(seqs)
            if allv.shape[0] <= self.n_latents:
                raise ValueError(
                    f"only {allv.shape[0]} time bins for n_latents={self.n_latents}; need more "
                    "bins than latents"
                )
            if self.observations != "poisson":
                const = np.flatnonzero(np.ptp(allv, axis=0) == 0)
                if const.size:
                    raise ValueError(
                        f"neurons {const.tolist()} have constant traces; drop them before fitting"
                    )
        return seqs

    def _ar_init(self) -> np.ndarray:
        if self.ar_init is not None:
            coefs = np.asarray(self.ar_init, dtype=np.float64)
            if coefs.shape != (self.ar_order,):
                raise ValueError(f"ar_init must hold ar_order={self.ar_order} coefficients")
            return coefs
        if self.ar_order in _DEFAULT_AR:
            return np.asarray(_DEFAULT_AR[self.ar_order])
        return np.r_[0.51, np.zeros(self.ar_order - 1)]

    def _spike_proxy(self, seq: np.ndarray) -> np.ndarray:
        """Spike counts (poisson) or the AR-innovation of ΔF/F divided by the jump (calcium)."""
        if self.observations == "poisson":
            return seq
        if self.observations == "gaussian":
            return seq
        coefs = self._ar_init()
        pred = np.zeros_like(seq)
        for lag, a in enumerate(coefs, start=1):
            pred[lag:] += a * seq[:-lag]
        return np.maximum(seq - pred, 0.0) / self.jump_init

    def _initial_factors(self, seqs):
        """Factor analysis on smoothed data: C, d, diag noise and initial latent means."""
        from scipy.ndimage import gaussian_filter1d

        proxies = [self._spike_proxy(s) for s in seqs]
        if self.init_smoothing_bins > 0 and self.observations != "gaussian":
            # smoothing turns spike counts / innovations into rate estimates; the Gaussian model
            # is initialised on the raw data so that its noise variances stay on scale
            proxies = [gaussian_filter1d(p, self.init_smoothing_bins, axis=0) for p in proxies]
        if self.observations != "gaussian":
            floor = 1e-3
            proxies = [_softplus_inverse(np.maximum(p, floor)) for p in proxies]
        data = np.concatenate(proxies)
        fa = FactorAnalysis(n_components=self.n_latents, random_state=self.random_state)
        latents = fa.fit_transform(data)
        splits = np.cumsum([p.shape[0] for p in proxies])[:-1]
        return fa.components_.T, fa.mean_, fa.noise_variance_, np.split(latents, splits)

    # ------------------------------------------------------------------ Gaussian GPFA (EM)

    def _fit_gaussian(self, seqs):
        loading, offset, noise_var, _ = self._initial_factors(seqs)
        noise_floor = 1e-4 * np.var(np.concatenate(seqs), axis=0)
        noise_var = np.maximum(noise_var, noise_floor)
        ells = np.full(self.n_latents, float(self.length_scale_init))
        groups = {n: np.stack(v) for n, v in self._gaussian_groups(seqs)[0].items()}
        n_bins = sum(s.shape[0] for s in seqs)
        n_neurons, q = seqs[0].shape[1], self.n_latents
        history: list[float] = []
        bar = tqdm(range(self.n_iter), desc="GPFA EM (gaussian)", disable=not self.verbose)
        for _ in bar:
            total = 0.0
            sxx = np.zeros((q + 1, q + 1))
            syx = np.zeros((n_neurons, q + 1))
            syy = np.zeros(n_neurons)
            # per segment length: (n segments, T, Σ_seg E[x_j x_jᵀ] in the even / odd basis)
            second = {}
            for n_time, ys in groups.items():
                means, lls, covs = _gaussian_posterior_parity(
                    ys, loading, offset, noise_var, ells, self.gp_noise_var
                )
                total += float(np.sum(lls))
                n_seg = len(ys)
                means_parity = _to_parity(means, axis=1)
                moments, start = [], 0
                sum_cov = np.zeros((q, q))  # Σ_t Cov(x_t) = traces of the (j, k) blocks
                for cov in covs:
                    n = cov.shape[0] // q
                    blocks = cov.reshape(q, n, q, n)
                    sum_cov += np.einsum("jtkt->jk", blocks)
                    part = means_parity[:, start : start + n]
                    moment = np.einsum("stj,suj->jtu", part, part)
                    moment += n_seg * np.stack([blocks[j, :, j, :] for j in range(q)])
                    moments.append(moment)
                    start += n
                aug = np.concatenate([means, np.ones((*means.shape[:2], 1))], axis=2)
                sxx += np.einsum("sti,stj->ij", aug, aug)
                sxx[:q, :q] += n_seg * sum_cov
                syx += np.einsum("stn,sti->ni", ys, aug)
                syy += np.sum(ys**2, axis=(0, 1))
                second[n_time] = (n_seg, n_time, *moments)
            history.append(total)
            bar.set_postfix(ll_per_bin=f"{total / n_bins:.4f}")
            if len(history) > 1 and abs(history[-1] - history[-2]) / n_bins < self.tol:
                break
            # M-step: regression of y on E[x̃], x̃ = [x; 1]; then the length scales
            cd = np.linalg.solve(sxx, syx.T).T
            loading, offset = cd[:, :q], cd[:, q]
            noise_var = np.maximum((syy - np.sum(cd * syx, axis=1)) / n_bins, noise_floor)
            ells = self._update_length_scales(ells, second)
        self.loading_, self.offset_ = loading, offset
        self.noise_var_, self.length_scales_ = noise_var, ells
        self.history_ = history
        self.train_latents_ = self._gaussian_latents(seqs)

    def _gaussian_groups(self, seqs):
        """Segments grouped by length: ``({T: [y (T, N), ...]}, {T: [(i, a, b), ...]})``."""
        data: dict[int, list] = {}
        where: dict[int, list] = {}
        for i, a, b in _segments(seqs, self.segment_length):
            data.setdefault(b - a, []).append(seqs[i][a:b])
            where.setdefault(b - a, []).append((i, a, b))
        return data, where

    def _update_length_scales(self, ells: np.ndarray, second: dict) -> np.ndarray:
        """Maximise Σ_seg E[log N(x_j; 0, K_j(ℓ))] over log ℓ_j (L-BFGS-B, analytic gradient)."""
        from scipy.optimize import minimize

        new = ells.copy()
        for j in range(len(ells)):
            stats = [(count, n_time, m_e[j], m_o[j]) for count, n_time, m_e, m_o in second.values()]
            res = minimize(
                _length_scale_objective_parity,
                np.array([math.log(ells[j])]),
                args=(stats, self.gp_noise_var),
                jac=True,
                method="L-BFGS-B",
                options={"maxiter": 5},
            )
            value = float(np.exp(res.x[0]))
            if np.isfinite(value) and value > 0:
                new[j] = value
        return new

    def _gaussian_posterior_by_length(self, seqs):
        """Posterior means (list of ``(T_i, q)``) and the total log p(y) (nats), one
        factorisation per distinct segment length."""
        data, where = self._gaussian_groups(seqs)
        out = [np.zeros((s.shape[0], self.n_latents)) for s in seqs]
        total = 0.0
        for n_time, ys in data.items():
            means, lls, _ = _gaussian_posterior_parity(
                np.stack(ys),
                self.loading_,
                self.offset_,
                self.noise_var_,
                self.length_scales_,
                self.gp_noise_var,
            )
            total += float(np.sum(lls))
            for (i, a, b), mean in zip(where[n_time], means):
                out[i][a:b] = mean
        return out, total

    def _gaussian_latents(self, seqs) -> list[np.ndarray]:
        return self._gaussian_posterior_by_length(seqs)[0]

    # ------------------------------------------------------------------ variational models

    def _group_segments(self, seqs):
        """Segments grouped by length: {T: (y (S, p+T, N) with AR context, list of (i, a, b))}."""
        p = self.ar_order if self.observations == "calcium" else 0
        groups: dict[int, list] = {}
        for i, a, b in _segments(seqs, self.segment_length):
            groups.setdefault(b - a, []).append((i, a, b))
        out = {}
        for n_time, members in groups.items():
            ys = []
            for i, a, b in members:
                ctx = seqs[i][max(a - p, 0) : a]
                ctx = np.vstack([np.zeros((p - ctx.shape[0], seqs[i].shape[1])), ctx])
                ys.append(np.vstack([ctx, seqs[i][a:b]]))
            out[n_time] = (torch.as_tensor(np.stack(ys)), members)
        return out

    def _expected_log_lik(self, y_ctx, x, model) -> torch.Tensor:
        """Σ over bins and neurons of log p(y | x) for samples x (S, n_seg, T, q); sum over all
        but the sample axis (returns (S,))."""
        p = self.ar_order if self.observations == "calcium" else 0
        f = x @ model["loading"].T + model["offset"]
        log_rate = _log_softplus(f)
        y = y_ctx[:, p:]
        if self.observations == "poisson":
            ll = y * log_rate - torch.exp(log_rate) - torch.lgamma(y + 1.0)
        else:
            pad = torch.zeros(*log_rate.shape[:-2], p, log_rate.shape[-1], dtype=log_rate.dtype)
            ll = calcium_ar_poisson_log_likelihood(
                y_ctx,
                torch.cat([pad, log_rate], dim=-2),
                model["ar"],
                model["log_jump"].exp(),
                model["log_var"].exp(),
                self.max_spikes,
            )[..., p:, :]
        return ll.sum(dim=(-3, -2, -1))

    def _variational_fit(self, groups, model, var_params, train_model: bool, n_iter: int):
        """Adam on the negative ELBO; returns the ELBO trace (nats)."""
        gen = torch.Generator().manual_seed(int(self.random_state))
        params = [p for vp in var_params.values() for p in vp]
        if train_model:
            params += list(model.values())
        opt = torch.optim.Adam(params, lr=self.learning_rate)
        schedule = None
        if self.lr_schedule == "cosine":
            schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
                opt, T_max=max(n_iter, 1), eta_min=_LR_FINAL_FRACTION * self.learning_rate
            )
        n_elem = sum(y.shape[0] * (y.shape[1]) * y.shape[2] for y, _ in groups.values())
        history = []
        desc = f"GPFA VI ({self.observations})"
        bar = tqdm(range(n_iter), desc=desc, disable=not self.verbose)
        for _ in bar:
            opt.zero_grad()
            elbo = self._elbo(groups, model, var_params, gen)
            (-elbo / n_elem).backward()
            opt.step()
            if train_model and self.center_latents:
                self._center(groups, model, var_params)
            if schedule is not None:
                schedule.step()
            history.append(float(elbo.detach()))
            bar.set_postfix(elbo=f"{history[-1]:.1f}")
        return history

    @torch.no_grad()
    def _center(self, groups, model, var_params) -> None:
        """One :func:`center_latents` move with the current length scales."""
        ells = model["log_ell"].exp()
        factors = {n_time: self._prior_factor(n_time, ells) for n_time in groups}
        center_latents(factors, var_params, model, exact=self.gp_basis == "exact")

    def _elbo(self, groups, model, var_params, gen, n_samples=None) -> torch.Tensor:
        n_samples = n_samples or self.n_samples
        elbo = torch.zeros((), dtype=torch.float64)
        ells = model["log_ell"].exp()
        for n_time, (y_ctx, _) in groups.items():
            mean, log_sd = var_params[n_time]
            factor = self._prior_factor(n_time, ells)  # (q, T, D)
            eps = torch.randn((n_samples, *mean.shape), generator=gen, dtype=torch.float64)
            v = mean + log_sd.exp() * eps  # (S, n_seg, q, D)
            x = torch.einsum("jab,snjb->snaj", factor, v)  # (S, n_seg, T, q)
            elbo = elbo + self._expected_log_lik(y_ctx, x, model).mean()
            kl = 0.5 * torch.sum(torch.exp(2 * log_sd) + mean**2 - 1.0 - 2 * log_sd)
            elbo = elbo - kl
        return elbo

    def _prior_factor(self, n_time: int, ells: torch.Tensor) -> torch.Tensor:
        """``(q, T, D)`` factors ``A_j`` of the GP prior, ``x_j = A_j v_j`` with ``v_j ~ N(0, I)``:
        the Cholesky factor of ``K_j`` (``gp_basis="exact"``, D = T) or the normalised spectral
        basis (``"spectral"``, D = ``n_basis``)."""
        if self.gp_basis == "spectral":
            basis, omega = self._basis(n_time)
            return spectral_factor(basis, spectral_sd(ells, omega))
        return torch.stack(
            [torch.linalg.cholesky(se_covariance(n_time, ell, self.gp_noise_var)) for ell in ells]
        )

    def _n_basis(self, n_time: int) -> int:
        if self.n_basis is not None:
            return min(int(self.n_basis), 2 * n_time)
        return min(2 * n_time, max(64, math.ceil(8 * n_time / self.length_scale_init)))

    def _basis(self, n_time: int) -> tuple[torch.Tensor, torch.Tensor]:
        return _cached_spectral_basis(n_time, self._n_basis(n_time))

    def _check_basis_resolution(self, lengths) -> None:
        """Warn when a fitted length scale is shorter than the spectral basis represents."""
        if self.gp_basis != "spectral":
            return
        n_time = max(lengths)
        floor = 3.2 * n_time / self._n_basis(n_time)
        short = np.flatnonzero(self.length_scales_ < floor)
        if short.size:
            warnings.warn(
                f"GPFA latents {short.tolist()} ended with length scales "
                f"{np.round(self.length_scales_[short], 1).tolist()} bins, below the "
                f"{floor:.1f} bins that {self._n_basis(n_time)} basis functions represent on "
                f"{n_time}-bin segments; raise n_basis",
                stacklevel=3,
            )

    def _init_variational(self, groups, latents_init=None):
        """Whitened variational means from initial latents (ridge projection), small sds."""
        out = {}
        for n_time, (_, members) in groups.items():
            if self.gp_basis == "spectral":
                mean = self._init_spectral(n_time, members, latents_init)
            elif latents_init is None:
                mean = torch.zeros(len(members), self.n_latents, n_time, dtype=torch.float64)
            else:
                x0 = np.stack([latents_init[i][a:b] for i, a, b in members])  # (n_seg, T, q)
                means = []
                for j, ell in enumerate(self.length_scales_):
                    k = se_covariance(n_time, float(ell), self.gp_noise_var).numpy()
                    chol = np.linalg.cholesky(k)
                    # E[v | x0] under x0 = L v + noise(0.1): Lᵀ (K + 0.1 I)^-1 x0
                    solved = np.linalg.solve(k + 0.1 * np.eye(n_time), x0[:, :, j].T)
                    means.append((chol.T @ solved).T)
                mean = torch.as_tensor(np.stack(means, axis=1))
            log_sd = torch.full_like(mean, math.log(0.1))
            out[n_time] = (mean.requires_grad_(True), log_sd.requires_grad_(True))
        return out

    def _init_spectral(self, n_time, members, latents_init) -> torch.Tensor:
        """Spectral-basis weights ``(n_seg, q, M)``: E[v | x0] under x0 = A v + noise(0.1)."""
        ells = torch.as_tensor(self.length_scales_, dtype=torch.float64)
        factor = self._prior_factor(n_time, ells).numpy()  # (q, T, M)
        if latents_init is None:
            return torch.zeros(len(members), self.n_latents, factor.shape[-1], dtype=torch.float64)
        x0 = np.stack([latents_init[i][a:b] for i, a, b in members])  # (n_seg, T, q)
        means = []
        for j in range(self.n_latents):
            a = factor[j]
            gram = a.T @ a + 0.1 * np.eye(a.shape[1])
            means.append(np.linalg.solve(gram, a.T @ x0[:, :, j].T).T)
        return torch.as_tensor(np.stack(means, axis=1))

    def _model_tensors(self) -> dict:
        model = {
            "loading": torch.tensor(self.loading_, requires_grad=True),
            "offset": torch.tensor(self.offset_, requires_grad=True),
            "log_ell": torch.tensor(np.log(self.length_scales_), requires_grad=True),
        }
        if self.observations == "calcium":
            model["ar"] = torch.tensor(self.ar_coefs_, requires_grad=True)
            model["log_jump"] = torch.tensor(np.log(self.jump_), requires_grad=True)
            model["log_var"] = torch.tensor(np.log(self.noise_var_), requires_grad=True)
        return model

    def _store_model(self, model) -> None:
        with torch.no_grad():
            self.loading_ = model["loading"].numpy().copy()
            self.offset_ = model["offset"].numpy().copy()
            self.length_scales_ = model["log_ell"].exp().numpy().copy()
            if self.observations == "calcium":
                self.ar_coefs_ = model["ar"].numpy().copy()
                self.jump_ = model["log_jump"].exp().numpy().copy()
                self.noise_var_ = model["log_var"].exp().numpy().copy()

    def _posterior_means(self, groups, var_params, n_seqs, lengths) -> list[np.ndarray]:
        out = [np.zeros((n, self.n_latents)) for n in lengths]
        with torch.no_grad():
            for n_time, (_, members) in groups.items():
                mean, _ = var_params[n_time]
                ells = torch.as_tensor(self.length_scales_, dtype=torch.float64)
                factor = self._prior_factor(n_time, ells).numpy()
                x = np.einsum("jab,njb->naj", factor, mean.numpy())
                for (i, a, b), xi in zip(members, x):
                    out[i][a:b] = xi
        return out

    def _fit_variational(self, seqs):
        loading, offset, _, latents = self._initial_factors(seqs)
        self.loading_, self.offset_ = loading, offset
        self.length_scales_ = np.full(self.n_latents, float(self.length_scale_init))
        if self.observations == "calcium":
            n = seqs[0].shape[1]
            self.ar_coefs_ = np.tile(self._ar_init()[:, None], (1, n))
            self.jump_ = np.full(n, float(self.jump_init))
            allv = np.concatenate(seqs)
            resid = np.diff(allv, axis=0)
            mad = np.median(np.abs(resid - np.median(resid, axis=0)), axis=0)
            self.noise_var_ = np.maximum((1.4826 * mad) ** 2 / 2.0, 1e-6)
        groups = self._group_segments(seqs)
        var_params = self._init_variational(groups, latents)
        model = self._model_tensors()
        self.history_ = self._variational_fit(groups, model, var_params, True, self.n_iter)
        self._store_model(model)
        self._check_basis_resolution(list(groups))
        self.train_latents_ = self._posterior_means(
            groups, var_params, len(seqs), [s.shape[0] for s in seqs]
        )

    def _infer_variational(self, seqs, n_iter=None):
        groups = self._group_segments(seqs)
        var_params = self._init_variational(groups)
        model = {k: v.detach() for k, v in self._model_tensors().items()}
        self._variational_fit(groups, model, var_params, False, n_iter or self.n_iter)
        return groups, model, var_params

    # ------------------------------------------------------------------ public API

    def fit(self, X, y=None) -> GPFA:
        """Fit to one ``(T, N)`` array or a list of them (spike counts for ``"poisson"``)."""
        self._check_params()
        seqs = self._validate(X, fitting=True)
        self.n_features_in_ = seqs[0].shape[1]
        if self.observations == "gaussian":
            self._fit_gaussian(seqs)
        else:
            self._fit_variational(seqs)
        return self

    def fit_transform(self, X, y=None, orthonormal: bool = False):
        """Fit, then return the posterior latent means of the fitted data."""
        self.fit(X)
        return self._as_returned(self.train_latents_, X, orthonormal)

    def _as_returned(self, latents: list[np.ndarray], X, orthonormal: bool):
        """Latents per sequence, orthonormalised if asked, as one array for an array ``X``."""
        if orthonormal:
            latents = [orthonormalize_latents(x, self.loading_)[0] for x in latents]
        return latents[0] if isinstance(X, np.ndarray) else latents

    def transform(self, X, orthonormal: bool = False):
        """Posterior latent means ``(T, q)`` (list for a list input) with the model held fixed.

        Gaussian: exact posterior. Variational models: the variational posterior optimised for
        ``X`` with the model parameters fixed.
        """
        seqs = self._validate(X, fitting=False)
        if self.observations == "gaussian":
            out = self._gaussian_latents(seqs)
        else:
            groups, _, var_params = self._infer_variational(seqs)
            out = self._posterior_means(groups, var_params, len(seqs), [s.shape[0] for s in seqs])
        return self._as_returned(out, X, orthonormal)

    def score(self, X, y=None) -> float:
        """Held-out log-likelihood in nats: exact ``log p(y)`` for the Gaussian model; for the
        variational models the ELBO (a lower bound) after fitting the variational posterior to
        ``X`` with the model fixed, averaged over 16 Monte Carlo samples."""
        seqs = self._validate(X, fitting=False)
        if self.observations == "gaussian":
            return self._gaussian_posterior_by_length(seqs)[1]
        groups, model, var_params = self._infer_variational(seqs)
        return self._heldout_elbo(groups, model, var_params)

    def transform_score(self, X, orthonormal: bool = False):
        """``(transform(X, orthonormal), score(X))`` with one inference instead of two.

        For the variational models each of ``transform`` and ``score`` fits the variational
        posterior to ``X`` (``n_iter`` steps); this fits it once and returns the same latents
        and held-out log-likelihood (nats).
        """
        seqs = self._validate(X, fitting=False)
        if self.observations == "gaussian":
            out, score = self._gaussian_posterior_by_length(seqs)  # one factorisation
        else:
            groups, model, var_params = self._infer_variational(seqs)
            out = self._posterior_means(groups, var_params, len(seqs), [s.shape[0] for s in seqs])
            score = self._heldout_elbo(groups, model, var_params)
        return self._as_returned(out, X, orthonormal), score

    def _heldout_elbo(self, groups, model, var_params) -> float:
        gen = torch.Generator().manual_seed(int(self.random_state) + 1)
        with torch.no_grad():
            return float(self._elbo(groups, model, var_params, gen, n_samples=16))
