import numpy as np
import pytest

from calcium_dynamics.metrics.latent_recovery import frames_to_bins, latent_r2, smooth_frames

RNG = np.random.default_rng(0)


def _latents(n=40, t=30):
    return RNG.normal(size=(n, t, 3)).cumsum(axis=1)


def test_linear_features_give_r2_one_and_noise_gives_zero():
    z = _latents()
    x = z @ RNG.normal(size=(3, 10)) + 2.0
    res = latent_r2(x, z)
    np.testing.assert_allclose(res.r2, 1.0, atol=1e-6)
    assert res.r2_per_split.shape == (5, 3) and res.predictions.shape == z.shape
    noise = latent_r2(RNG.normal(size=(40, 30, 10)), z)
    assert noise.r2.max() < 0.1


def test_lag_aligns_delayed_features():
    z = _latents()
    x = np.zeros((40, 30, 3))
    x[:, 3:] = z[:, :-3]  # features lag the latents by 3 bins
    x = x[:, ::-1][:, ::-1]
    lagged = latent_r2(x, z, lag_bins=3)
    plain = latent_r2(x, z, lag_bins=0)
    np.testing.assert_allclose(lagged.r2, 1.0, atol=1e-6)
    assert plain.r2.mean() < lagged.r2.mean() - 0.05


def test_bad_inputs():
    with pytest.raises(ValueError, match="differ"):
        latent_r2(np.zeros((4, 5, 2)), np.zeros((4, 6, 3)))
    with pytest.raises(ValueError, match="NaN"):
        latent_r2(np.full((10, 5, 2), np.nan), np.zeros((10, 5, 3)))
    with pytest.raises(ValueError, match="lag_bins"):
        latent_r2(np.zeros((10, 5, 2)), np.zeros((10, 5, 3)), lag_bins=5)


def test_frames_to_bins_interpolates_linearly():
    frames = np.arange(5, dtype=float)[None, :, None]  # value k at frame k
    bins = frames_to_bins(frames, 3, 15)[0, :, 0]
    centres = np.arange(5) * 3 + 1
    np.testing.assert_allclose(bins[centres], np.arange(5))
    np.testing.assert_allclose(bins[2], 1 / 3)
    assert bins[0] == 0 and bins[-1] == 4


def test_smoothing_preserves_constants():
    x = np.ones((2, 20, 3))
    np.testing.assert_allclose(smooth_frames(x, 33.3, 0.03), 1.0)


def test_given_test_trials_are_the_only_scored_ones():
    rng = np.random.default_rng(3)
    z = rng.normal(size=(30, 20, 3))
    x = z @ rng.normal(size=(3, 8)) + 0.05 * rng.normal(size=(30, 20, 8))
    test = np.array([2, 5, 7, 11, 19, 23])
    res = latent_r2(x, z, test_trials=test)
    assert res.r2_per_split.shape == (1, 3) and (res.r2 > 0.98).all()
    scored = np.flatnonzero(np.isfinite(res.r2_per_trial))
    np.testing.assert_array_equal(scored, test)
    assert np.isnan(res.predictions[0]).all() and np.isfinite(res.predictions[test]).all()
    # features that know nothing of the latents score ≈ 0 or below on the held-out trials
    null = latent_r2(rng.normal(size=(30, 20, 8)), z, test_trials=test)
    assert (null.r2 < 0.1).all()
    with pytest.raises(ValueError, match="some, not all"):
        latent_r2(x, z, test_trials=np.arange(30))
