"""Held-out latent R²: independent latents score ≈ 0, a known linear map is recovered, and
GPFA's blocked cross-validation recovers simulated latents without seeing the scored bins."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter1d

from calcium_dynamics.classical.gpfa import GPFA
from calcium_dynamics.classical.gpfa_heldout import heldout_gpfa_latents
from calcium_dynamics.metrics.latents_linear import (
    blocked_folds,
    crossvalidated_linear_r2,
    heldout_latent_r2,
    linear_latent_r2,
)
from calcium_dynamics.simulate.hmm_gpfa import simulate_gpfa_calcium


def _smooth(rng, n_time, q, scale):
    x = gaussian_filter1d(rng.normal(size=(n_time, q)), scale, axis=0)
    return x / x.std(axis=0)


def test_blocked_folds_tile_the_sequence():
    folds = blocked_folds(10, 3)
    assert folds == [(0, 3), (3, 7), (7, 10)]
    with pytest.raises(ValueError, match="n_folds"):
        blocked_folds(10, 1)
    with pytest.raises(ValueError, match="too few"):
        blocked_folds(5, 3)


def test_independent_smooth_latents_score_high_in_sample_but_not_held_out():
    """The in-sample score credits latents that know nothing of the truth (smooth signals
    are easy to regress on each other: mean R² 0.62 over 100 draws); held out, the same
    latents score below 0 on average, i.e. no better than predicting the mean."""
    in_sample, held_out = [], []
    for seed in range(100):
        rng = np.random.default_rng(seed)
        truth = _smooth(rng, 600, 3, 60.0)
        inferred = _smooth(rng, 600, 3, 60.0)  # independent of the truth
        in_sample.append(linear_latent_r2(inferred, truth)["r2_mean"])
        held_out.append(crossvalidated_linear_r2(inferred, truth, n_folds=5)["r2_mean"])
    assert np.mean(in_sample) > 0.5
    assert np.median(held_out) < 0.0
    assert np.mean(np.clip(held_out, 0, None)) < 0.05  # skill (R² floored at 0) ≈ 0
    assert np.percentile(held_out, 95) < 0.3


def test_a_known_linear_map_is_recovered_held_out():
    rng = np.random.default_rng(1)
    truth = _smooth(rng, 900, 3, 40.0)
    mixing = rng.normal(size=(3, 4))
    inferred = truth @ mixing + 0.01 * rng.normal(size=(900, 4)) + 2.0
    score = crossvalidated_linear_r2(inferred, truth, n_folds=5)
    assert score["r2_mean"] > 0.99
    np.testing.assert_allclose(score["prediction"], truth, atol=0.1)


def test_heldout_r2_refuses_mismatched_training_latents():
    truth = np.zeros((20, 1))
    truth[:, 0] = np.arange(20)
    folds = blocked_folds(20, 2)
    with pytest.raises(ValueError, match="training latents"):
        heldout_latent_r2([(np.ones((5, 1)), np.ones((10, 1)))] * 2, truth, folds)


def test_gpfa_blocked_cross_validation_recovers_simulated_latents():
    data = simulate_gpfa_calcium(
        n_time=600,
        n_neurons=30,
        length_scales=(40.0, 60.0),
        loading_sd=0.5,
        mean_rate=0.3,
        seed=0,
    )

    def make():
        return GPFA(
            n_latents=2,
            observations="gaussian",
            n_iter=15,
            segment_length=100,
            length_scale_init=50.0,
            random_state=0,
        )

    fold_latents, folds = heldout_gpfa_latents(make, data.calcium, n_folds=3)
    score = heldout_latent_r2(fold_latents, data.latents, folds)
    assert score["r2_mean"] > 0.5
    # the same latents against a truth they do not describe (time-reversed): ≈ 0 or below
    null = heldout_latent_r2(fold_latents, data.latents[::-1].copy(), folds)
    assert null["r2_mean"] < 0.1
