"""The batched forward–backward and the closed-form (EM) calcium M-step against the reference
implementations: same numbers where they compute the same thing, no worse fits where they
do not."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from calcium_dynamics.classical.hmm import (
    HMM,
    CalciumObservations,
    _length_groups,
    forward_backward,
    forward_backward_batch,
)
from calcium_dynamics.likelihoods.calcium import (
    ar_prediction,
    calcium_ar_poisson_state_log_likelihood,
    state_spike_count_moments,
)
from calcium_dynamics.simulate.hmm_gpfa import simulate_hmm_calcium


@pytest.mark.parametrize("n_time", [1, 2, 40])
def test_batched_forward_backward_equals_the_log_space_one(n_time):
    rng = np.random.default_rng(n_time)
    k = 4
    log_start = np.log(rng.dirichlet(np.ones(k)))
    log_trans = np.log(rng.dirichlet(np.ones(k), size=k))
    log_lik = rng.normal(0.0, 30.0, (5, n_time, k))  # wide: the scaled recursion must cope
    post, xi, ll = forward_backward_batch(log_start, log_trans, log_lik)
    ref = [forward_backward(log_start, log_trans, x) for x in log_lik]
    np.testing.assert_allclose(post, np.stack([r[0] for r in ref]), atol=1e-12)
    np.testing.assert_allclose(xi, sum(r[1] for r in ref), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ll, [r[2] for r in ref], rtol=1e-12)


def test_batched_forward_backward_falls_back_where_scaling_underflows():
    # state 1 can only be entered at t = 0 with probability 1e-300 and explains bin 1 alone
    log_trans = np.log(np.array([[1.0, 1e-320], [0.5, 0.5]]))
    log_start = np.log([1.0, 1e-300])
    log_lik = np.array([[[0.0, -800.0], [-800.0, 0.0]], [[0.0, -1.0], [-1.0, 0.0]]])
    post, xi, ll = forward_backward_batch(log_start, log_trans, log_lik)
    ref = [forward_backward(log_start, log_trans, x) for x in log_lik]
    np.testing.assert_allclose(ll, [r[2] for r in ref], rtol=1e-12)
    np.testing.assert_allclose(xi, sum(r[1] for r in ref), rtol=1e-9, atol=1e-12)
    assert np.isfinite(post).all()


def test_spike_count_moments_match_the_likelihood_and_a_brute_force_sum():
    rng = np.random.default_rng(1)
    n_states, n_time, n_neurons, max_spikes = 3, 30, 4, 8
    y = torch.as_tensor(np.abs(rng.normal(0.3, 0.4, (n_time, n_neurons))))
    log_rates = torch.as_tensor(np.log(rng.uniform(0.01, 1.5, (n_states, n_neurons))))
    ar = torch.as_tensor(rng.uniform(0.6, 0.9, n_neurons))
    jump = torch.as_tensor(rng.uniform(0.5, 1.5, n_neurons))
    var = torch.as_tensor(rng.uniform(0.01, 0.1, n_neurons))
    residual = y - ar_prediction(y, ar[None, :])
    ll, m1, m2 = state_spike_count_moments(residual, log_rates, jump, var, max_spikes)
    reference = calcium_ar_poisson_state_log_likelihood(y, log_rates, ar[None, :], jump, var, 8)
    torch.testing.assert_close(ll, reference, rtol=1e-10, atol=1e-10)
    # brute force: the weights of each spike count, normalised
    k = torch.arange(max_spikes + 1, dtype=torch.float64)
    lam = log_rates.exp()[:, None, :, None]
    logw = (
        k * torch.log(lam)
        - lam
        - torch.lgamma(k + 1)
        - (residual[None, :, :, None] - jump[None, None, :, None] * k) ** 2
        / (2 * var[None, None, :, None])
    )
    w = torch.softmax(logw, dim=-1)
    torch.testing.assert_close(m1, (w * k).sum(-1), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(m2, (w * k * k).sum(-1), rtol=1e-10, atol=1e-12)


def _objective(obs, datas, posts) -> float:
    args = [
        torch.log(torch.as_tensor(obs.rates)),
        torch.as_tensor(obs.ar_coef),
        torch.log(torch.as_tensor(obs.jump)),
        torch.log(torch.as_tensor(obs.noise_var)),
    ]
    groups = _length_groups(datas, posts)
    return float(sum((w * obs._torch_log_likelihoods(y, *args)).sum() for y, w in groups))


def test_em_m_step_never_lowers_the_expected_log_likelihood():
    """An EM step in the spike counts cannot lower the M-step objective (the expected
    log-likelihood under the state posteriors) it starts from."""
    sim = simulate_hmm_calcium(n_time_train=400, n_time_test=10, seed=3)
    rng = np.random.default_rng(0)
    datas = [sim.calcium_train[:200], sim.calcium_train[200:]]
    onehot = np.eye(5)[sim.states_train]
    posts = [0.7 * onehot[:200] + 0.06, 0.7 * onehot[200:] + 0.06]
    obs = CalciumObservations(5, datas[0].shape[1], m_step="em")
    obs.initialize(datas, [sim.states_train[:200], sim.states_train[200:]], rng)
    values = [_objective(obs, datas, posts)]
    for _ in range(6):
        obs.m_step(datas, posts)
        values.append(_objective(obs, datas, posts))
    assert np.all(np.diff(values) >= -1e-8 * abs(values[0])), values
    assert values[-1] > values[0] + 1.0


@pytest.mark.slow  # two fits (≈ 20 s); the M-step's numbers are covered by the tests above
def test_em_m_step_fit_is_no_worse_than_lbfgs_on_held_out_data():
    """Both M-steps on the same simulation (25 EM iterations): the closed-form one reaches a
    held-out log-likelihood at least as high (within 0.005 nats / bin) and its training
    log-likelihood never decreases."""
    sim = simulate_hmm_calcium(n_time_train=500, n_time_test=500, seed=2)
    fits = {
        how: HMM(
            n_states=5,
            observations="calcium",
            n_iter=25,
            tol=1e-6,
            init_smoothing_bins=3,
            random_state=2,
            calcium_m_step=how,
        ).fit(sim.calcium_train)
        for how in ("lbfgs", "em")
    }
    held_out = {how: m.score_per_bin(sim.calcium_test) for how, m in fits.items()}
    assert held_out["em"] >= held_out["lbfgs"] - 0.005, held_out
    history = np.asarray(fits["em"].log_likelihood_history_)
    assert np.all(np.diff(history) >= -1e-6 * abs(history[0]))
    assert math.isfinite(held_out["em"])


def test_unknown_m_step_is_named():
    with pytest.raises(ValueError, match="calcium_m_step"):
        HMM(observations="calcium", calcium_m_step="newton").fit(np.ones((20, 2)))
