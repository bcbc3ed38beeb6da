"""Hidden Markov models with interchangeable observation models (Gaussian, AR-Gaussian, Poisson,
calcium AR(1)-Poisson), fitted by EM with log-space forward–backward over several sequences.

Every observation model is a small class with one interface (as in the ``ssm`` package):

* ``validate(data, index)`` — raise a clear error for data the model cannot describe;
* ``initialize(datas, states, rng)`` — set parameters from data and an initial hard segmentation;
* ``log_likelihoods(data)`` — ``(T, K)`` array of ``log p(y_t | y_{<t}, z_t = k)``;
* ``m_step(datas, posteriors)`` — maximise the expected complete-data log-likelihood.

The calcium model gives state ``k`` per-neuron spike rates ``λ_k`` (spikes / bin) and shares a
per-neuron AR(1) calcium process (α, jump c, noise σ²) across states; its emission likelihood is
the truncated Poisson sum of :mod:`calcium_dynamics.likelihoods.calcium` and its M-step is
gradient ascent (L-BFGS, torch autograd) on the posterior-weighted log-likelihood. The first bin
of every sequence is predicted from a zero past for the autoregressive models.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from scipy.special import logsumexp
from sklearn.base import BaseEstimator
from sklearn.cluster import KMeans
from tqdm.auto import tqdm

from calcium_dynamics.classical.sequences import as_sequences
from calcium_dynamics.likelihoods.calcium import (
    calcium_ar_poisson_state_log_likelihood,
    state_spike_count_moments,
)

__all__ = [
    "HMM",
    "OBSERVATION_MODELS",
    "ARGaussianObservations",
    "CalciumObservations",
    "GaussianObservations",
    "PoissonObservations",
    "forward_backward",
    "forward_backward_batch",
    "held_out_log_likelihood_curve",
    "viterbi",
]

_LOG_2PI = np.log(2.0 * np.pi)
_VAR_FLOOR = 1e-6
_RATE_FLOOR = 1e-4
_SCALE_FLOOR = 1e-200  # below it the scaled forward–backward hands over to the log-space one


# ----------------------------------------------------------------------------- inference


def forward_backward(
    log_start: np.ndarray, log_trans: np.ndarray, log_lik: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float]:
    """Posterior state marginals and pairwise expectations in log space.

    Args:
        log_start: log initial probabilities, shape ``(K,)``.
        log_trans: log transition matrix ``log P(z_{t+1}=j | z_t=i)``, shape ``(K, K)``.
        log_lik: emission log-likelihoods, shape ``(T, K)``.

    Returns:
        ``(posteriors, expected_transitions, log_likelihood)``: ``(T, K)`` marginals
        ``p(z_t | y)``, ``(K, K)`` expected transition counts ``Σ_t p(z_t=i, z_{t+1}=j | y)`` and
        the sequence log-likelihood ``log p(y)`` in nats.
    """
    n_time, n_states = log_lik.shape
    trans = np.exp(log_trans)
    # log-space recursions; each step shifts by its maximum so the exponentials stay in range
    log_alpha = np.empty((n_time, n_states))
    log_alpha[0] = log_start + log_lik[0]
    with np.errstate(divide="ignore"):
        for t in range(1, n_time):
            prev = log_alpha[t - 1]
            shift = prev.max()
            log_alpha[t] = np.log(np.exp(prev - shift) @ trans) + shift + log_lik[t]
        log_beta = np.zeros((n_time, n_states))
        for t in range(n_time - 2, -1, -1):
            nxt = log_lik[t + 1] + log_beta[t + 1]
            shift = nxt.max()
            log_beta[t] = np.log(trans @ np.exp(nxt - shift)) + shift
    log_evidence = float(logsumexp(log_alpha[-1]))
    log_post = log_alpha + log_beta - log_evidence
    posteriors = np.exp(log_post)
    posteriors /= posteriors.sum(axis=1, keepdims=True)
    if n_time > 1:
        log_xi = (
            log_alpha[:-1, :, None]
            + log_trans[None]
            + (log_lik[1:] + log_beta[1:])[:, None, :]
            - log_evidence
        )
        expected_transitions = np.exp(logsumexp(log_xi, axis=0))
    else:
        expected_transitions = np.zeros((n_states, n_states))
    return posteriors, expected_transitions, log_evidence


def forward_backward_batch(
    log_start: np.ndarray, log_trans: np.ndarray, log_lik: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`forward_backward` for ``B`` sequences of equal length at once, with scaling.

    The recursions run on probabilities rescaled at every step (Rabiner's scaling: each bin's
    emission terms divided by their maximum, each forward vector normalised to sum 1), one
    ``(B, K) @ (K, K)`` product per time step for all sequences together; the expected
    transitions are one matrix product over all bins. A sequence whose scaled recursion comes
    near underflow (a forward vector summing to less than 1e-200) is recomputed in log space.

    Args:
        log_start: ``(K,)``; log_trans: ``(K, K)``; log_lik: ``(B, T, K)``.

    Returns:
        ``(posteriors (B, T, K), expected_transitions (K, K) summed over the sequences,
        log_likelihoods (B,))`` in nats.
    """
    n_seq, n_time, n_states = log_lik.shape
    trans = np.exp(log_trans)
    peak = log_lik.max(axis=2, keepdims=True)
    emit = np.exp(log_lik - peak)  # (B, T, K), each bin's largest term 1
    alpha = np.empty_like(emit)
    scale = np.empty((n_seq, n_time))
    a = np.exp(log_start)[None, :] * emit[:, 0]
    for t in range(n_time):
        if t:
            a = (alpha[:, t - 1] @ trans) * emit[:, t]
        scale[:, t] = a.sum(axis=1)
        alpha[:, t] = a / np.where(scale[:, t] > _SCALE_FLOOR, scale[:, t], 1.0)[:, None]
    safe = np.where(scale > _SCALE_FLOOR, scale, 1.0)
    beta = np.ones_like(emit)
    for t in range(n_time - 2, -1, -1):
        beta[:, t] = ((emit[:, t + 1] * beta[:, t + 1]) @ trans.T) / safe[:, t + 1, None]
    with np.errstate(divide="ignore"):
        log_evidence = np.log(scale).sum(axis=1) + peak[:, :, 0].sum(axis=1)
    bad = ~(scale > _SCALE_FLOOR).all(axis=1) | ~np.isfinite(log_evidence)
    good = ~bad
    with np.errstate(invalid="ignore"):
        posteriors = alpha * beta
        posteriors /= posteriors.sum(axis=2, keepdims=True)
    xi = np.zeros((n_states, n_states))
    if n_time > 1 and good.any():
        nxt = emit[good, 1:] * beta[good, 1:] / safe[good, 1:, None]  # (B', T−1, K)
        xi = trans * np.einsum("bti,btj->ij", alpha[good, :-1], nxt)
    for b in np.flatnonzero(bad):  # underflow: the log-space recursions for this sequence
        posteriors[b], xi_b, log_evidence[b] = forward_backward(log_start, log_trans, log_lik[b])
        xi += xi_b
    return posteriors, xi, log_evidence


