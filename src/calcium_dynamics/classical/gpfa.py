"""Gaussian-process factor analysis with Gaussian, Poisson or calcium observations.

Every latent ``x_j`` is an independent Gaussian process over time bins with the squared-exponential
covariance ``k(t, t') = (1 − ν) exp(−(t − t')² / 2ℓ_j²) + ν δ_tt'`` (ν = ``gp_noise_var``, the
small independent variance of Yu et al. 2009 that keeps the matrix well conditioned).

* ``observations="gaussian"``: ``y_t ~ N(C x_t + d, R)`` with diagonal R; fitted by exact EM
  (Yu et al. 2009): the E-step is the exact Gaussian posterior, the M-step updates C, d, R in
  closed form and each length scale by gradient ascent on the expected log prior.
* ``observations="poisson"``: spike counts ``s_t ~ Poisson(softplus(C x_t + d))``.
* ``observations="calcium"``: ΔF/F through the calcium AR(p)-Poisson likelihood of
  :mod:`calcium_dynamics.models.likelihoods.calcium` with rate ``softplus(C x_t + d)`` and
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

import itertools
import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from scipy.linalg import lapack
from sklearn.base import BaseEstimator
from sklearn.decomposition import FactorAnalysis
from tqdm.auto import tqdm

from calcium_dynamics.classical.sequences import as_sequences
from calcium_dynamics.models.likelihoods.calcium import calcium_ar_poisson_log_likelihood

__all__ = ["GPFA", "gaussian_gpfa_posterior", "orthonormalize_latents", "se_covariance"]

_OBSERVATIONS = ("gaussian", "poisson", "calcium")
_DEFAULT_AR = {1: (0.51,), 2: (1.81, -0.81)}


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
    n_seg, n_time, n_neurons = ys.shape
    q = loading.shape[1]
    k_inv_blocks, logdet_k = [], 0.0
    eye = np.eye(n_time)
    for ell in length_scales:
        chol, _ = lapack.dpotrf(se_covariance(n_time, float(ell), gp_noise_var).numpy(), lower=1)
        k_inv, _ = lapack.dpotri(chol, lower=1)
        k_inv_blocks.append(np.tril(k_inv) + np.tril(k_inv, -1).T)
        logdet_k += 2.0 * np.sum(np.log(np.diag(chol)))
    c_rinv_c = loading.T @ (loading / noise_var[:, None])  # (q, q)
    precision = np.kron(c_rinv_c, eye)
    for j in range(q):
        precision[j * n_time : (j + 1) * n_time, j * n_time : (j + 1) * n_time] += k_inv_blocks[j]
    chol_p, info = lapack.dpotrf(precision, lower=1)
    if info != 0:
        raise np.linalg.LinAlgError("GPFA posterior precision is not positive definite")
    cov, _ = lapack.dpotri(chol_p, lower=1)
    cov = np.tril(cov) + np.tril(cov, -1).T
    centred = ys - offset
    b = np.swapaxes((centred / noise_var) @ loading, 1, 2).reshape(n_seg, q * n_time)
    mean_flat = b @ cov  # cov is symmetric
    logdet_p = 2.0 * np.sum(np.log(np.diag(chol_p)))
    quad = np.sum(centred**2 / noise_var, axis=(1, 2)) - np.sum(b * mean_flat, axis=1)
    log_lik = -0.5 * (
        n_time * n_neurons * math.log(2 * math.pi)
        + n_time * np.sum(np.log(noise_var))
        + logdet_k
        + logdet_p
        + quad
    )
    mean = np.swapaxes(mean_flat.reshape(n_seg, q, n_time), 1, 2)
    if single:
        return mean[0], cov, float(log_lik[0])
    return mean, cov, log_lik


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
    """
    from scipy.linalg import cho_factor, cho_solve

    ell2 = math.exp(2.0 * float(log_ell[0]))
    value, grad = 0.0, 0.0
    for count, moment in stats:
        n_time = moment.shape[0]
        t = np.arange(n_time, dtype=np.float64)
        sq = (t[:, None] - t[None, :]) ** 2
        se = (1.0 - gp_noise_var) * np.exp(-sq / (2.0 * ell2))
        factor = cho_factor(se + gp_noise_var * np.eye(n_time), lower=True)
        k_inv = cho_solve(factor, np.eye(n_time))
        k_inv_m = k_inv @ moment
        value += 0.5 * np.trace(k_inv_m) + count * np.sum(np.log(np.diag(factor[0])))
        weight = count * k_inv - k_inv_m @ k_inv
        grad += 0.5 * np.sum(weight * (se * sq / ell2))
    return float(value), np.array([grad])


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
        n_samples: Monte Carlo samples per ELBO estimate.
        max_spikes: truncation of the spike-count sum (calcium).
        ar_init: initial AR coefficients (length p); default 0.51 for AR(1), (1.81, −0.81) for
            AR(2), and (0.51, 0, …) otherwise.
        jump_init: initial ΔF/F jump per spike; init_smoothing_bins: width (sd, bins) of the
            Gaussian smoothing of the spike proxy before the initial factor analysis of the
            Poisson and calcium models (the Gaussian model starts from factor analysis of the raw
            data).
        random_state: seed; verbose: progress bar.

    Attributes:
        loading_ ``(N, q)``, offset_ ``(N,)``, length_scales_ ``(q,)`` (bins); noise_var_
        ``(N,)`` (gaussian: diag R; calcium: σ²); ar_coefs_ ``(p, N)`` and jump_ ``(N,)``
        (calcium); history_ (log-likelihood per EM iteration, or ELBO per step, nats);
        train_latents_ (posterior means on the fitted data, list of ``(T_i, q)``); n_features_in_.
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
        n_samples: int = 2,
        max_spikes: int = 10,
        ar_init: Sequence[float] | None = None,
        jump_init: float = 1.0,
        init_smoothing_bins: float = 20.0,
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
        self.n_samples = n_samples
        self.max_spikes = max_spikes
        self.ar_init = ar_init
        self.jump_init = jump_init
        self.init_smoothing_bins = init_smoothing_bins
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
        groups: dict[int, np.ndarray] = {}
        for i, a, b in _segments(seqs, self.segment_length):
            groups.setdefault(b - a, []).append(seqs[i][a:b])
        groups = {n: np.stack(v) for n, v in groups.items()}
        n_bins = sum(s.shape[0] for s in seqs)
        n_neurons, q = seqs[0].shape[1], self.n_latents
        history: list[float] = []
        bar = tqdm(range(self.n_iter), desc="GPFA EM (gaussian)", disable=not self.verbose)
        for _ in bar:
            total = 0.0
            sxx = np.zeros((q + 1, q + 1))
            syx = np.zeros((n_neurons, q + 1))
            syy = np.zeros(n_neurons)
            second = {}  # per segment length: (n segments, Σ_seg E[x_j x_jᵀ] for each latent j)
            for n_time, ys in groups.items():
                means, cov, lls = gaussian_gpfa_posterior(
                    ys, loading, offset, noise_var, ells, self.gp_noise_var
                )
                total += float(np.sum(lls))
                blocks = cov.reshape(q, n_time, q, n_time)
                diag_cov = np.einsum("jtkt->jk", blocks)  # Σ_t Cov(x_t) (q, q)
                aug = np.concatenate([means, np.ones((*means.shape[:2], 1))], axis=2)
                sxx += np.einsum("sti,stj->ij", aug, aug)
                sxx[:q, :q] += len(ys) * diag_cov
                syx += np.einsum("stn,sti->ni", ys, aug)
                syy += np.sum(ys**2, axis=(0, 1))
                moment = np.einsum("stj,suj->jtu", means, means)
                moment += len(ys) * np.stack([blocks[j, :, j, :] for j in range(q)])
                second[n_time] = (len(ys), moment)
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

    def _update_length_scales(self, ells: np.ndarray, second: dict) -> np.ndarray:
        """Maximise Σ_seg E[log N(x_j; 0, K_j(ℓ))] over log ℓ_j (L-BFGS-B, analytic gradient)."""
        from scipy.optimize import minimize

        new = ells.copy()
        for j in range(len(ells)):
            stats = [(count, moment[j]) for count, moment in second.values()]
            res = minimize(
                length_scale_objective,
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

    def _gaussian_latents(self, seqs) -> list[np.ndarray]:
        out = []
        for seq in seqs:
            parts = [
                gaussian_gpfa_posterior(
                    seq[a:b],
                    self.loading_,
                    self.offset_,
                    self.noise_var_,
                    self.length_scales_,
                    self.gp_noise_var,
                )[0]
                for _, a, b in _segments([seq], self.segment_length)
            ]
            out.append(np.concatenate(parts))
        return out

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
        n_elem = sum(y.shape[0] * (y.shape[1]) * y.shape[2] for y, _ in groups.values())
        history = []
        desc = f"GPFA VI ({self.observations})"
        bar = tqdm(range(n_iter), desc=desc, disable=not self.verbose)
        for _ in bar:
            opt.zero_grad()
            elbo = self._elbo(groups, model, var_params, gen)
            (-elbo / n_elem).backward()
            opt.step()
            history.append(float(elbo.detach()))
            bar.set_postfix(elbo=f"{history[-1]:.1f}")
        return history

    def _elbo(self, groups, model, var_params, gen, n_samples=None) -> torch.Tensor:
        n_samples = n_samples or self.n_samples
        elbo = torch.zeros((), dtype=torch.float64)
        ells = model["log_ell"].exp()
        for n_time, (y_ctx, _) in groups.items():
            mean, log_sd = var_params[n_time]
            chol = torch.stack(
                [
                    torch.linalg.cholesky(se_covariance(n_time, ell, self.gp_noise_var))
                    for ell in ells
                ]
            )  # (q, T, T)
            eps = torch.randn((n_samples, *mean.shape), generator=gen, dtype=torch.float64)
            v = mean + log_sd.exp() * eps  # (S, n_seg, q, T)
            x = torch.einsum("jab,snjb->snaj", chol, v)  # (S, n_seg, T, q)
            elbo = elbo + self._expected_log_lik(y_ctx, x, model).mean()
            kl = 0.5 * torch.sum(torch.exp(2 * log_sd) + mean**2 - 1.0 - 2 * log_sd)
            elbo = elbo - kl
        return elbo

    def _init_variational(self, groups, latents_init=None):
        """Whitened variational means from initial latents (ridge projection), small sds."""
        out = {}
        for n_time, (_, members) in groups.items():
            if latents_init is None:
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
                chol = np.stack(
                    [
                        np.linalg.cholesky(
                            se_covariance(n_time, float(ell), self.gp_noise_var).numpy()
                        )
                        for ell in self.length_scales_
                    ]
                )
                x = np.einsum("jab,njb->naj", chol, mean.numpy())
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
        out = self.train_latents_
        if orthonormal:
            out = [orthonormalize_latents(x, self.loading_)[0] for x in out]
        return out[0] if isinstance(X, np.ndarray) else out

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
        if orthonormal:
            out = [orthonormalize_latents(x, self.loading_)[0] for x in out]
        return out[0] if isinstance(X, np.ndarray) else out

    def score(self, X, y=None) -> float:
        """Held-out log-likelihood in nats: exact ``log p(y)`` for the Gaussian model; for the
        variational models the ELBO (a lower bound) after fitting the variational posterior to
        ``X`` with the model fixed, averaged over 16 Monte Carlo samples."""
        seqs = self._validate(X, fitting=False)
        if self.observations == "gaussian":
            return float(
                sum(
                    gaussian_gpfa_posterior(
                        s[a:b],
                        self.loading_,
                        self.offset_,
                        self.noise_var_,
                        self.length_scales_,
                        self.gp_noise_var,
                    )[2]
                    for s in seqs
                    for _, a, b in _segments([s], self.segment_length)
                )
            )
        groups, model, var_params = self._infer_variational(seqs)
        gen = torch.Generator().manual_seed(int(self.random_state) + 1)
        with torch.no_grad():
            return float(self._elbo(groups, model, var_params, gen, n_samples=16))
