"""HMM / GPFA simulations: sizes, statistics and ground truth as specified."""

from __future__ import annotations

import numpy as np
import pytest

from calcium_dynamics.simulate.hmm_gpfa import (
    ar_calcium,
    se_kernel,
    sequential_transition_matrix,
    simulate_gpfa_calcium,
    simulate_gpfa_gcamp6f,
    simulate_hmm_calcium,
)


def test_hmm_simulation_statistics():
    sim = simulate_hmm_calcium(n_time_train=3000, n_time_test=500, seed=0)
    assert sim.calcium_train.shape == (3000, 25) and sim.calcium_test.shape == (500, 25)
    assert sim.states_train.max() == 4
    # sequential transitions: every change advances by one (mod K); stay ≈ 0.83
    changes = np.flatnonzero(np.diff(sim.states_train))
    assert np.all((sim.states_train[changes + 1] - sim.states_train[changes]) % 5 == 1)
    assert 1 - len(changes) / 2999 == pytest.approx(0.83, abs=0.03)
    # group k fires 0.2 spikes / bin in state k and 0.01 otherwise
    on = sim.spikes_train[sim.states_train == 0][:, :5].mean()
    off = sim.spikes_train[sim.states_train != 0][:, :5].mean()
    assert on == pytest.approx(0.2, abs=0.03) and off == pytest.approx(0.01, abs=0.006)
    assert np.all((sim.ar_coef >= 0.6) & (sim.ar_coef <= 0.95))
    # measurement noise: innovations of y about the AR(1) calcium have the expected variance
    resid = sim.calcium_train[1:] - sim.ar_coef * sim.calcium_train[:-1] - sim.spikes_train[1:]
    expected = 0.01 + 0.04 * (1 + sim.ar_coef**2)
    np.testing.assert_allclose(resid.var(axis=0), expected, rtol=0.2)


def test_same_seed_same_data():
    a = simulate_hmm_calcium(n_time_train=50, n_time_test=50, seed=3)
    b = simulate_hmm_calcium(n_time_train=50, n_time_test=50, seed=3)
    np.testing.assert_array_equal(a.calcium_test, b.calcium_test)


def test_transition_matrix_and_kernel():
    trans = sequential_transition_matrix(3, 0.8)
    np.testing.assert_allclose(trans, [[0.8, 0.2, 0], [0, 0.8, 0.2], [0.2, 0, 0.8]])
    k = se_kernel(5, 2.0, 0.1)
    assert k[0, 0] == pytest.approx(1.0) and k[0, 2] == pytest.approx(0.9 * np.exp(-0.5))


def test_ar_calcium_is_the_recursion():
    spikes = np.zeros((6, 1))
    spikes[0] = 1
    out = ar_calcium(
        spikes, np.array([[1.3], [-0.4]]), np.ones(1), np.zeros(1), np.random.default_rng(0)
    )
    np.testing.assert_allclose(out[:, 0], [1, 1.3, 1.29, 1.157, 0.9881, 0.82173], rtol=1e-10)


def test_gpfa_simulation_shapes_and_latent_smoothness():
    sim = simulate_gpfa_calcium(n_time=800, n_neurons=10, length_scales=(50.0, 100.0), seed=0)
    assert sim.latents.shape == (800, 2) and sim.calcium.shape == (800, 10)
    np.testing.assert_allclose(sim.rates, np.logaddexp(0, sim.latents @ sim.loading.T + sim.offset))
    # lag-1 autocorrelation of a GP with ℓ = 50 bins is exp(-1 / 5000)
    x = sim.latents[:, 0]
    assert np.corrcoef(x[1:], x[:-1])[0, 1] > 0.99
    assert sim.ar_coefs.shape == (2, 10)


def test_gcamp6f_gpfa_simulation_shares_spikes_and_saturates():
    kw = dict(n_time=800, n_neurons=6, length_scales=(40.0, 60.0), seed=3)
    ar = simulate_gpfa_calcium(**kw)
    gc = simulate_gpfa_gcamp6f(**kw)
    # the same latents and spikes, a different indicator
    np.testing.assert_array_equal(gc.spikes, ar.spikes)
    np.testing.assert_array_equal(gc.latents, ar.latents)
    assert gc.calcium.shape == (800, 6)
    # kernel coefficients of τ_on 50 ms / τ_off 400 ms at 30 Hz bins
    d, r = np.exp(-1 / 30 / 0.4), np.exp(-1 / 30 / 0.05)
    np.testing.assert_allclose(gc.ar_coefs[:, 0], [d + r, -d * r])
    # min–max normalised signal plus noise of sd ≈ sn: the noise-free part spans [0, 1]
    assert 0.05 < np.median(gc.jump) < 1.0
    assert np.all(gc.noise_var > 0.06**2 - 1e-12)
    resid_sd = np.std(np.diff(gc.calcium, axis=0), axis=0) / np.sqrt(2)
    assert np.all(resid_sd > 0.5 * np.sqrt(gc.noise_var))
    # saturation: relative to the same simulation without it, high-rate bins lose fluorescence
    linear = simulate_gpfa_gcamp6f(**kw, half_saturation=1e9)
    rate = ar.rates.mean(axis=1)
    hi, lo = rate > np.quantile(rate, 0.8), rate < np.quantile(rate, 0.2)

    def gain(sim):
        return (sim.calcium[hi].mean() - sim.calcium[lo].mean()) / np.median(sim.jump)

    assert gain(gc) < 0.8 * gain(linear)


@pytest.mark.parametrize(
    ("func", "kwargs", "match"),
    [
        (simulate_hmm_calcium, {"n_states": 0}, "n_states"),
        (simulate_hmm_calcium, {"n_time_train": 3}, "fewer"),
        (simulate_hmm_calcium, {"p_stay": 1.5}, "p_stay"),
        (simulate_gpfa_calcium, {"n_time": 0}, "n_time"),
        (simulate_gpfa_calcium, {"mean_rate": 0.0}, "mean_rate"),
    ],
)
def test_bad_parameters(func, kwargs, match):
    with pytest.raises(ValueError, match=match):
        func(**kwargs)