def viterbi(log_start: np.ndarray, log_trans: np.ndarray, log_lik: np.ndarray) -> np.ndarray:
    """Most probable state sequence, shape ``(T,)``, by max-product in log space."""
    n_time, n_states = log_lik.shape
    delta = log_start + log_lik[0]
    back = np.zeros((n_time, n_states), dtype=np.int64)
    for t in range(1, n_time):
        scores = delta[:, None] + log_trans
        back[t] = np.argmax(scores, axis=0)
        delta = scores[back[t], np.arange(n_states)] + log_lik[t]
    path = np.empty(n_time, dtype=np.int64)
    path[-1] = int(np.argmax(delta))
    for t in range(n_time - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def _e_step(log_start, log_trans, obs, seqs) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Posteriors (one ``(T, K)`` per sequence), expected transitions and per-sequence
    log-likelihoods; sequences of equal length go through :func:`forward_backward_batch`
    together."""
    posts: list = [None] * len(seqs)
    log_liks = np.empty(len(seqs))
    xi_total = np.zeros((log_trans.shape[0],) * 2)
    by_length: dict[int, list[int]] = {}
    for i, seq in enumerate(seqs):
        by_length.setdefault(seq.shape[0], []).append(i)
    for idx in by_length.values():
        lik = np.stack([obs.log_likelihoods(seqs[i]) for i in idx])
        post, xi, ll = forward_backward_batch(log_start, log_trans, lik)
        xi_total += xi
        for j, i in enumerate(idx):
            posts[i], log_liks[i] = post[j], ll[j]
    return posts, xi_total, log_liks


# ----------------------------------------------------------------------------- observations


def _check_finite(data: np.ndarray, index: int) -> None:
    if not np.all(np.isfinite(data)):
        bad_t, bad_n = np.argwhere(~np.isfinite(data))[0]
        raise ValueError(
            f"sequence {index}: non-finite value (NaN or inf) at bin {bad_t}, neuron {bad_n}; "
            "remove or interpolate missing samples before fitting"
        )


def _check_not_constant(data: np.ndarray, index: int) -> None:
    constant = np.flatnonzero(np.ptp(data, axis=0) == 0)
    if constant.size:
        raise ValueError(
            f"sequence {index}: neurons {constant.tolist()} have constant traces; "
            "a continuous observation model cannot fit a zero-variance neuron — drop them"
        )


def _weighted_moments(
    datas: Sequence[np.ndarray], posteriors: Sequence[np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Posterior-weighted counts ``(K,)``, first ``(K, N)`` and second ``(K, N)`` moments."""
    weight = sum(p.sum(axis=0) for p in posteriors)
    first = sum(p.T @ y for y, p in zip(datas, posteriors))
    second = sum(p.T @ y**2 for y, p in zip(datas, posteriors))
    return weight, first, second


class GaussianObservations:
    """Independent Gaussian per neuron with state-specific mean and variance (diagonal)."""

    name = "gaussian"

    def __init__(self, n_states: int, n_neurons: int):
        self.n_states, self.n_neurons = n_states, n_neurons
        self.means = np.zeros((n_states, n_neurons))
        self.variances = np.ones((n_states, n_neurons))

    def validate(self, data: np.ndarray, index: int) -> None:
        _check_finite(data, index)

    def initialize(self, datas, states, rng) -> None:
        self.m_step(datas, [np.eye(self.n_states)[z] for z in states])

    def log_likelihoods(self, data: np.ndarray) -> np.ndarray:
        diff = data[:, None, :] - self.means[None]
        return -0.5 * np.sum(_LOG_2PI + np.log(self.variances) + diff**2 / self.variances, axis=2)

    def m_step(self, datas, posteriors) -> None:
        weight, first, second = _weighted_moments(datas, posteriors)
        w = np.maximum(weight, 1e-12)[:, None]
        self.means = first / w
        pooled = np.var(np.concatenate(datas), axis=0)
        self.variances = np.maximum(second / w - self.means**2, _VAR_FLOOR * pooled)

    def n_parameters(self) -> int:
        return 2 * self.n_states * self.n_neurons


class ARGaussianObservations:
    """Per-state, per-neuron AR(1) Gaussian: ``y_t ~ N(a_k y_{t−1} + b_k, σ²_k)`` (diagonal)."""

    name = "ar_gaussian"

    def __init__(self, n_states: int, n_neurons: int):
        self.n_states, self.n_neurons = n_states, n_neurons
        self.coefs = np.zeros((n_states, n_neurons))
        self.biases = np.zeros((n_states, n_neurons))
        self.variances = np.ones((n_states, n_neurons))

    def validate(self, data: np.ndarray, index: int) -> None:
        _check_finite(data, index)

    def initialize(self, datas, states, rng) -> None:
        self.m_step(datas, [np.eye(self.n_states)[z] for z in states])

    @staticmethod
    def _lagged(data: np.ndarray) -> np.ndarray:
        return np.vstack([np.zeros((1, data.shape[1])), data[:-1]])

    def log_likelihoods(self, data: np.ndarray) -> np.ndarray:
        pred = self.coefs[None] * self._lagged(data)[:, None, :] + self.biases[None]
        diff = data[:, None, :] - pred
        return -0.5 * np.sum(_LOG_2PI + np.log(self.variances) + diff**2 / self.variances, axis=2)

    def m_step(self, datas, posteriors) -> None:
        # weighted least squares of y_t on (y_{t-1}, 1), per state and neuron, in closed form
        sw = sxx = sx = sy = sxy = syy = 0.0
        for y, p in zip(datas, posteriors):
            x = self._lagged(y)
            sw = sw + p.sum(axis=0)[:, None]
            sx = sx + p.T @ x
            sy = sy + p.T @ y
            sxx = sxx + p.T @ x**2
            sxy = sxy + p.T @ (x * y)
            syy = syy + p.T @ y**2
        sw = np.maximum(sw, 1e-12)
        det = sw * sxx - sx**2
        ok = det > 1e-10 * np.maximum(sw * sxx, 1e-300)
        coefs = np.where(ok, (sw * sxy - sx * sy) / np.where(ok, det, 1.0), 0.0)
        biases = (sy - coefs * sx) / sw
        resid = syy - 2 * coefs * sxy - 2 * biases * sy + coefs**2 * sxx
        resid = resid + 2 * coefs * biases * sx + biases**2 * sw
        pooled = np.var(np.concatenate(datas), axis=0)
        self.coefs, self.biases = coefs, biases
        self.variances = np.maximum(resid / sw, _VAR_FLOOR * pooled)

    def n_parameters(self) -> int:
        return 3 * self.n_states * self.n_neurons


class PoissonObservations:
    """Independent Poisson spike counts with state-specific rates ``λ_k`` (spikes / bin)."""

    name = "poisson"

    def __init__(self, n_states: int, n_neurons: int):
        self.n_states, self.n_neurons = n_states, n_neurons
        self.rates = np.ones((n_states, n_neurons))

    def validate(self, data: np.ndarray, index: int) -> None:
        _check_finite(data, index)
        if np.any(data < 0) or np.any(data != np.round(data)):
            bad_t, bad_n = np.argwhere((data < 0) | (data != np.round(data)))[0]
            raise ValueError(
                f"sequence {index}: the Poisson observation model needs non-negative integer "
                f"spike counts; bin {bad_t}, neuron {bad_n} holds {data[bad_t, bad_n]!r}"
            )

    def initialize(self, datas, states, rng) -> None:
        self.m_step(datas, [np.eye(self.n_states)[z] for z in states])

    def log_likelihoods(self, data: np.ndarray) -> np.ndarray:
        from scipy.special import gammaln

        log_rates = np.log(self.rates)
        return (
            data @ log_rates.T
            - self.rates.sum(axis=1)[None]
            - gammaln(data + 1.0).sum(axis=1, keepdims=True)
        )

    def m_step(self, datas, posteriors) -> None:
        weight, first, _ = _weighted_moments(datas, posteriors)
        self.rates = np.maximum(first / np.maximum(weight, 1e-12)[:, None], _RATE_FLOOR)

    def n_parameters(self) -> int:
        return self.n_states * self.n_neurons


def _length_groups(datas, posteriors) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Sequences and their posteriors stacked by length: ``[(Y (B, T, N), W (B, T, K)), …]``."""
    by_length: dict[int, list[int]] = {}
    for i, y in enumerate(datas):
        by_length.setdefault(y.shape[0], []).append(i)
    return [
        (
            torch.as_tensor(np.stack([datas[i] for i in idx]), dtype=torch.float64),
            torch.as_tensor(np.stack([posteriors[i] for i in idx]), dtype=torch.float64),
        )
        for idx in by_length.values()
    ]


class CalciumObservations:
    """Calcium AR(1)-Poisson: state-specific rates ``λ_k`` and shared per-neuron AR(1) calcium.

    ``y_t = α y_{t−1} + c s_t + ε``, ``s_t ~ Poisson(λ_{z_t})``, ``ε ~ N(0, σ²)``; parameters
    ``rates (K, N)`` spikes / bin, ``ar_coef (N,)``, ``jump (N,)`` ΔF/F per spike,
    ``noise_var (N,)`` ΔF/F².

    M-step (``m_step``): ``"lbfgs"`` maximises the expected log-likelihood over all parameters
    with L-BFGS (``m_step_iters`` iterations, autograd through the spike-count sum); ``"em"``
    treats the spike counts as latent too and updates every parameter in closed form from
    their posterior moments (one pass: rates = weighted E[s]; α and c by weighted least
    squares of y_t on (y_{t−1}, s_t); σ² the expected squared residual). Both increase the
    likelihood at every EM iteration; ``"em"`` is one likelihood evaluation per M-step instead
    of one per line-search step.
    """

    name = "calcium"

    def __init__(
        self,
        n_states: int,
        n_neurons: int,
        max_spikes: int = 10,
        m_step_iters: int = 20,
        jump_init_sd: float = 0.2,
        jump_init: float = 1.0,
        m_step: str = "lbfgs",
    ):
        if m_step not in ("lbfgs", "em"):
            raise ValueError(f"m_step must be 'lbfgs' or 'em'; got {m_step!r}")
        self.m_step_method = m_step
        self.n_states, self.n_neurons = n_states, n_neurons
        self.max_spikes = max_spikes
        self.m_step_iters = m_step_iters
        self.jump_init_sd = jump_init_sd
        self.jump_init = float(jump_init)
        self.rates = np.full((n_states, n_neurons), 0.1)
        self.ar_coef = np.full(n_neurons, 0.8)
        self.jump = np.ones(n_neurons)
        self.noise_var = np.full(n_neurons, 0.1)

    def validate(self, data: np.ndarray, index: int) -> None:
        _check_finite(data, index)

    def initialize(self, datas, states, rng) -> None:
        # per-neuron regression of y_t on y_{t-1}: α from the slope, σ² from a robust residual
        # scale (median absolute deviation, so the sparse spike jumps do not inflate it)
        x = np.concatenate([np.vstack([np.zeros((1, y.shape[1])), y[:-1]]) for y in datas])
        y = np.concatenate(datas)
        alpha = np.sum(x * y, axis=0) / np.maximum(np.sum(x * x, axis=0), 1e-12)
        self.ar_coef = np.clip(alpha, 0.0, 0.999)
        resid = y - self.ar_coef * x
        mad = np.median(np.abs(resid - np.median(resid, axis=0)), axis=0)
        self.noise_var = np.maximum((1.4826 * mad) ** 2, _VAR_FLOOR * np.var(y, axis=0))
        scale = self.jump_init  # ΔF/F of one spike: the jumps start near it
        self.jump = scale * (np.abs(rng.normal(1.0, self.jump_init_sd, self.n_neurons)) + 0.05)
        onehot = np.eye(self.n_states)[np.concatenate(states)]
        weight = np.maximum(onehot.sum(axis=0), 1.0)[:, None]
        mean_resid = onehot.T @ np.maximum(resid, 0.0) / weight
        self.rates = np.clip(mean_resid / self.jump, 1e-3, 5.0)

    def _torch_log_likelihoods(self, data, log_rates, ar, log_jump, log_var) -> torch.Tensor:
        """(T, K) log-likelihood per bin and state; (B, T, K) for a (B, T, N) stack."""
        ll = calcium_ar_poisson_state_log_likelihood(
            data, log_rates, ar[None, :], log_jump.exp(), log_var.exp(), self.max_spikes
        )  # (..., K, T, N)
        return ll.sum(dim=-1).transpose(-1, -2)

    def log_likelihoods(self, data: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            ll = self._torch_log_likelihoods(
                torch.as_tensor(data, dtype=torch.float64),
                torch.log(torch.as_tensor(self.rates)),
                torch.as_tensor(self.ar_coef),
                torch.log(torch.as_tensor(self.jump)),
                torch.log(torch.as_tensor(self.noise_var)),
            )
        return ll.numpy()

    def m_step(self, datas, posteriors) -> None:
        if self.m_step_method == "em":
            self._m_step_em(datas, posteriors)
            return
        log_rates = torch.tensor(np.log(self.rates), requires_grad=True)
        ar = torch.tensor(self.ar_coef, requires_grad=True)
        log_jump = torch.tensor(np.log(self.jump), requires_grad=True)
        log_var = torch.tensor(np.log(self.noise_var), requires_grad=True)
        # sequences of equal length are stacked: one likelihood call per length, not per trial
        groups = _length_groups(datas, posteriors)
        n_total = float(sum(y.shape[0] for y in datas))
        params = [log_rates, ar, log_jump, log_var]
        optimizer = torch.optim.LBFGS(
            params, max_iter=self.m_step_iters, line_search_fn="strong_wolfe"
        )

        def closure():
            optimizer.zero_grad()
            objective = sum(
                (w * self._torch_log_likelihoods(y, log_rates, ar, log_jump, log_var)).sum()
                for y, w in groups
            )
            loss = -objective / n_total
            loss.backward()
            return loss

        optimizer.step(closure)
        with torch.no_grad():
            if all(torch.isfinite(p).all() for p in params):
                self.rates = np.clip(log_rates.exp().numpy(), _RATE_FLOOR, 50.0)
                self.ar_coef = ar.numpy().copy()
                self.jump = log_jump.exp().numpy().copy()
                self.noise_var = np.maximum(log_var.exp().numpy(), 1e-8)

    def _m_step_em(self, datas, posteriors) -> None:
        """One closed-form EM update with the spike counts as latent variables (see class)."""
        k_states, n = self.n_states, self.n_neurons
        log_rates = torch.log(torch.as_tensor(self.rates, dtype=torch.float64))
        ar = torch.as_tensor(self.ar_coef, dtype=torch.float64)
        jump = torch.as_tensor(self.jump, dtype=torch.float64)
        var = torch.as_tensor(self.noise_var, dtype=torch.float64)
        rate_num = torch.zeros(k_states, n, dtype=torch.float64)
        rate_den = torch.zeros(k_states, 1, dtype=torch.float64)
        # sums over bins, per neuron: x = y_{t−1} (0 before the first bin), m1 = E[s], m2 = E[s²]
        sxx, sxm, smm, sxy, smy, syy = (torch.zeros(n, dtype=torch.float64) for _ in range(6))
        n_total = 0
        with torch.no_grad():
            for y, w in _length_groups(datas, posteriors):  # y (B, T, N), w (B, T, K)
                x = torch.cat([torch.zeros_like(y[:, :1]), y[:, :-1]], dim=1)
                _, e1, e2 = state_spike_count_moments(
                    y - ar * x, log_rates, jump, var, self.max_spikes
                )  # (K, B, T, N)
                wk = w.permute(2, 0, 1).unsqueeze(-1)  # (K, B, T, 1)
                rate_num += (wk * e1).sum(dim=(1, 2))
                rate_den += wk.sum(dim=(1, 2))
                m1, m2 = (wk * e1).sum(0), (wk * e2).sum(0)  # (B, T, N)
                dims = (0, 1)
                sxx += (x * x).sum(dims)
                sxm += (x * m1).sum(dims)
                smm += m2.sum(dims)
                sxy += (x * y).sum(dims)
                smy += (m1 * y).sum(dims)
                syy += (y * y).sum(dims)
                n_total += y.shape[0] * y.shape[1]
        det = sxx * smm - sxm * sxm
        ok = det > 1e-12 * torch.clamp(sxx * smm, min=1e-300)
        alpha = torch.where(ok, (smm * sxy - sxm * smy) / det, ar)
        c = torch.where(ok, (sxx * smy - sxm * sxy) / det, jump)
        c = torch.clamp(c, min=1e-6)
        # E[(y − α x − c s)²] summed over bins, from the same sums
        sse = (
            syy
            + alpha * alpha * sxx
            + c * c * smm
            - 2 * alpha * sxy
            - 2 * c * smy
            + 2 * alpha * c * sxm
        )
        self.rates = np.clip((rate_num / rate_den.clamp_min(1e-12)).numpy(), _RATE_FLOOR, 50.0)
        self.ar_coef = alpha.numpy().copy()
        self.jump = c.numpy().copy()
        self.noise_var = np.maximum((sse / n_total).numpy(), 1e-8)

    def n_parameters(self) -> int:
        return self.n_states * self.n_neurons + 3 * self.n_neurons


OBSERVATION_MODELS = {
    cls.name: cls
    for cls in (
        GaussianObservations,
        ARGaussianObservations,
        PoissonObservations,
        CalciumObservations,
    )
}


# ----------------------------------------------------------------------------- estimator


class HMM(BaseEstimator):
    """Hidden Markov model fitted by EM, with a choice of observation model.

    Args:
        n_states: number of discrete states K (≥ 1).
        observations: ``"gaussian"``, ``"ar_gaussian"``, ``"poisson"`` (spike counts) or
            ``"calcium"`` (ΔF/F, AR(1)-Poisson).
        n_iter: maximum EM iterations; tol: stop when the log-likelihood per bin improves less.
        n_init: number of K-means initialisations (different seeds); the best fit is kept.
        init_smoothing_bins: width of the moving average applied before K-means (init only).
        max_spikes: truncation of the spike-count sum (calcium model).
        jump_init: ΔF/F of one spike the calcium model's jumps start near (1.0 suits data
            scaled to single-spike units; ≈ 0.1–0.3 for GCaMP ΔF/F as a fraction).
        m_step_iters: L-BFGS iterations per M-step (calcium model, ``calcium_m_step="lbfgs"``).
        calcium_m_step: ``"lbfgs"`` or ``"em"`` (closed-form updates with the spike counts as
            latent variables; see :class:`CalciumObservations`).
        transition_prior: pseudo-count added to every expected transition (keeps rows valid).
        random_state: seed for K-means and the calcium jump initialisation.
        verbose: show a progress bar over EM iterations.

    Attributes:
        startprob_: ``(K,)`` initial state probabilities.
        transmat_: ``(K, K)`` transition matrix (rows sum to 1).
        observations_: the fitted observation object.
        log_likelihood_history_: total training log-likelihood per EM iteration (nats).
        n_iter_: EM iterations run.
        n_features_in_: number of neurons.
    """

    def __init__(
        self,
        n_states: int = 5,
        observations: str = "gaussian",
        n_iter: int = 100,
        tol: float = 1e-5,
        n_init: int = 1,
        init_smoothing_bins: int = 1,
        max_spikes: int = 10,
        jump_init: float = 1.0,
        m_step_iters: int = 20,
        calcium_m_step: str = "lbfgs",
        transition_prior: float = 1e-2,
        random_state: int = 0,
        verbose: bool = False,
    ):
        self.n_states = n_states
        self.observations = observations
        self.n_iter = n_iter
        self.tol = tol
        self.n_init = n_init
        self.init_smoothing_bins = init_smoothing_bins
        self.max_spikes = max_spikes
        self.jump_init = jump_init
        self.m_step_iters = m_step_iters
        self.calcium_m_step = calcium_m_step
        self.transition_prior = transition_prior
        self.random_state = random_state
        self.verbose = verbose

    # -- helpers -----------------------------------------------------------------------------

    def _check_params(self) -> None:
        if isinstance(self.n_states, bool) or int(self.n_states) != self.n_states:
            raise ValueError(f"n_states must be an integer ≥ 1; got {self.n_states!r}")
        if self.n_states < 1:
            raise ValueError(f"n_states must be ≥ 1; got {self.n_states}")
        if self.calcium_m_step not in ("lbfgs", "em"):
            raise ValueError(f"calcium_m_step must be 'lbfgs' or 'em'; got {self.calcium_m_step!r}")
        if self.observations not in OBSERVATION_MODELS:
            raise ValueError(
                f"observations must be one of {sorted(OBSERVATION_MODELS)}; "
                f"got {self.observations!r}"
            )

    def _make_observations(self, n_neurons: int):
        cls = OBSERVATION_MODELS[self.observations]
        if cls is CalciumObservations:
            return cls(
                self.n_states,
                n_neurons,
                self.max_spikes,
                self.m_step_iters,
                jump_init=float(self.jump_init),
                m_step=self.calcium_m_step,
            )
        return cls(self.n_states, n_neurons)

    def _validate(self, X, fitting: bool) -> list[np.ndarray]:
        seqs = as_sequences(X)
        if not fitting:
            if not hasattr(self, "observations_"):
                raise RuntimeError("this HMM is not fitted yet; call fit first")
            if seqs[0].shape[1] != self.n_features_in_:
                raise ValueError(
                    f"X has {seqs[0].shape[1]} neurons but the HMM was fitted on "
                    f"{self.n_features_in_}"
                )
        obs = self.observations_ if not fitting else self._make_observations(seqs[0].shape[1])
        for i, seq in enumerate(seqs):
            if seq.shape[0] < 1:
                raise ValueError(f"sequence {i} is empty")
            obs.validate(seq, i)
        if fitting:
            total = sum(s.shape[0] for s in seqs)
            if total < self.n_states:
                raise ValueError(
                    f"only {total} time bins for n_states={self.n_states}; an HMM needs at "
                    "least as many bins as states"
                )
            # a continuous model checks for constant neurons over all sequences together
            if self.observations != "poisson":
                _check_not_constant(np.concatenate(seqs), 0)
        return seqs

    def _init_states(self, seqs, seed) -> list[np.ndarray]:
        width = max(int(self.init_smoothing_bins), 1)
        kernel = np.ones(width) / width
        feats = [
            np.apply_along_axis(lambda v: np.convolve(v, kernel, mode="same"), 0, s) for s in seqs
        ]
        km = KMeans(n_clusters=self.n_states, n_init=4, random_state=seed)
        labels = km.fit_predict(np.concatenate(feats))
        splits = np.cumsum([s.shape[0] for s in seqs])[:-1]
        return np.split(labels, splits)

    def _fit_once(self, seqs, seed):
        rng = np.random.default_rng(seed)
        obs = self._make_observations(seqs[0].shape[1])
        states = self._init_states(seqs, seed)
        obs.initialize(seqs, states, rng)
        k = self.n_states
        counts = np.full((k, k), self.transition_prior)
        for z in states:
            np.add.at(counts, (z[:-1], z[1:]), 1.0)
        trans = counts / counts.sum(axis=1, keepdims=True)
        start = np.bincount([z[0] for z in states], minlength=k) + 1.0
        start = start / start.sum()
        history: list[float] = []
        n_bins = sum(s.shape[0] for s in seqs)
        bar = tqdm(
            range(self.n_iter), desc=f"HMM EM ({self.observations})", disable=not self.verbose
        )
        for _ in bar:
            log_start, log_trans = np.log(start), np.log(trans)
            posts, trans_counts, log_liks = _e_step(log_start, log_trans, obs, seqs)
            start_counts = sum(post[0] for post in posts)
            total = float(np.sum(log_liks))
            history.append(total)
            bar.set_postfix(ll_per_bin=f"{total / n_bins:.4f}")
            if len(history) > 1 and (history[-1] - history[-2]) / n_bins < self.tol:
                break
            trans_counts += self.transition_prior
            trans = trans_counts / trans_counts.sum(axis=1, keepdims=True)
            start = (start_counts + 1e-3) / (start_counts + 1e-3).sum()
            obs.m_step(seqs, posts)
        return obs, start, trans, history

    # -- public API --------------------------------------------------------------------------

    def fit(self, X, y=None) -> HMM:
        """Fit by EM. ``X``: one ``(T, N)`` array or a list of them (trials); ΔF/F for the
        continuous models, spike counts for ``"poisson"``."""
        self._check_params()
        seqs = self._validate(X, fitting=True)
        best = None
        for i in range(max(int(self.n_init), 1)):
            result = self._fit_once(seqs, self.random_state + i)
            if best is None or result[3][-1] > best[3][-1]:
                best = result
        self.observations_, self.startprob_, self.transmat_, self.log_likelihood_history_ = best
        self.n_iter_ = len(self.log_likelihood_history_)
        self.n_features_in_ = seqs[0].shape[1]
        return self

    def _log_terms(self, seq):
        return (
            np.log(self.startprob_),
            np.log(self.transmat_),
            self.observations_.log_likelihoods(seq),
        )

    def score(self, X, y=None) -> float:
        """Total log-likelihood ``Σ_sequences log p(y)`` in nats (held out when ``X`` is new)."""
        return float(
            sum(forward_backward(*self._log_terms(s))[2] for s in self._validate(X, False))
        )

    def score_per_bin(self, X) -> float:
        """Log-likelihood per time bin (nats / bin), comparable across sequence lengths."""
        seqs = self._validate(X, False)
        return self.score(seqs) / sum(s.shape[0] for s in seqs)

    def predict(self, X):
        """Viterbi (most probable) state sequence: ``(T,)`` for one array, else a list."""
        seqs = self._validate(X, False)
        out = [viterbi(*self._log_terms(s)) for s in seqs]
        return out[0] if isinstance(X, np.ndarray) else out

    def predict_proba(self, X):
        """Posterior state marginals ``p(z_t = k | y)``: ``(T, K)`` for one array, else a list."""
        seqs = self._validate(X, False)
        out = [forward_backward(*self._log_terms(s))[0] for s in seqs]
        return out[0] if isinstance(X, np.ndarray) else out

    def predict_posterior_mode(self, X):
        """Posterior decoding: the most probable state in every bin separately."""
        proba = self.predict_proba(X)
        if isinstance(proba, list):
            return [p.argmax(axis=1) for p in proba]
        return proba.argmax(axis=1)

    def n_parameters(self) -> int:
        """Free parameters: observation model + transitions + initial distribution."""
        k = self.n_states
        return self.observations_.n_parameters() + k * (k - 1) + (k - 1)


def held_out_log_likelihood_curve(
    train,
    test,
    n_states_grid: Sequence[int],
    observations: str,
    **hmm_kwargs,
) -> list[dict]:
    """Fit one HMM per K on ``train`` and score it on ``test``.

    Returns:
        One record per K: ``{"n_states", "observations", "train_ll_per_bin", "test_ll_per_bin"}``
        (nats / bin). The best K is the one with the highest ``test_ll_per_bin``.
    """
    records = []
    for k in n_states_grid:
        model = HMM(n_states=int(k), observations=observations, **hmm_kwargs).fit(train)
        records.append(
            {
                "n_states": int(k),
                "observations": observations,
                "train_ll_per_bin": model.score_per_bin(train),
                "test_ll_per_bin": model.score_per_bin(test),
            }
        )
    return records
