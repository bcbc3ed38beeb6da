"""Observation (reconstruction) models for LFADS: one small class per distribution.

Every class shares one interface:

- ``n_params``: readout outputs per neuron (the readout maps factors to ``n_params × N`` values);
- ``log_likelihood(data, params)``: per-entry log-likelihood, shape (B, T, N);
- ``nll(data, params, mask)``: mean negative log-likelihood over the entries where ``mask`` is
  True (0 when the mask is empty, so a batch without samples contributes no reconstruction cost);
- ``split(readout)`` and ``readout_nll(data, readout, mask)``: the readout output as one tensor
  (B, T, n_params, N), split into ``params``, and ``nll`` computed from it (what LFADS trains on:
  a model may form the gradient of the whole readout at once);
- ``rate(params)``: the quantity reported as the neuron's inferred rate (B, T, N);
- ``penalty()``: extra regularisation of the module's own parameters (0 by default);
- ``check_data(data)``: raise a clear error on data the distribution cannot model;
- ``initial_bias(data)``: readout bias that matches simple statistics of the data, (n_params, N).

``params`` is a tuple of ``n_params`` tensors of shape (B, T, N), in readout order.
"""

from __future__ import annotations

import abc
import math

import numpy as np
import torch
from torch import nn

from calcium_dynamics.likelihoods.gaussian import gaussian_log_likelihood
from calcium_dynamics.likelihoods.masked_nll import (
    masked_gaussian_nll_sum,
    masked_poisson_nll_sum,
    masked_zig_zero_nll_sum,
    zig_readout_costs,
)
from calcium_dynamics.likelihoods.poisson import poisson_log_likelihood
from calcium_dynamics.likelihoods.zig import zig_log_likelihood, zig_mean

