import numpy as np
import pytest
import torch
from scipy import stats

from calcium_dynamics.likelihoods.gaussian import gaussian_log_likelihood
from calcium_dynamics.likelihoods.poisson import poisson_log_likelihood
from calcium_dynamics.likelihoods.zig import zig_log_likelihood, zig_mean
from calcium_dynamics.models.lfads.observations import (
    CalciumARPoissonObservation,
    GaussianObservation,
    PoissonObservation,
    ZIGObservation,
    build_observation,
)

RNG = np.random.default_rng(0)
T = torch.float64


def test_poisson_matches_scipy():
    x = RNG.poisson(2.0, 200)
    log_rate = RNG.normal(0, 1, 200)
    ours = poisson_log_likelihood(torch.tensor(x, dtype=T), torch.tensor(log_rate, dtype=T))
    np.testing.assert_allclose(ours.numpy(), stats.poisson.logpmf(x, np.exp(log_rate)), rtol=1e-10)


def test_gaussian_matches_scipy():
    x, mean, log_var = RNG.normal(0, 2, (3, 200))
    ours = gaussian_log_likelihood(*(torch.tensor(a, dtype=T) for a in (x, mean, log_var)))
    ref = stats.norm.logpdf(x, mean, np.exp(0.5 * log_var))
    np.testing.assert_allclose(ours.numpy(), ref, rtol=1e-10)


def test_zig_matches_scipy_mixture():
    n = 300
    loc = 0.1
    x = np.where(RNG.random(n) < 0.5, 0.0, loc + RNG.gamma(1.5, 0.3, n))
    q, k, a = RNG.uniform(0.05, 0.95, n), RNG.uniform(0.3, 3, n), RNG.uniform(0.05, 2, n)
    ours = zig_log_likelihood(*(torch.tensor(v, dtype=T) for v in (x, q, k, a)), loc).numpy()
    ref = np.where(
        x > 0,
        np.log(q) + stats.gamma.logpdf(np.where(x > 0, x, 1.0), k, loc=loc, scale=a),
        np.log1p(-q),
    )
    np.testing.assert_allclose(ours, ref, rtol=1e-9)
    mean = zig_mean(*(torch.tensor(v, dtype=T) for v in (q, k, a)), loc).numpy()
    np.testing.assert_allclose(mean, q * stats.gamma.mean(k, loc=loc, scale=a))


def test_zig_rejects_negative_events():
    x = torch.tensor([0.0, 0.5, -0.2])
    ones = torch.full((3,), 0.5)
    with pytest.raises(ValueError, match="must be >= 0"):
        zig_log_likelihood(x, ones, ones, ones, 0.1)
    obs = ZIGObservation(3)
    with pytest.raises(ValueError, match=r"neurons \[2\]"):
        obs.check_data(x.numpy().reshape(1, 1, 3))


def test_zig_event_at_s_min_is_finite():
    x = torch.tensor([0.1])
    ll = zig_log_likelihood(x, torch.tensor([0.5]), torch.tensor([2.0]), torch.tensor([1.0]), 0.1)
    assert torch.isfinite(ll).all()


def test_zig_observation_matches_functional_form():
    obs = ZIGObservation(4, s_min=0.1)
    data = torch.tensor(RNG.gamma(1.0, 0.3, (2, 5, 4)) * (RNG.random((2, 5, 4)) < 0.5) + 0.0)
    data = torch.where(data > 0, data + 0.1, data).float()
    params = tuple(torch.randn(2, 5, 4) for _ in range(3))
    q, k, a = obs.distribution(params)
    ref = zig_log_likelihood(data, q, k, a, obs.loc)
    torch.testing.assert_close(obs.log_likelihood(data, params), ref)
    torch.testing.assert_close(obs.rate(params), zig_mean(q, k, a, obs.loc))


@pytest.mark.parametrize("name", ["poisson", "gaussian", "zig"])
def test_nll_is_the_mean_over_the_mask_and_zero_when_empty(name):
    obs = build_observation(name, 3)
    data = torch.tensor(RNG.poisson(1.0, (2, 4, 3)), dtype=torch.float32)
    params = tuple(torch.randn(2, 4, 3) for _ in range(obs.n_params))
    mask = torch.tensor(RNG.random((2, 4, 3)) < 0.5)
    ll = obs.log_likelihood(data, params)
    torch.testing.assert_close(obs.nll(data, params, mask), -ll[mask].mean())
    assert float(obs.nll(data, params, torch.zeros_like(mask))) == 0.0


def test_poisson_and_gaussian_reject_bad_data():
    with pytest.raises(ValueError, match="Poisson counts"):
        PoissonObservation(2).check_data(np.array([[[1.0, -1.0]]]))
    GaussianObservation(2).check_data(np.array([[[1.0, -1.0]]]))  # any real value is fine


def test_calcium_observation_wraps_the_shared_likelihood():
    from calcium_dynamics.likelihoods import calcium

    obs = CalciumARPoissonObservation(3, ar_order=2, max_spikes=8)
    y = torch.randn(2, 6, 3)
    params = (torch.randn(2, 6, 3),)
    ref = calcium.calcium_ar_poisson_log_likelihood(
        y, params[0], obs.ar_coefs, torch.exp(obs.log_jump), obs.noise_var(), max_spikes=8
    )
    torch.testing.assert_close(obs.log_likelihood(y, params), ref)
    with pytest.raises(ValueError, match="every bin sampled"):
        obs.check_data(np.full((1, 2, 3), np.nan))


def test_calcium_initialisation_recovers_ar_coefficient():
    rng = np.random.default_rng(1)
    alpha = np.array([0.6, 0.9])
    y = np.zeros((50, 100, 2))
    for t in range(1, 100):
        y[:, t] = alpha * y[:, t - 1] + rng.normal(0, 0.1, (50, 2))
    obs = CalciumARPoissonObservation(2)
    obs.initial_bias(y)
    np.testing.assert_allclose(obs.ar_coefs.detach().numpy()[0], alpha, atol=0.03)
