"""Search space of the LFADS hyperparameter search: draws, perturbations, mapping to the model."""

import math

import numpy as np
import pytest

from calcium_dynamics.tuning.search_space import (
    HyperParameter,
    apply_hyperparameters,
    explore,
    initial_population,
    parse_search_space,
)

SPACE = {
    "lr": {"low": 1e-5, "high": 5e-3},
    "dropout": {"low": 0.0, "high": 0.6},
    "cd_rate": {"low": 0.01, "high": 0.7},
    "kl_ic_scale": {"low": 1e-6, "high": 1e-3, "log": True, "clip": False},
    "l2_gen_scale": {"low": 1e-4, "high": 1.0, "log": True, "clip": False},
    "sig_prior": {"low": 1.0, "high": 10.0, "log": True, "clip": False},
}


def test_initial_draws_are_uniform_or_log_uniform_in_range():
    space = parse_search_space(SPACE)
    pop = initial_population(space, 4000, seed=0)
    lr = np.array([m["lr"] for m in pop])
    kl = np.array([m["kl_ic_scale"] for m in pop])
    assert lr.min() >= 1e-5 and lr.max() <= 5e-3
    # uniform: mean at the midpoint; log-uniform: mean of log10 at the midpoint of the exponents
    assert abs(lr.mean() - (1e-5 + 5e-3) / 2) < 0.02 * 5e-3
    assert abs(np.log10(kl).mean() - (-4.5)) < 0.05
    assert abs(np.mean(np.log10(kl) < -4.5) - 0.5) < 0.03
    # reproducible from the seed, different between members
    assert initial_population(space, 3, seed=7) == initial_population(space, 3, seed=7)
    assert pop[0] != pop[1]


def test_perturbation_factors_lie_between_0_7_and_1_3():
    rng = np.random.default_rng(1)
    lin = HyperParameter(0.0, 10.0)
    logp = HyperParameter(1e-6, 1e-3, log=True, clip=False)
    f_lin = np.array([lin.perturb(2.0, rng) / 2.0 for _ in range(5000)])
    f_log = np.array([logp.perturb(1e-4, rng) / 1e-4 for _ in range(5000)])
    for f in (f_lin, f_log):
        assert f.min() >= 0.7 - 1e-12 and f.max() <= 1.3 + 1e-12
        assert f.min() < 0.72 and f.max() > 1.28
    # linear: factors uniform (mean 1); log: log-factors uniform on [ln 0.7, ln 1.3]
    assert abs(f_lin.mean() - 1.0) < 0.01
    assert abs(np.log(f_log).mean() - (math.log(0.7) + math.log(1.3)) / 2) < 0.01


def test_clipped_parameters_stay_in_range_and_unclipped_may_leave_it():
    rng = np.random.default_rng(2)
    clipped = HyperParameter(0.0, 0.6)
    assert all(clipped.perturb(0.59, rng) <= 0.6 for _ in range(200))
    free = HyperParameter(1e-6, 1e-3, log=True, clip=False)
    values = [free.perturb(1e-3, rng) for _ in range(200)]
    assert max(values) > 1e-3


def test_explore_changes_every_searched_value_only():
    space = parse_search_space(SPACE)
    config = {**initial_population(space, 1, seed=3)[0], "member": 2}
    new = explore(config, space, np.random.default_rng(4))
    assert new["member"] == 2
    for name in space:
        assert new[name] != config[name]
        ratio = new[name] / config[name]
        if space[name].clip and new[name] in (space[name].low, space[name].high):
            continue
        assert 0.7 - 1e-12 <= ratio <= 1.3 + 1e-12


def test_hyperparameters_map_onto_lfads_arguments():
    base = {"gen_dim": 32, "cd_keep_ratio": 0.7, "observation_kwargs": {"s_min": 0.1}}
    config = {"lr": 2e-3, "cd_rate": 0.25, "sig_prior": 3.0, "kl_ic_scale": 1e-5, "member": 1}
    params = apply_hyperparameters(base, config)
    assert params["lr"] == 2e-3 and params["kl_ic_scale"] == 1e-5
    assert params["cd_keep_ratio"] == pytest.approx(0.75)
    assert params["observation_kwargs"] == {"s_min": 0.1, "sig_prior": 3.0}
    assert params["gen_dim"] == 32 and "member" not in params
    assert base["observation_kwargs"] == {"s_min": 0.1}  # the shared settings are not modified


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"learning_rate": {"low": 1, "high": 2}}, "unknown searchable hyperparameter"),
        ({"lr": {"low": 1e-3}}, "needs 'low' and 'high'"),
        ({"lr": {"low": 2.0, "high": 1.0}}, "low <= high"),
        ({"kl_ic_scale": {"low": 0.0, "high": 1.0, "log": True}}, "low > 0"),
        ({"lr": {"low": 1e-4, "high": 1e-3, "step": 2}}, "unknown key"),
        ({}, "empty"),
    ],
)
def test_bad_search_spaces_are_refused_naming_the_problem(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_search_space(spec)


def test_bad_probabilities_are_refused():
    with pytest.raises(ValueError, match="cd_rate"):
        apply_hyperparameters({}, {"cd_rate": 1.2})
    with pytest.raises(ValueError, match="dropout"):
        apply_hyperparameters({}, {"dropout": -0.1})
