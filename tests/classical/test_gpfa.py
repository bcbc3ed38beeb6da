"""GPFA: exact E-step, EM, variational fits on simulated data, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from calcium_dynamics.classical.gpfa import (
    GPFA,
    gaussian_gpfa_posterior,
    length_scale_objective,
    orthonormalize_latents,
    se_covariance,
)
from calcium_dynamics.metrics.latents_linear import linear_latent_r2


@pytest.mark.parametrize("n_time", [1, 7, 8])
def test_estep_equals_exact_gaussian_posterior(n_time):
    """Odd and even segment lengths (the E-step works in the even / odd time basis)."""
    rng = np.random.default_rng(0)
    n, q = 4, 2
    loading = rng.normal(size=(n, q))
    offset = rng.normal(size=n)
    noise = rng.uniform(0.2, 1.0, size=n)
    ells = np.array([2.0, 4.0])
    y = rng.normal(size=(n_time, n))
    # brute force: joint Gaussian of x (latent-major) and y (time-major), conditioned on y
    kx = np.zeros((q * n_time, q * n_time))
    for j in range(q):
        kx[j * n_time : (j + 1) * n_time, j * n_time : (j + 1) * n_time] = se_covariance(
            n_time, ells[j], 1e-3
        ).numpy()
    obs = np.zeros((n_time * n, q * n_time))  # y_flat = obs @ x + d
    for t in range(n_time):
        for j in range(q):
            obs[t * n : (t + 1) * n, j * n_time + t] = loading[:, j]
    cov_y = obs @ kx @ obs.T + np.kron(np.eye(n_time), np.diag(noise))
    resid = (y - offset).reshape(-1)
    gain = kx @ obs.T @ np.linalg.inv(cov_y)
    mean_ref = (gain @ resid).reshape(q, n_time).T
    cov_ref = kx - gain @ obs @ kx
    _, logdet = np.linalg.slogdet(cov_y)
    ll_ref = -0.5 * (
        resid @ np.linalg.solve(cov_y, resid) + logdet + resid.size * np.log(2 * np.pi)
    )

    mean, cov, ll = gaussian_gpfa_posterior(y, loading, offset, noise, ells, 1e-3)
    np.testing.assert_allclose(mean, mean_ref, atol=1e-9)
    np.testing.assert_allclose(cov, cov_ref, atol=1e-9)
    assert ll == pytest.approx(ll_ref, rel=1e-10)
    batch_mean, _, batch_ll = gaussian_gpfa_posterior(
        np.stack([y, y]), loading, offset, noise, ells
    )
    np.testing.assert_allclose(batch_mean[1], mean_ref, atol=1e-9)
    np.testing.assert_allclose(batch_ll, [ll_ref, ll_ref], rtol=1e-10)


def _gaussian_gpfa_data(seed=0):
    rng = np.random.default_rng(seed)
    n_time, n = 300, 12
    x = np.stack(
        [
            np.linalg.cholesky(se_covariance(n_time, ell, 1e-4).numpy()) @ rng.normal(size=n_time)
            for ell in (15.0, 30.0)
        ],
        axis=1,
    )
    loading = rng.normal(size=(n, 2))
    y = x @ loading.T + 0.3 * rng.normal(size=(n_time, n))
    return x, y


def test_gaussian_gpfa_em_recovers_latents_and_length_scales():
    x, y = _gaussian_gpfa_data()
    model = GPFA(
        n_latents=2, observations="gaussian", segment_length=100, length_scale_init=20.0, n_iter=25
    )
    latents = model.fit_transform(y)
    history = np.asarray(model.history_)
    assert np.all(np.diff(history) > -1e-6 * np.abs(history[:-1]))  # EM is monotone
    assert linear_latent_r2(latents, x)["r2_mean"] > 0.9
    assert sorted(model.length_scales_) == pytest.approx([15.0, 30.0], rel=0.5)
    # score is the exact marginal log-likelihood; the final M-step did not lower it
    assert model.score(y) >= history[-1] - 1e-6 * abs(history[-1])
    ortho, basis = orthonormalize_latents(latents, model.loading_)
    np.testing.assert_allclose(basis.T @ basis, np.eye(2), atol=1e-10)
    np.testing.assert_allclose(ortho @ basis.T, latents @ model.loading_.T, atol=1e-8)


@pytest.mark.parametrize(
    ("observations", "order", "source"),
    [("poisson", 1, "spikes"), ("calcium", 1, "calcium"), ("calcium", 2, "calcium")],
)
def test_variational_gpfa_recovers_latents(gpfa_sim, observations, order, source):
    torch.manual_seed(0)
    model = GPFA(
        n_latents=2,
        observations=observations,
        ar_order=order,
        segment_length=120,
        length_scale_init=25.0,
        n_iter=60,
        learning_rate=0.05,
        init_smoothing_bins=5.0,
    )
    latents = model.fit_transform(getattr(gpfa_sim, source))
    assert latents.shape == (240, 2)
    assert np.mean(model.history_[-10:]) > np.mean(model.history_[:10])  # the ELBO went up
    assert linear_latent_r2(latents, gpfa_sim.latents)["r2_mean"] > 0.6
    if observations == "calcium":
        assert model.ar_coefs_.shape == (order, 15)
        assert np.all(model.noise_var_ > 0)


def test_score_and_transform_of_variational_model(gpfa_sim):
    model = GPFA(n_latents=2, observations="poisson", segment_length=120, n_iter=20)
    model.fit(gpfa_sim.spikes)
    assert np.isfinite(model.score(gpfa_sim.spikes[:120]))
    assert model.transform(gpfa_sim.spikes[:120]).shape == (120, 2)


@pytest.mark.parametrize("observations", ["gaussian", "calcium"])
@pytest.mark.parametrize("orthonormal", [False, True])
def test_transform_score_is_transform_and_score_in_one_inference(
    gpfa_sim, observations, orthonormal
):
    data = gpfa_sim.calcium
    model = GPFA(n_latents=2, observations=observations, segment_length=120, n_iter=20)
    model.fit(data[:120])
    latents, score = model.transform_score(data[120:], orthonormal=orthonormal)
    # the variational inference is deterministic (seeded): both paths give the same numbers
    np.testing.assert_array_equal(latents, model.transform(data[120:], orthonormal=orthonormal))
    assert score == model.score(data[120:])
    listed, _ = model.transform_score([data[120:180], data[180:]])
    assert [x.shape for x in listed] == [(60, 2), (60, 2)]


@pytest.mark.parametrize(
    ("kwargs", "x", "match"),
    [
        ({"n_latents": 0}, np.random.default_rng(0).normal(size=(20, 3)), "n_latents"),
        ({"observations": "zig"}, np.random.default_rng(0).normal(size=(20, 3)), "observations"),
        ({"n_latents": 3}, np.random.default_rng(0).normal(size=(3, 4)), "bins"),
        ({}, np.c_[np.arange(20.0), np.ones(20)], r"neurons \[1\].*constant"),
        ({}, np.where(np.eye(20, 2) > 0, np.nan, 0.0) + np.arange(20)[:, None], "NaN"),
        ({"observations": "poisson"}, np.full((20, 2), 1.5), "integer spike counts"),
    ],
)
def test_bad_input_gets_clear_errors(kwargs, x, match):
    with pytest.raises(ValueError, match=match):
        GPFA(**{"n_latents": 1, **kwargs}).fit(x)


def test_length_scale_objective_gradient_and_optimum():
    """The M-step objective for ℓ: its gradient equals finite differences, and on many draws
    from a GP with ℓ = 8 bins it is smallest near 8."""
    import math

    from scipy.optimize import minimize

    rng = np.random.default_rng(0)
    chol = np.linalg.cholesky(se_covariance(60, 8.0, 1e-3).numpy())
    draws = chol @ rng.normal(size=(60, 200))
    stats = [(200, draws @ draws.T)]
    value, grad = length_scale_objective(np.array([math.log(5.0)]), stats, 1e-3)
    h = 1e-6
    up, _ = length_scale_objective(np.array([math.log(5.0) + h]), stats, 1e-3)
    down, _ = length_scale_objective(np.array([math.log(5.0) - h]), stats, 1e-3)
    np.testing.assert_allclose(grad[0], (up - down) / (2 * h), rtol=1e-5)
    # the value is the expected negative log prior (up to the 2π constant)
    k = se_covariance(60, 5.0, 1e-3).numpy()
    expected = 0.5 * np.trace(np.linalg.solve(k, stats[0][1])) + 100 * np.linalg.slogdet(k)[1]
    np.testing.assert_allclose(value, expected, rtol=1e-9)
    res = minimize(
        length_scale_objective, [math.log(3.0)], args=(stats, 1e-3), jac=True, method="L-BFGS-B"
    )
    assert abs(math.exp(res.x[0]) - 8.0) < 0.5


def test_cosine_schedule_settles_the_monte_carlo_noise(gpfa_sim):
    """With the model fixed, inference runs the same stochastic VI from two seeds: the annealed
    step size brings both to (nearly) the same posterior mean, a constant one does not."""
    model = GPFA(
        n_latents=2,
        observations="poisson",
        segment_length=120,
        length_scale_init=25.0,
        n_iter=40,
        learning_rate=0.05,
        init_smoothing_bins=5.0,
    ).fit(gpfa_sim.spikes)
    spread = {}
    for schedule in ("cosine", "constant"):
        model.set_params(lr_schedule=schedule, n_iter=150)
        runs = []
        for seed in (1, 2):
            model.set_params(random_state=seed)
            runs.append(model.transform(gpfa_sim.spikes))
        spread[schedule] = np.sqrt(np.mean((runs[0] - runs[1]) ** 2))
    assert spread["cosine"] < 0.5 * spread["constant"]  # measured 0.10 vs 0.36
    with pytest.raises(ValueError, match="lr_schedule"):
        GPFA(observations="poisson", lr_schedule="step").fit(gpfa_sim.spikes)
