"""HMM: forward algorithm, hmmlearn equivalence, recovery on simulated data, bad input."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hmmlearn.hmm import GaussianHMM

from calcium_dynamics.classical.hmm import (
    HMM,
    GaussianObservations,
    forward_backward,
    held_out_log_likelihood_curve,
    viterbi,
)
from calcium_dynamics.metrics.states import state_accuracy
from calcium_dynamics.simulate.hmm_gpfa import simulate_hmm_calcium


def _random_hmm(rng, k):
    start = rng.dirichlet(np.ones(k))
    trans = rng.dirichlet(np.ones(k), size=k)
    return start, trans


def test_forward_equals_brute_force_sum_and_viterbi_the_argmax():
    rng = np.random.default_rng(0)
    k, n_time = 3, 5
    start, trans = _random_hmm(rng, k)
    log_lik = rng.normal(size=(n_time, k))
    total, best, best_path = 0.0, -np.inf, None
    marg = np.zeros((n_time, k))
    for path in itertools.product(range(k), repeat=n_time):
        lp = np.log(start[path[0]]) + log_lik[0, path[0]]
        for t in range(1, n_time):
            lp += np.log(trans[path[t - 1], path[t]]) + log_lik[t, path[t]]
        total += np.exp(lp)
        marg[np.arange(n_time), path] += np.exp(lp)
        if lp > best:
            best, best_path = lp, path
    post, xi, ll = forward_backward(np.log(start), np.log(trans), log_lik)
    assert ll == pytest.approx(np.log(total), rel=1e-12)
    np.testing.assert_allclose(post, marg / total, atol=1e-12)
    assert xi.sum() == pytest.approx(n_time - 1)
    np.testing.assert_array_equal(viterbi(np.log(start), np.log(trans), log_lik), best_path)


def test_gaussian_hmm_matches_hmmlearn_on_the_same_parameters():
    rng = np.random.default_rng(1)
    k, n = 3, 4
    start, trans = _random_hmm(rng, k)
    means = rng.normal(scale=2.0, size=(k, n))
    variances = rng.uniform(0.3, 2.0, size=(k, n))
    ref = GaussianHMM(n_components=k, covariance_type="diag")
    ref.startprob_, ref.transmat_, ref.means_, ref.covars_ = start, trans, means, variances
    x, _ = ref.sample(200, random_state=3)

    ours = HMM(n_states=k, observations="gaussian")
    ours.startprob_, ours.transmat_, ours.n_features_in_ = start, trans, n
    ours.observations_ = GaussianObservations(k, n)
    ours.observations_.means, ours.observations_.variances = means, variances
    assert ours.score(x) == pytest.approx(ref.score(x), rel=1e-10)
    np.testing.assert_array_equal(ours.predict(x), ref.decode(x, algorithm="viterbi")[1])
    np.testing.assert_allclose(ours.predict_proba(x), ref.predict_proba(x), atol=1e-8)


@pytest.fixture(scope="module")
def small_sim():
    return simulate_hmm_calcium(
        n_states=3, neurons_per_state=4, n_time_train=400, n_time_test=300, seed=2
    )


@pytest.mark.parametrize(
    ("observations", "source", "min_accuracy"),
    [("poisson", "spikes", 0.8), ("calcium", "calcium", 0.75), ("ar_gaussian", "calcium", 0.6)],
)
def test_states_recovered_on_simulated_data(small_sim, observations, source, min_accuracy):
    model = HMM(
        n_states=3, observations=observations, n_iter=15, init_smoothing_bins=3, random_state=0
    )
    model.fit(getattr(small_sim, f"{source}_train"))
    history = np.asarray(model.log_likelihood_history_)
    assert np.all(np.diff(history) > -1e-6 * np.abs(history[:-1]))  # EM does not go downhill
    decoded = model.predict(getattr(small_sim, f"{source}_test"))
    assert state_accuracy(small_sim.states_test, decoded) >= min_accuracy


def test_calcium_hmm_learns_sensible_calcium_parameters(small_sim):
    model = HMM(n_states=3, observations="calcium", n_iter=15, init_smoothing_bins=3)
    model.fit([small_sim.calcium_train[:200], small_sim.calcium_train[200:]])  # two trials
    obs = model.observations_
    # α within 0.15 of the truth on average; the calcium influx c·λ orders the states as the truth
    assert np.mean(np.abs(obs.ar_coef - small_sim.ar_coef)) < 0.15
    influx = obs.rates * obs.jump
    assert np.all(influx.max(axis=0) > 3 * influx.min(axis=0))


def test_held_out_curve_prefers_true_k_over_one(small_sim):
    records = held_out_log_likelihood_curve(
        small_sim.spikes_train, small_sim.spikes_test, [1, 3], "poisson", n_iter=15
    )
    by_k = {r["n_states"]: r["test_ll_per_bin"] for r in records}
    assert by_k[3] > by_k[1]


def test_k_equal_one_reduces_to_independent_model():
    rng = np.random.default_rng(0)
    x = rng.normal(1.0, 2.0, size=(100, 2))
    model = HMM(n_states=1, observations="gaussian", n_iter=3).fit(x)
    mean, var = x.mean(axis=0), x.var(axis=0)
    expected = -0.5 * np.sum(np.log(2 * np.pi * var) + (x - mean) ** 2 / var)
    assert model.score(x) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(
    ("kwargs", "x", "match"),
    [
        ({"n_states": 0}, np.ones((10, 2)) * np.arange(10)[:, None], "n_states"),
        ({"n_states": 2.5}, np.ones((10, 2)) * np.arange(10)[:, None], "n_states"),
        ({"n_states": 5}, np.arange(6.0).reshape(3, 2), "fewer|at least"),
        ({"n_states": 2}, np.c_[np.arange(10.0), np.ones(10)], r"neurons \[1\].*constant"),
        ({"n_states": 2}, np.where(np.eye(10, 2) > 0, np.nan, 1.0) + np.arange(10)[:, None], "NaN"),
        (
            {"n_states": 2, "observations": "poisson"},
            np.full((10, 2), 0.5),
            "integer spike counts.*neuron 0",
        ),
        ({"n_states": 2, "observations": "poisson"}, -np.ones((10, 2)), "non-negative"),
        ({"n_states": 2, "observations": "student"}, np.ones((10, 2)), "observations"),
    ],
)
def test_bad_input_gets_clear_errors(kwargs, x, match):
    with pytest.raises(ValueError, match=match):
        HMM(**kwargs).fit(x)


def test_unfitted_and_wrong_width():
    with pytest.raises(RuntimeError, match="not fitted"):
        HMM().predict(np.zeros((5, 2)))
    model = HMM(n_states=2, n_iter=2).fit(np.random.default_rng(0).normal(size=(20, 3)))
    with pytest.raises(ValueError, match="3"):
        model.score(np.zeros((5, 2)))


def test_calcium_m_step_objective_is_the_same_stacked_by_length():
    """The calcium M-step stacks equal-length sequences: its objective equals the sum over
    sequences one at a time, for sequences of mixed lengths."""
    import torch

    from calcium_dynamics.classical.hmm import CalciumObservations, _length_groups

    rng = np.random.default_rng(0)
    datas = [np.abs(rng.normal(0.2, 0.1, (t, 4))) for t in (20, 20, 13, 20, 13)]
    posts = [rng.dirichlet(np.ones(3), size=len(d)) for d in datas]
    obs = CalciumObservations(3, 4)
    obs.initialize(datas, [rng.integers(0, 3, len(d)) for d in datas], rng)
    args = [
        torch.log(torch.as_tensor(obs.rates)),
        torch.as_tensor(obs.ar_coef),
        torch.log(torch.as_tensor(obs.jump)),
        torch.log(torch.as_tensor(obs.noise_var)),
    ]
    one_by_one = sum(
        (torch.as_tensor(w) * obs._torch_log_likelihoods(torch.as_tensor(y), *args)).sum()
        for y, w in zip(datas, posts)
    )
    groups = _length_groups(datas, posts)
    assert sorted(y.shape[:2] for y, _ in groups) == [(2, 13), (3, 20)]
    stacked = sum((w * obs._torch_log_likelihoods(y, *args)).sum() for y, w in groups)
    torch.testing.assert_close(stacked, one_by_one, rtol=1e-12, atol=1e-9)
