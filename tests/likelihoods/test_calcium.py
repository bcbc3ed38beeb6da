"""Calcium AR(p)-Poisson likelihood against a brute-force scipy sum."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from calcium_dynamics.likelihoods.calcium import (
    ar_prediction,
    calcium_ar_poisson_log_likelihood,
    calcium_ar_poisson_state_log_likelihood,
    poisson_tail_probability,
)


def _brute_force(y, rate, ar, jump, noise_var, max_spikes):
    """Loop over every bin, neuron and spike count with scipy densities (zero-padded past)."""
    n_time, n_neurons = y.shape
    p = ar.shape[0]
    out = np.zeros_like(y)
    for t in range(n_time):
        for n in range(n_neurons):
            mean = sum(ar[i - 1, n] * y[t - i, n] for i in range(1, p + 1) if t - i >= 0)
            total = 0.0
            for k in range(max_spikes + 1):
                total += stats.poisson.pmf(k, rate[t, n]) * stats.norm.pdf(
                    y[t, n], loc=mean + jump[n] * k, scale=np.sqrt(noise_var[n])
                )
            out[t, n] = np.log(total)
    return out


@pytest.mark.parametrize("p", [1, 2, 3])
def test_matches_brute_force_scipy_sum(p):
    rng = np.random.default_rng(p)
    n_time, n_neurons, max_spikes = 12, 4, 6
    y = rng.normal(0.3, 0.5, size=(n_time, n_neurons))
    rate = rng.uniform(0.05, 2.0, size=(n_time, n_neurons))
    ar = rng.normal(0.0, 0.5, size=(p, n_neurons))
    jump = rng.uniform(0.5, 1.5, size=n_neurons)
    noise_var = rng.uniform(0.05, 0.5, size=n_neurons)
    expected = _brute_force(y, rate, ar, jump, noise_var, max_spikes)
    got = calcium_ar_poisson_log_likelihood(
        torch.tensor(y),
        torch.log(torch.tensor(rate)),
        torch.tensor(ar),
        torch.tensor(jump),
        torch.tensor(noise_var),
        max_spikes=max_spikes,
    )
    assert got.shape == (n_time, n_neurons)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10, atol=1e-10)


def test_batch_dimensions_and_broadcast_state_rates():
    rng = np.random.default_rng(0)
    n_states, n_time, n_neurons = 3, 9, 5
    y = torch.tensor(rng.normal(size=(n_time, n_neurons)))
    log_rates = torch.tensor(rng.normal(-1.0, 0.5, size=(n_states, 1, n_neurons)))
    ar = torch.tensor(rng.uniform(0.5, 0.9, size=(1, n_neurons)))
    jump = torch.ones(n_neurons, dtype=torch.float64)
    noise_var = torch.full((n_neurons,), 0.1, dtype=torch.float64)
    got = calcium_ar_poisson_log_likelihood(y, log_rates, ar, jump, noise_var)
    assert got.shape == (n_states, n_time, n_neurons)
    for k in range(n_states):
        single = calcium_ar_poisson_log_likelihood(
            y, log_rates[k].expand(n_time, n_neurons), ar, jump, noise_var
        )
        torch.testing.assert_close(got[k], single)
    # a leading batch of trials gives each trial the same answer as calling it alone
    trials = torch.stack([y, 2 * y])
    both = calcium_ar_poisson_log_likelihood(
        trials, log_rates[0].expand(n_time, n_neurons), ar, jump, noise_var
    )
    torch.testing.assert_close(
        both[1],
        calcium_ar_poisson_log_likelihood(
            2 * y, log_rates[0].expand(n_time, n_neurons), ar, jump, noise_var
        ),
    )


def test_truncation_error_negligible_for_low_rates():
    rng = np.random.default_rng(1)
    n_time, n_neurons = 20, 3
    y = torch.tensor(rng.normal(0.5, 1.0, size=(n_time, n_neurons)))
    log_rate = torch.log(torch.tensor(rng.uniform(0.01, 0.99, size=(n_time, n_neurons))))
    ar = torch.full((1, n_neurons), 0.8, dtype=torch.float64)
    jump = torch.ones(n_neurons, dtype=torch.float64)
    noise_var = torch.full((n_neurons,), 0.05, dtype=torch.float64)
    at_10 = calcium_ar_poisson_log_likelihood(y, log_rate, ar, jump, noise_var, max_spikes=10)
    at_40 = calcium_ar_poisson_log_likelihood(y, log_rate, ar, jump, noise_var, max_spikes=40)
    # the relative change in the likelihood is bounded by the dropped Poisson mass
    assert float((at_40 - at_10).abs().max()) < 1e-8
    assert float(poisson_tail_probability(0.999, 10)) < 1e-7
    np.testing.assert_allclose(
        poisson_tail_probability(torch.tensor([0.3, 2.5], dtype=torch.float64), 4).numpy(),
        stats.poisson.sf(4, [0.3, 2.5]),
        rtol=1e-10,
    )


def test_gradients_flow_to_every_parameter():
    torch.manual_seed(0)
    y = torch.randn(2, 15, 4, dtype=torch.float64)
    log_rate = torch.randn(2, 15, 4, dtype=torch.float64, requires_grad=True)
    ar = torch.tensor([[0.7] * 4, [0.1] * 4], dtype=torch.float64, requires_grad=True)
    jump = torch.ones(4, dtype=torch.float64, requires_grad=True)
    log_var = torch.full((4,), -1.0, dtype=torch.float64, requires_grad=True)
    ll = calcium_ar_poisson_log_likelihood(y, log_rate, ar, jump, log_var.exp())
    ll.sum().backward()
    for tensor in (log_rate, ar, jump, log_var):
        assert tensor.grad is not None
        assert torch.isfinite(tensor.grad).all()
    assert torch.autograd.gradcheck(
        lambda a: calcium_ar_poisson_log_likelihood(y, log_rate.detach(), a, jump, log_var.exp()),
        (ar,),
    )


def test_gradients_of_every_input_match_finite_differences():
    """The hand-written factors (by log λ, r through the AR coefficients, c and σ²) against
    float64 finite differences, over a broadcast rate and rates large enough for many counts."""
    g = torch.Generator().manual_seed(1)
    y = torch.randn(2, 12, 3, dtype=torch.float64, generator=g) * 0.8 + 0.5
    inputs = (
        torch.randn(1, 12, 3, dtype=torch.float64, generator=g) * 0.7,  # log λ, broadcast
        torch.tensor([[0.6, 0.3, 0.8], [0.1, -0.2, 0.05]], dtype=torch.float64),
        torch.tensor([0.9, 0.4, 1.3], dtype=torch.float64),
        torch.tensor([0.05, 0.3, 0.02], dtype=torch.float64),
    )
    inputs = tuple(t.requires_grad_() for t in inputs)
    assert torch.autograd.gradcheck(
        lambda lr, ar, c, var: calcium_ar_poisson_log_likelihood(y, lr, ar, c, var), inputs
    )


@pytest.mark.parametrize("wanted", [(0,), (1,), (2, 3), (0, 3), ()])
def test_gradients_of_some_inputs_equal_those_of_all(wanted):
    """Only the factors of the inputs that need a gradient are formed: each equals the one of a
    pass where every input needs one, bit for bit, and the values are the same."""
    g = torch.Generator().manual_seed(2)
    y = torch.randn(3, 40, 5, generator=g)
    base = (
        torch.randn(3, 40, 5, generator=g) - 1.0,
        torch.full((1, 5), 0.7),
        torch.rand(5, generator=g) + 0.5,
        torch.rand(5, generator=g) * 0.2 + 0.05,
    )

    def run(needs):
        leaves = [t.clone().requires_grad_(i in needs) for i, t in enumerate(base)]
        ll = calcium_ar_poisson_log_likelihood(y, *leaves)
        if needs:
            ll.sum().backward()
        return ll.detach(), [t.grad for t in leaves]

    ll_all, grads_all = run((0, 1, 2, 3))
    ll_some, grads_some = run(wanted)
    assert torch.equal(ll_all, ll_some)
    for i in range(4):
        if i in wanted:
            assert torch.equal(grads_some[i], grads_all[i])
        else:
            assert grads_some[i] is None


def test_finite_for_extreme_values():
    y = torch.tensor([[50.0, -50.0]], dtype=torch.float32)
    log_rate = torch.tensor([[-30.0, 3.0]], dtype=torch.float32)
    ll = calcium_ar_poisson_log_likelihood(
        y, log_rate, torch.tensor([[0.9, 0.9]]), torch.ones(2), torch.full((2,), 1e-3)
    )
    assert torch.isfinite(ll).all()


def test_ar_prediction_zero_padded():
    y = torch.arange(1.0, 6.0).reshape(5, 1)
    pred = ar_prediction(y, torch.tensor([[0.5], [0.25]]))
    expected = torch.tensor([0.0, 0.5, 1.0 + 0.25, 1.5 + 0.5, 2.0 + 0.75]).reshape(5, 1)
    torch.testing.assert_close(pred, expected)


def test_bad_input_is_named():
    y = torch.zeros(5, 2)
    lr = torch.zeros(5, 2)
    ones = torch.ones(2)
    with pytest.raises(ValueError, match="noise_var"):
        calcium_ar_poisson_log_likelihood(y, lr, torch.ones(1, 2), ones, torch.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match="ar_coefs"):
        calcium_ar_poisson_log_likelihood(y, lr, torch.ones(1, 3), ones, ones)
    with pytest.raises(ValueError, match="jump"):
        calcium_ar_poisson_log_likelihood(y, lr, torch.ones(1, 2), torch.ones(3), ones)
    with pytest.raises(ValueError, match="max_spikes"):
        calcium_ar_poisson_log_likelihood(y, lr, torch.ones(1, 2), ones, ones, max_spikes=-1)


def test_state_version_equals_general_version_and_its_gradients():
    rng = np.random.default_rng(3)
    y = torch.tensor(rng.normal(0.4, 0.8, size=(2, 30, 6)))
    log_rates = torch.tensor(rng.normal(-1.5, 1.0, size=(4, 6)), requires_grad=True)
    ar = torch.tensor(rng.uniform(0.3, 0.9, size=(2, 6)), requires_grad=True)
    jump = torch.tensor(rng.uniform(0.5, 1.5, size=6), requires_grad=True)
    noise_var = torch.tensor(rng.uniform(0.01, 0.3, size=6), requires_grad=True)
    fast = calcium_ar_poisson_state_log_likelihood(y, log_rates, ar, jump, noise_var)
    slow = calcium_ar_poisson_log_likelihood(
        y.unsqueeze(1), log_rates[:, None, :], ar, jump, noise_var
    )
    assert fast.shape == (2, 4, 30, 6)
    torch.testing.assert_close(fast, slow, rtol=1e-10, atol=1e-10)
    grads_fast = torch.autograd.grad(fast.sum(), (log_rates, ar, jump, noise_var))
    grads_slow = torch.autograd.grad(slow.sum(), (log_rates, ar, jump, noise_var))
    for g_fast, g_slow in zip(grads_fast, grads_slow):
        torch.testing.assert_close(g_fast, g_slow, rtol=1e-8, atol=1e-8)


def _naive_log_likelihood(y, log_rate, ar, jump, noise_var, max_spikes):
    """log Σ_k Poisson · Normal with every k term formed at once (float64 autograd)."""
    k = torch.arange(max_spikes + 1, dtype=y.dtype)
    resid = (y - ar_prediction(y, ar))[..., None]
    terms = (
        k * log_rate[..., None]
        - torch.exp(log_rate)[..., None]
        - torch.lgamma(k + 1)
        - (resid - jump[:, None] * k) ** 2 / (2 * noise_var[:, None])
        - 0.5 * torch.log(2 * torch.pi * noise_var)[:, None]
    )
    return torch.logsumexp(terms, -1)


def test_skipped_negligible_spike_counts_change_nothing_in_float32(monkeypatch):
    """Sharp Gaussians (σ = 0.02 against jumps of 1) make most spike counts of most entries
    negligible; one bin needs ≈ 8 spikes. Float32 values and gradients equal those of the sum
    over every k without the clamp (to float32 rounding), and both a float64 sum."""
    from calcium_dynamics.likelihoods import calcium

    rng = np.random.default_rng(0)
    n_time, n_neurons, max_spikes = 300, 6, 10
    y = rng.normal(0.0, 0.05, (n_time, n_neurons))
    y[150] = 8.0  # ≈ 8 spikes at once, after an AR(1) prediction of ≈ 0
    log_rate = np.log(rng.uniform(0.05, 0.5, (n_time, n_neurons)))
    log_rate[150] = np.log(6.0)
    ar = np.full((1, n_neurons), 0.05)
    jump = np.ones(n_neurons)
    noise_var = np.full(n_neurons, 0.02**2)

    def run(dtype, fn):
        args = [
            torch.tensor(a, dtype=dtype, requires_grad=True) for a in (log_rate, jump, noise_var)
        ]
        ll = fn(
            torch.tensor(y, dtype=dtype),
            args[0],
            torch.tensor(ar, dtype=dtype),
            args[1],
            args[2],
            max_spikes,
        )
        ll.sum().backward()
        return [ll.detach().double()] + [a.grad.double() for a in args]

    got = run(torch.float32, calcium_ar_poisson_log_likelihood)
    monkeypatch.setattr(calcium, "_NEGLIGIBLE", -math.inf)  # every exponent
    monkeypatch.setattr(calcium, "_SKIP_MARGIN", math.inf)  # every k
    every_k = run(torch.float32, calcium_ar_poisson_log_likelihood)
    exact = run(torch.float64, _naive_log_likelihood)
    assert exact[0][150].min() > -10  # the 8-spike bin is explained, not a far tail
    for g, e, x in zip(got, every_k, exact):
        torch.testing.assert_close(g, e, rtol=1e-6, atol=1e-6 * float(e.abs().max()))
        torch.testing.assert_close(g, x, rtol=1e-3, atol=1e-4 * float(x.abs().max()))


@pytest.mark.parametrize("seed", range(6))
def test_spike_count_top_equals_the_entry_by_entry_test(seed):
    """The largest non-negligible spike count of a block, found from each neuron's largest
    ``a`` alone, equals the test over every entry (float64 brute force), at the float64 and
    the float32 gap."""
    from calcium_dynamics.likelihoods.calcium import _skip_gap, _spike_count_top

    g = torch.Generator().manual_seed(seed)
    rows, n, max_spikes = 200, 7, 10
    # spread and offset of a, scale of c² / 2σ²: blocks of small to large tops
    spread, offset, scale = [
        (0.3, -3, 6),
        (0.5, -2, 6),
        (1, -2, 4),
        (1, 0, 6),
        (2, 0, 3),
        (3, 2, 1),
    ][seed]
    a = torch.randn(rows, n, generator=g, dtype=torch.float64) * spread + offset
    c2_inv = (torch.rand(n, generator=g, dtype=torch.float64) + 0.5) * scale
    k = torch.arange(max_spikes + 1, dtype=torch.float64)
    f = k[:, None, None] * a - (torch.lgamma(k + 1.0)[:, None] + k[:, None] ** 2 * c2_inv)[:, None]
    gaps = f - f.amax(dim=0)  # (R + 1, rows, N)
    expected = {torch.float64: [2, 3, 4, 3, 6, 10], torch.float32: [1, 2, 3, 2, 5, 10]}
    for dtype, tops in expected.items():
        gap = _skip_gap(dtype)
        kept = [kk for kk in range(max_spikes + 1) if bool((gaps[kk] >= gap).any())]
        top = _spike_count_top(a.to(dtype), c2_inv.to(dtype), max_spikes)
        assert top == max(kept) == tops[seed]


def test_skip_gap_is_eight_nats_below_the_rounding_unit():
    """Left-out terms are below e^-8 of a rounding unit of the sum (whose largest term is 1)."""
    from calcium_dynamics.likelihoods.calcium import _skip_gap

    assert _skip_gap(torch.float32) == pytest.approx(math.log(2.0**-23) - 8.0)
    assert _skip_gap(torch.float64) == pytest.approx(math.log(2.0**-52) - 8.0)
    assert _skip_gap(torch.float32) == pytest.approx(-23.942, abs=1e-3)


@pytest.mark.parametrize("p", [1, 2, 3])
@pytest.mark.parametrize("n_time", [1, 2, 3, 40])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_ar_residual_equals_y_minus_the_prediction(p, n_time, dtype):
    """The residual the likelihood uses equals ``y − ar_prediction`` bit for bit (values),
    and its gradient in the AR coefficients to the rounding of their sums over bins."""
    from calcium_dynamics.likelihoods.calcium import ar_residual

    g = torch.Generator().manual_seed(10 * p + n_time)
    y = torch.randn(3, n_time, 4, generator=g, dtype=dtype)
    ar = torch.randn(p, 4, generator=g, dtype=dtype)
    weights = torch.randn(3, n_time, 4, generator=g, dtype=dtype)
    a_pred, a_res = ar.clone().requires_grad_(), ar.clone().requires_grad_()
    before = y - ar_prediction(y, a_pred)
    now = ar_residual(y, a_res)
    (before * weights).sum().backward()
    (now * weights).sum().backward()
    assert torch.equal(now, before)
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(a_res.grad, a_pred.grad, rtol=tol, atol=tol)