MAX_LOG_RATE = 15.0


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def _neuron_means(data: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        m = np.nanmean(data.reshape(-1, data.shape[-1]), axis=0)
    return np.nan_to_num(m)


def _positive(data: torch.Tensor) -> torch.Tensor:
    """``data > 0`` for counts or event sizes, which are never negative (``check_data``) and
    hold no NaN where a cost reads them (zero-filled): the cast to bool, a few times cheaper
    than the comparison."""
    return data.bool()


def _per_cost_entry(total: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """A summed cost (nats) divided by the number of cost entries (0 stays 0 when none)."""
    return total / torch.clamp(torch.count_nonzero(mask), min=1)


class Observation(nn.Module, abc.ABC):
    """Base class: subclasses set ``n_params`` and implement ``log_likelihood`` and ``rate``."""

    n_params: int = 1
    name: str = "base"

    def __init__(self, n_neurons: int):
        super().__init__()
        self.n_neurons = int(n_neurons)

    @abc.abstractmethod
    def log_likelihood(self, data: torch.Tensor, params: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """Per-entry log-likelihood of ``data`` given the readout parameters."""

    @abc.abstractmethod
    def rate(self, params: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """The observation mean (rate) implied by the readout parameters."""

    def nll(
        self, data: torch.Tensor, params: tuple[torch.Tensor, ...], mask: torch.Tensor
    ) -> torch.Tensor:
        """Mean negative log-likelihood (nats per entry) over the True entries of ``mask``
        (the masked sum as one dot product: fewer full-size passes than ``(ll * mask).sum()``)."""
        ll = self.log_likelihood(data, params)
        return _per_cost_entry(-torch.dot(ll.reshape(-1), mask.to(ll.dtype).reshape(-1)), mask)

    def split(self, readout: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """``params`` from the readout output (B, T, n_params, N): views, no copy. One channel
        is squeezed (its gradient is then a view too; unbinding stacks the gradients of the
        channels into a new tensor)."""
        if readout.shape[2] == 1:
            return (readout.squeeze(2),)
        return readout.unbind(dim=2)

    def readout_nll(
        self, data: torch.Tensor, readout: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """:meth:`nll` from the readout output as one tensor (B, T, n_params, N)."""
        return self.nll(data, self.split(readout), mask)

    def penalty(self) -> torch.Tensor:
        return torch.zeros((), device=self._device())

    def check_data(self, data: np.ndarray) -> None:
        """Raise ValueError on data this model cannot score (NaN entries are unsampled)."""

    def initial_bias(self, data: np.ndarray) -> np.ndarray | None:
        return None

    def _device(self) -> torch.device:
        for t in list(self.parameters()) + list(self.buffers()):
            return t.device
        return torch.device("cpu")


def _check_non_negative(data: np.ndarray, what: str) -> None:
    with np.errstate(invalid="ignore"):
        bad = np.nanmin(np.where(np.isnan(data), np.inf, data), axis=(0, 1)) < 0
    if bad.any():
        neurons = np.flatnonzero(bad)
        raise ValueError(
            f"{what} must be >= 0; neurons {neurons[:10].tolist()} have negative values"
        )


class PoissonObservation(Observation):
    """Poisson counts, rate = exp(readout) (spikes or discretised events per bin)."""

    n_params = 1
    name = "poisson"

    def log_likelihood(self, data, params):
        return poisson_log_likelihood(data, torch.clamp(params[0], max=MAX_LOG_RATE))

    def rate(self, params):
        return torch.exp(torch.clamp(params[0], max=MAX_LOG_RATE))

    def nll(self, data, params, mask):
        """As :meth:`Observation.nll`, with a hand-written gradient
        (:func:`~calcium_dynamics.likelihoods.masked_nll.masked_poisson_nll_sum`); log x! is
        evaluated only where x > 0 (it is 0 at x = 0) and only where the mask is True."""
        total = masked_poisson_nll_sum(params[0], data, mask, MAX_LOG_RATE)
        counted = (mask & _positive(data)).flatten().nonzero().squeeze(1)
        log_factorial = torch.lgamma(data.flatten().index_select(0, counted) + 1.0).sum()
        return _per_cost_entry(total + log_factorial, mask)

    def check_data(self, data):
        _check_non_negative(data, "Poisson counts")

    def initial_bias(self, data):
        return np.log(np.clip(_neuron_means(data), 1e-3, None))[None, :]


class GaussianObservation(Observation):
    """Gaussian with per-entry mean and log variance from the readout; rate = mean."""

    n_params = 2
    name = "gaussian"

    def __init__(self, n_neurons: int, min_log_var: float = -10.0, max_log_var: float = 5.0):
        super().__init__(n_neurons)
        self.min_log_var, self.max_log_var = float(min_log_var), float(max_log_var)

    def _log_var(self, raw):
        return torch.clamp(raw, self.min_log_var, self.max_log_var)

    def log_likelihood(self, data, params):
        return gaussian_log_likelihood(data, params[0], self._log_var(params[1]))

    def rate(self, params):
        return params[0]

    def nll(self, data, params, mask):
        """As :meth:`Observation.nll`, with a hand-written gradient
        (:func:`~calcium_dynamics.likelihoods.masked_nll.masked_gaussian_nll_sum`)."""
        total = masked_gaussian_nll_sum(
            params[0], params[1], data, mask, self.min_log_var, self.max_log_var
        )
        return _per_cost_entry(total, mask)

    def initial_bias(self, data):
        flat = data.reshape(-1, data.shape[-1])
        with np.errstate(invalid="ignore"):
            var = np.nan_to_num(np.nanvar(flat, axis=0), nan=1.0)
        return np.stack([_neuron_means(data), np.log(np.clip(var, 1e-4, None))])


class ZIGObservation(Observation):
    """Zero-inflated gamma (RADICaL). Readout → (a, b, c) per neuron:

    α = sig_α,n · sigmoid(a), k = sig_k,n · sigmoid(b) (trainable per-neuron scales sig, with
    an L2 penalty towards ``sig_prior``), q = sigmoid(c) clamped to [q_min, 1 − q_min]. The
    location s_min,n is the smallest non-zero event of neuron n in the training data (``s_min``
    where a neuron has none). ``rate`` is the event rate q·(k·α + s_min) (RADICaL Eq. 3).
    """

    n_params = 3
    name = "zig"

    def __init__(
        self,
        n_neurons: int,
        s_min: float = 0.1,
        sig_prior: float = 5.0,
        sig_l2_scale: float = 1e-4,
        q_min: float = 1e-5,
        param_floor: float = 1e-4,
    ):
        super().__init__(n_neurons)
        self.s_min, self.sig_prior = float(s_min), float(sig_prior)
        self.sig_l2_scale, self.q_min, self.param_floor = (
            float(sig_l2_scale),
            float(q_min),
            float(param_floor),
        )
        self.log_sig = nn.Parameter(torch.full((2, n_neurons), math.log(sig_prior)))
        self.register_buffer("loc", torch.full((n_neurons,), float(s_min)))

    def distribution(self, params):
        """(q, shape k, scale α), each (B, T, N)."""
        sig = torch.exp(self.log_sig)
        scale = sig[0] * torch.sigmoid(params[0]) + self.param_floor
        shape = sig[1] * torch.sigmoid(params[1]) + self.param_floor
        q = torch.clamp(torch.sigmoid(params[2]), self.q_min, 1.0 - self.q_min)
        return q, shape, scale

    def log_likelihood(self, data, params):
        """Per-entry ZIG log-likelihood; the gamma terms are evaluated on non-zero entries only
        (deconvolved events are mostly zero), the rest get log(1 − q)."""
        q = torch.clamp(torch.sigmoid(params[2]), self.q_min, 1.0 - self.q_min)
        ll = torch.log1p(-q)
        nonzero = data > 0
        if not bool(nonzero.any()):
            return ll
        sig = torch.exp(self.log_sig)
        shape_full = data.shape
        scale = sig[0].expand(shape_full)[nonzero] * torch.sigmoid(params[0][nonzero])
        shape = sig[1].expand(shape_full)[nonzero] * torch.sigmoid(params[1][nonzero])
        log_nz = zig_log_likelihood(
            data[nonzero],
            q[nonzero],
            shape + self.param_floor,
            scale + self.param_floor,
            self.loc.expand(shape_full)[nonzero],
            check=False,
        )
        return ll.index_put((nonzero,), log_nz)

    def nll(self, data, params, mask):
        """As :meth:`Observation.nll`, computed without per-entry tensors of the gamma terms:
        −log(1 − q) on the zero entries with a hand-written gradient
        (:func:`~calcium_dynamics.likelihoods.masked_nll.masked_zig_zero_nll_sum`), and the
        gamma density only on the non-zero entries that carry cost (gathered once by flat
        index)."""
        nonzero = _positive(data)
        zero_cost = masked_zig_zero_nll_sum(params[2], mask & ~nonzero, self.q_min)
        log_nz = self.nonzero_log_likelihood_sum(data, params, mask & nonzero)
        return _per_cost_entry(zero_cost - log_nz, mask)

    def readout_nll(self, data, readout, mask):
        """As :meth:`nll`, from the readout output (B, T, 3, N): the same value, and the
        gradient of the readout formed once (:func:`~calcium_dynamics.likelihoods.masked_nll.
        zig_readout_costs`) instead of per channel and then stacked."""
        nonzero = _positive(data)
        idx = (mask & nonzero).flatten().nonzero().squeeze(1)
        zero_cost, *picked = zig_readout_costs(readout, mask & ~nonzero, idx, self.q_min)
        log_nz = self._picked_log_likelihood_sum(data, picked, idx)
        return _per_cost_entry(zero_cost - log_nz, mask)

    def nonzero_log_likelihood_sum(self, data, params, entries):
        """Σ of the ZIG log-likelihood (log q + the gamma log density) over the True entries
        of ``entries`` (non-zero events), evaluated on those entries only (gathered once by
        flat index). Nats, a 0-d tensor."""
        idx = entries.flatten().nonzero().squeeze(1)
        picked = [x.flatten().index_select(0, idx) for x in params]
        return self._picked_log_likelihood_sum(data, picked, idx)

    def _picked_log_likelihood_sum(self, data, picked, idx):
        """:meth:`nonzero_log_likelihood_sum` from the three readout channels at the flat
        (B, T, N) indices ``idx``, (K,) each."""
        neuron = idx % self.n_neurons
        sig = torch.exp(self.log_sig)
        scale = sig[0].index_select(0, neuron) * torch.sigmoid(picked[0])
        shape = sig[1].index_select(0, neuron) * torch.sigmoid(picked[1])
        q = torch.clamp(torch.sigmoid(picked[2]), self.q_min, 1.0 - self.q_min)
        return zig_log_likelihood(
            data.flatten().index_select(0, idx),
            q,
            shape + self.param_floor,
            scale + self.param_floor,
            self.loc.index_select(0, neuron),
            check=False,
        ).sum()

    def rate(self, params):
        q, shape, scale = self.distribution(params)
        return zig_mean(q, shape, scale, self.loc)

    def penalty(self):
        return self.sig_l2_scale * ((torch.exp(self.log_sig) - self.sig_prior) ** 2).sum()

    def check_data(self, data):
        _check_non_negative(data, "ZIG event sizes")

    def set_locations(self, data: np.ndarray) -> None:
        """s_min per neuron: the smallest non-zero event in ``data`` (B, T, N)."""
        x = np.where(np.isnan(data), 0.0, data).reshape(-1, data.shape[-1])
        pos = np.where(x > 0, x, np.inf).min(axis=0)
        loc = np.where(np.isfinite(pos), pos, self.s_min)
        self.loc.copy_(torch.as_tensor(loc, dtype=self.loc.dtype))

    def initial_bias(self, data):
        self.set_locations(data)
        x = data.reshape(-1, data.shape[-1])
        valid = ~np.isnan(x)
        frac = np.where(valid, x > 0, False).sum(0) / np.maximum(valid.sum(0), 1)
        with np.errstate(invalid="ignore"):
            excess = np.nanmean(np.where(x > 0, x - self.loc.numpy(), np.nan), axis=0)
        excess = np.clip(np.nan_to_num(excess, nan=0.1), 1e-3, None)
        sig = np.exp(self.log_sig.detach().numpy())
        return np.stack(
            [_logit(excess / sig[0]), _logit(np.full_like(excess, 1.0) / sig[1]), _logit(frac)]
        )


class CalciumARPoissonObservation(Observation):
    """Calcium AR(p)-Poisson (Keeley et al.): ΔF/F from latent Poisson spikes, summed out.

    The readout gives log λ per neuron; per-neuron AR coefficients (unconstrained), the jump per
    spike c = exp(·) and the innovation variance σ² = exp(·) are learned. ``rate`` is λ
    (spikes per bin). Data must be fully sampled (the AR history needs every bin).
    """

    n_params = 1
    name = "calcium"

    def __init__(
        self, n_neurons: int, ar_order: int = 1, max_spikes: int = 10, min_noise_var: float = 1e-5
    ):
        super().__init__(n_neurons)
        if ar_order < 1:
            raise ValueError(f"ar_order must be >= 1; got {ar_order}")
        self.ar_order, self.max_spikes = int(ar_order), int(max_spikes)
        self.min_noise_var = float(min_noise_var)
        init = torch.zeros(ar_order, n_neurons)
        init[0] = 0.5
        self.ar_coefs = nn.Parameter(init)
        self.log_jump = nn.Parameter(torch.zeros(n_neurons))
        self.log_noise_var = nn.Parameter(torch.full((n_neurons,), math.log(0.05)))

    def noise_var(self) -> torch.Tensor:
        return torch.exp(self.log_noise_var) + self.min_noise_var

    def log_likelihood(self, data, params):
        from calcium_dynamics.likelihoods.calcium import (
            calcium_ar_poisson_log_likelihood,
        )

        return calcium_ar_poisson_log_likelihood(
            data,
            torch.clamp(params[0], max=MAX_LOG_RATE),
            self.ar_coefs,
            torch.exp(self.log_jump),
            self.noise_var(),
            max_spikes=self.max_spikes,
        )

    def rate(self, params):
        return torch.exp(torch.clamp(params[0], max=MAX_LOG_RATE))

    def check_data(self, data):
        if np.isnan(data).any():
            raise ValueError(
                "the calcium AR-Poisson model needs every bin sampled (its AR history); "
                "the data contain NaN"
            )

    def initial_bias(self, data):
        """Least-squares AR(p) fit per neuron sets the AR coefficients and σ²; c starts at 1."""
        p = self.ar_order
        y = data.astype(np.float64)
        target = y[:, p:].reshape(-1, y.shape[-1])
        lags = np.stack([y[:, p - i : y.shape[1] - i] for i in range(1, p + 1)], axis=-1)
        lags = lags.reshape(-1, y.shape[-1], p)
        gram = np.einsum("knp,knq->npq", lags, lags) + 1e-8 * np.eye(p)
        coefs = np.linalg.solve(gram, np.einsum("knp,kn->np", lags, target)[..., None])[..., 0]
        resid = target - np.einsum("knp,np->kn", lags, coefs)
        coefs, resid_var, mean_resid = coefs.T, resid.var(0), resid.mean(0)
        with torch.no_grad():
            self.ar_coefs.copy_(torch.as_tensor(coefs, dtype=self.ar_coefs.dtype))
            self.log_noise_var.copy_(
                torch.as_tensor(np.log(np.clip(resid_var, 1e-4, None)), dtype=torch.float32)
            )
            self.log_jump.zero_()
        return np.log(np.clip(mean_resid, 1e-2, None))[None, :]


OBSERVATIONS: dict[str, type[Observation]] = {
    cls.name: cls
    for cls in (
        PoissonObservation,
        GaussianObservation,
        ZIGObservation,
        CalciumARPoissonObservation,
    )
}


def build_observation(name: str, n_neurons: int, **kwargs) -> Observation:
    """Observation model by name: 'poisson', 'gaussian', 'zig' or 'calcium'."""
    if name not in OBSERVATIONS:
        raise ValueError(
            f"unknown observation model {name!r}; choose one of {sorted(OBSERVATIONS)}"
        )
    return OBSERVATIONS[name](n_neurons, **kwargs)
