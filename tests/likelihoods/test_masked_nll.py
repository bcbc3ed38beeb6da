"""The hand-written masked NLL sums against the autograd expressions they replace."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from calcium_dynamics.likelihoods.gaussian import gaussian_log_likelihood
from calcium_dynamics.likelihoods.masked_nll import (
    masked_gaussian_nll_sum,
    masked_poisson_nll_sum,
    masked_zig_zero_nll_sum,
)

SHAPE = (3, 7, 5)


def _inputs(dtype, seed=0, saturate=False):
    rng = np.random.default_rng(seed)
    raw = rng.normal(-1.0, 1.5, SHAPE)
    if saturate:  # some entries beyond the clamps, one exactly on each
        raw.flat[::4] = rng.uniform(3.0, 8.0, raw.flat[::4].shape)
        raw.flat[1::6] = rng.uniform(-12.0, -9.0, raw.flat[1::6].shape)
        raw.flat[2], raw.flat[3] = 2.0, -8.0
    data = rng.poisson(0.8, SHAPE)
    mask = rng.random(SHAPE) < 0.6
    return (
        torch.tensor(raw, dtype=dtype),
        torch.tensor(data, dtype=dtype),
        torch.tensor(mask),
    )


def _poisson_reference(raw, data, mask, max_log_rate):
    log_rate = torch.clamp(raw, max=max_log_rate)
    return -((data * log_rate - torch.exp(log_rate)) * mask).sum()


@pytest.mark.parametrize("saturate", [False, True])
def test_poisson_sum_and_gradient_equal_autograd_in_float64(saturate):
    raw, data, mask = _inputs(torch.float64, saturate=saturate)
    max_log_rate = 2.0
    if saturate:
        assert int((raw > max_log_rate).sum()) >= 5 and float(raw.flatten()[2]) == max_log_rate
    probe = torch.tensor(1.7, dtype=torch.float64)
    a = raw.clone().requires_grad_()
    (probe * masked_poisson_nll_sum(a, data, mask, max_log_rate)).backward()
    b = raw.clone().requires_grad_()
    ref = _poisson_reference(b, data, mask, max_log_rate)
    (probe * ref).backward()
    fused = masked_poisson_nll_sum(raw, data, mask, max_log_rate)
    assert abs(float(fused) - float(ref)) <= 1e-12 * abs(float(ref))
    torch.testing.assert_close(a.grad, b.grad, rtol=1e-13, atol=1e-14)
    # the analytic form: (λ − x)·mask, 0 above the clamp (torch.clamp passes the gradient at it)
    expected = (torch.exp(raw) - data) * mask * (raw <= max_log_rate) * 1.7
    torch.testing.assert_close(a.grad, expected, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("saturate", [False, True])
def test_gaussian_sum_and_gradients_equal_autograd_in_float64(saturate):
    raw, data, mask = _inputs(torch.float64, seed=1, saturate=saturate)
    mean = torch.tensor(np.random.default_rng(2).normal(0.5, 1.0, SHAPE))
    lo, hi = -8.0, 2.0
    if saturate:
        assert int((raw > hi).sum()) >= 5 and int((raw < lo).sum()) >= 3
    m1, v1 = mean.clone().requires_grad_(), raw.clone().requires_grad_()
    fused = masked_gaussian_nll_sum(m1, v1, data, mask, lo, hi)
    (0.3 * fused).backward()
    m2, v2 = mean.clone().requires_grad_(), raw.clone().requires_grad_()
    ref = -(gaussian_log_likelihood(data, m2, torch.clamp(v2, lo, hi)) * mask).sum()
    (0.3 * ref).backward()
    assert abs(float(fused) - float(ref)) <= 1e-12 * abs(float(ref))
    torch.testing.assert_close(m1.grad, m2.grad, rtol=1e-13, atol=1e-14)
    torch.testing.assert_close(v1.grad, v2.grad, rtol=1e-13, atol=1e-14)
    # a hand check of one entry: 0.5·(log 2π + v + (x − μ)² e^−v)
    i = int(torch.nonzero(mask.flatten())[0])
    v = min(max(float(raw.flatten()[i]), lo), hi)
    x, mu = float(data.flatten()[i]), float(mean.flatten()[i])
    one = 0.5 * (math.log(2 * math.pi) + v + (x - mu) ** 2 * math.exp(-v))
    single = torch.zeros_like(mask).flatten()
    single[i] = True
    got = masked_gaussian_nll_sum(mean, raw, data, single.view(SHAPE), lo, hi)
    assert abs(float(got) - one) <= 1e-12 * abs(one)


def test_float32_sums_and_gradients_within_rounding_of_float64():
    raw64, data64, mask = _inputs(torch.float64, seed=3)
    raw = raw64.float().requires_grad_()
    total = masked_poisson_nll_sum(raw, data64.float(), mask, 15.0)
    total.backward()
    raw_d = raw64.clone().requires_grad_()
    ref = masked_poisson_nll_sum(raw_d, data64, mask, 15.0)
    ref.backward()
    assert abs(float(total) - float(ref)) <= 1e-6 * abs(float(ref))
    torch.testing.assert_close(raw.grad.double(), raw_d.grad, rtol=1e-6, atol=1e-6)


def test_empty_mask_gives_zero_and_zero_gradients():
    raw, data, mask = _inputs(torch.float32)
    none = torch.zeros_like(mask)
    a = raw.clone().requires_grad_()
    b = raw.clone().requires_grad_()
    assert float(masked_poisson_nll_sum(a, data, none, 15.0)) == 0.0
    total = masked_gaussian_nll_sum(b, a, data, none, -10.0, 5.0)
    assert float(total) == 0.0
    total.backward()
    assert float(a.grad.abs().max()) == 0.0 and float(b.grad.abs().max()) == 0.0


def test_strided_views_as_the_readout_gives_them():
    """The Gaussian readout hands over (B, T, N) views of a (B, T, 2, N) tensor."""
    torch.manual_seed(0)
    raw = torch.randn(3, 7, 2, 5, dtype=torch.float64, requires_grad=True)
    mean, log_var = raw.unbind(dim=2)
    assert not mean.is_contiguous()
    _, data, mask = _inputs(torch.float64, seed=4)
    masked_gaussian_nll_sum(mean, log_var, data, mask, -10.0, 5.0).backward()
    ref_raw = raw.detach().clone().requires_grad_()
    m, v = ref_raw.unbind(dim=2)
    (-(gaussian_log_likelihood(data, m, torch.clamp(v, -10.0, 5.0)) * mask).sum()).backward()
    torch.testing.assert_close(raw.grad, ref_raw.grad, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("saturate", [False, True])
def test_zig_zero_cost_and_gradient_equal_autograd_in_float64(saturate):
    """−log(1 − q) with q = clamp(σ(c), q_min, 1 − q_min), against the expression in q."""
    raw, _, mask = _inputs(torch.float64, seed=5)
    q_min = 1e-3
    if saturate:  # q beyond both clamps: σ(c) > 1 − q_min and σ(c) < q_min
        raw.view(-1)[::5] = 9.0
        raw.view(-1)[1::7] = -9.0
    a = raw.clone().requires_grad_()
    fused = masked_zig_zero_nll_sum(a, mask, q_min)
    (2.5 * fused).backward()
    b = raw.clone().requires_grad_()
    q = torch.clamp(torch.sigmoid(b), q_min, 1.0 - q_min)
    ref = -(torch.log1p(-q) * mask).sum()
    (2.5 * ref).backward()
    assert abs(float(fused) - float(ref)) <= 1e-12 * abs(float(ref))
    torch.testing.assert_close(a.grad, b.grad, rtol=1e-12, atol=1e-14)
    if saturate:
        assert float(a.grad.view(-1)[::5].abs().max()) == 0.0
        assert float(a.grad.view(-1)[1::7].abs().max()) == 0.0


def test_without_clamped_entries_inputs_stay_unwritten_and_gradients_equal_autograd():
    """No entry beyond a clamp: the clamp is skipped, the readout output is never written
    in place, and values and gradients still equal the autograd expressions."""
    raw, data, mask = _inputs(torch.float64, seed=4)
    raw = raw.clamp(-5.0, 1.5)
    before = raw.clone()
    a = raw.clone().requires_grad_()
    total = masked_poisson_nll_sum(a, data, mask, 2.0)
    total.backward()
    b = raw.clone().requires_grad_()
    ref = _poisson_reference(b, data, mask, 2.0)
    ref.backward()
    assert abs(float(total) - float(ref)) <= 1e-12 * abs(float(ref))
    torch.testing.assert_close(a.grad, b.grad, rtol=1e-13, atol=1e-14)
    mean = torch.zeros(SHAPE, dtype=torch.float64, requires_grad=True)
    v1 = raw.clone().requires_grad_()
    fused = masked_gaussian_nll_sum(mean, v1, data, mask, -8.0, 2.0)
    fused.backward()
    v2 = raw.clone().requires_grad_()
    ref = -(gaussian_log_likelihood(data, mean.detach(), torch.clamp(v2, -8.0, 2.0)) * mask).sum()
    ref.backward()
    assert abs(float(fused) - float(ref)) <= 1e-12 * abs(float(ref))
    torch.testing.assert_close(v1.grad, v2.grad, rtol=1e-13, atol=1e-14)
    assert torch.equal(a.detach(), before) and torch.equal(v1.detach(), before)
