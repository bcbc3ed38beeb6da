"""The memory-lean calcium AR-Poisson likelihood equals the plain logsumexp formulation."""

from __future__ import annotations

import math

import pytest
import torch

from calcium_dynamics.likelihoods.calcium import (
    ar_prediction,
    calcium_ar_poisson_log_likelihood,
)


def _reference(y, log_rate, ar, jump, noise_var, max_spikes):
    """The sum over spike counts as one (..., R+1) tensor and ``torch.logsumexp``."""
    residual = (y - ar_prediction(y, ar)).unsqueeze(-1)
    k = torch.arange(max_spikes + 1, dtype=y.dtype)
    log_poisson = k * log_rate.unsqueeze(-1) - torch.exp(log_rate.unsqueeze(-1))
    log_poisson = log_poisson - torch.lgamma(k + 1.0)
    log_gauss = -0.5 * (math.log(2 * math.pi) + torch.log(noise_var)).unsqueeze(-1) - (
        residual - jump.unsqueeze(-1) * k
    ) ** 2 / (2.0 * noise_var.unsqueeze(-1))
    return torch.logsumexp(log_poisson + log_gauss, dim=-1)


def _inputs(dtype, seed=0, shape=(3, 20, 6), p=2):
    g = torch.Generator().manual_seed(seed)
    n = shape[-1]
    y = (torch.randn(shape, generator=g) * 0.6 + 0.3).to(dtype)
    log_rate = (torch.randn(shape, generator=g) - 1.0).to(dtype).requires_grad_()
    ar = torch.tensor([[0.8] * n, [-0.1] * n][:p], dtype=dtype).requires_grad_()
    jump = (torch.rand(n, generator=g) + 0.5).to(dtype).requires_grad_()
    noise_var = (torch.rand(n, generator=g) * 0.2 + 0.02).to(dtype).requires_grad_()
    return y, log_rate, ar, jump, noise_var


def _value_and_grads(fn, args, weights):
    for a in args[1:]:
        a.grad = None
    ll = fn(*args)
    (ll * weights).sum().backward()
    return ll.detach(), [a.grad.clone() for a in args[1:]]


@pytest.mark.parametrize(("dtype", "tol"), [(torch.float64, 1e-10), (torch.float32, 1e-5)])
@pytest.mark.parametrize("max_spikes", [0, 3, 10])
def test_value_and_gradients_equal_the_logsumexp_formulation(dtype, tol, max_spikes):
    args = _inputs(dtype, seed=max_spikes)
    weights = torch.rand(args[0].shape, generator=torch.Generator().manual_seed(5)).to(dtype)
    got, got_grads = _value_and_grads(
        lambda *a: calcium_ar_poisson_log_likelihood(*a, max_spikes=max_spikes), args, weights
    )
    ref, ref_grads = _value_and_grads(
        lambda *a: _reference(*a, max_spikes=max_spikes), args, weights
    )
    torch.testing.assert_close(got, ref, rtol=tol, atol=tol)
    for g, r in zip(got_grads, ref_grads, strict=True):
        torch.testing.assert_close(g, r, rtol=tol, atol=tol * 10)


def test_large_residuals_and_tiny_noise_stay_accurate_in_float32():
    """|r| / σ in the hundreds: the float32 result matches the float64 reference."""
    y, log_rate, ar, jump, noise_var = _inputs(torch.float64, seed=3)
    y = y * 20.0
    noise_var = (noise_var.detach() * 0.01).requires_grad_()
    ref = _reference(y, log_rate, ar, jump, noise_var, 10)
    got32 = calcium_ar_poisson_log_likelihood(
        *(t.detach().float() for t in (y, log_rate, ar, jump, noise_var)), max_spikes=10
    )
    assert torch.isfinite(got32).all()
    torch.testing.assert_close(got32.double(), ref.detach(), rtol=1e-5, atol=2e-3)


def test_broadcast_state_rates_match_and_gradcheck():
    """log_rate (S, 1, N) against y (T, N), as the classical models call it; gradcheck."""
    y, _, ar, jump, noise_var = _inputs(torch.float64, shape=(7, 4), p=1)
    log_rates = torch.randn(3, 1, 4, dtype=torch.float64, requires_grad=True)
    got = calcium_ar_poisson_log_likelihood(y, log_rates, ar, jump, noise_var, max_spikes=6)
    ref = _reference(y, log_rates.expand(3, 7, 4), ar, jump, noise_var, 6)
    torch.testing.assert_close(got, ref, rtol=1e-10, atol=1e-10)
    assert torch.autograd.gradcheck(
        lambda lr, a, c, v: calcium_ar_poisson_log_likelihood(y, lr, a, c, v, max_spikes=6),
        (log_rates, ar, jump, noise_var),
    )
