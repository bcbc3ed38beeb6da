"""Latent models on a recording's trials: splits, the co-smoothing readout, bad inputs and the
NWB / Suite2p write-back payloads (small synthetic trials; the shipped example's recovery is in
test_dynamics_example.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from calcium_dynamics.recordings.cosmoothing import (
    condition_average,
    filtered_features,
    readout_scores,
    score_predictions,
)
from calcium_dynamics.recordings.dynamics import (
    DynamicsInputError,
    condition_means,
    fit_trial_dynamics,
    split_neurons,
    split_trials,
)
from calcium_dynamics.recordings.trials import cut_trials
from calcium_dynamics.recordings.write_back import latent_time_series, suite2p_payload

GAUSSIAN_ONLY = {
    "models": ["gpfa_gaussian"],
    "condition_columns": ["stimulus"],
    "readout_filters_s": [0.3],
    "gpfa": {"n_latents": 2, "length_scale_s": 0.3, "n_iter": 30},
}


def _trials(n_trials=24, n_bins=30, n_neurons=12, seed=0, rate=15.0):
    """Trials whose neurons read out a 1-D latent that rises in condition 1 and falls in 0."""
    rng = np.random.default_rng(seed)
    cond = np.arange(n_trials) % 2
    t = np.arange(n_bins) / rate
    gain = rng.uniform(0.5, 1.5, n_trials)
    z = (2 * cond - 1)[:, None] * gain[:, None] * np.sin(np.pi * t / t[-1])[None, :]
    load = rng.normal(0, 1, n_neurons)
    dff = z[:, :, None] * load + 0.2 * rng.standard_normal((n_trials, n_bins, n_neurons))
    return {
        "dff": dff.astype(np.float32),
        "time_s": t,
        "trace_id": np.array([f"cell{i}" for i in range(n_neurons)]),
        "frame_rate_hz": np.float64(rate),
        "trial_stimulus": cond,
        "align_time_s": 10.0 + 5.0 * np.arange(n_trials),
    }, z


def test_trial_split_is_balanced_and_deterministic():
    cond = np.array([0, 1] * 10 + [1, 1, 1, 1])
    train, test = split_trials(cond, 0.25)
    assert np.intersect1d(train, test).size == 0 and train.size + test.size == 24
    # every 4th trial of each condition from its 3rd: condition 0 (trials 0, 2, … 18) gives
    # 4 and 12; condition 1 (1, 3, … 19, 20, 21, 22, 23) gives 5, 13 and 20
    np.testing.assert_array_equal(test, [4, 5, 12, 13, 20])
    np.testing.assert_array_equal(split_trials(cond, 0.25)[1], test)
    held_in, held_out = split_neurons(28, 0.25, seed=0)
    assert held_out.size == 7 and np.union1d(held_in, held_out).size == 28
    with pytest.raises(ValueError, match="test_fraction"):
        split_trials(cond, 1.0)


def test_exponential_readout_filter_has_the_analytic_step_response():
    step = np.ones((1, 50, 1))
    feats = filtered_features(step, [4.0]).reshape(50, 2)
    a = np.exp(-1 / 4)
    np.testing.assert_allclose(feats[:, 1], 1 - a ** np.arange(1, 51), rtol=1e-12)
    np.testing.assert_array_equal(feats[:, 0], 1.0)


def test_readout_scores_rank_true_latent_above_noise_and_references():
    data, z = _trials(n_trials=40, n_neurons=10)
    y = data["dff"].astype(float)
    train, test = np.arange(0, 30), np.arange(30, 40)
    good = readout_scores(
        "truth", ["a"] * 10, z[train, :, None], y[train], z[test, :, None], y[test], []
    )
    rng = np.random.default_rng(1)
    noise = rng.standard_normal(z.shape)[:, :, None]
    bad = readout_scores("noise", ["a"] * 10, noise[train], y[train], noise[test], y[test], [])
    # signal / noise: per neuron R² ≈ var(load·z) / (var(load·z) + 0.04)
    assert good["r2"].median() > 0.6 and abs(bad["r2"].median()) < 0.1
    assert (good["ll_gain_per_bin"] > 0).all()
    # the condition average cannot follow the single-trial gains: worse than the truth
    cond = data["trial_stimulus"]
    fit, pred = condition_average(y[train], cond[train], cond[test])
    psth = score_predictions(
        "psth",
        ["a"] * 10,
        y[train].reshape(-1, 10),
        fit.reshape(-1, 10),
        y[test].reshape(-1, 10),
        pred.reshape(-1, 10),
    )
    assert psth["r2"].median() < good["r2"].median()
    # the prediction equal to the data: R² = 1
    same = score_predictions(
        "same",
        ["a"],
        y[:, :, :1].reshape(-1, 1),
        y[:, :, :1].reshape(-1, 1),
        y[:, :, :1].reshape(-1, 1),
        y[:, :, :1].reshape(-1, 1),
    )
    assert same["r2"].iloc[0] == pytest.approx(1.0)


def test_gaussian_gpfa_on_trials_recovers_the_latent_on_test_trials():
    data, z = _trials()
    result = fit_trial_dynamics(data, GAUSSIAN_ONLY, "synthetic")
    lat = result.arrays["gpfa_gaussian_latents"]
    test = result.arrays["test_trial"]
    assert lat.shape == (24, 30, 2) and test.sum() == 6
    # linear map on the training trials, R² on the test trials
    x_tr, x_te = lat[~test].reshape(-1, 2), lat[test].reshape(-1, 2)
    w, *_ = np.linalg.lstsq(np.c_[x_tr, np.ones(len(x_tr))], z[~test].ravel(), rcond=None)
    pred = np.c_[x_te, np.ones(len(x_te))] @ w
    r2 = 1 - np.sum((z[test].ravel() - pred) ** 2) / np.sum((z[test] - z[test].mean()) ** 2)
    assert r2 > 0.9
    scores = result.scores.groupby("model")["r2"].median()
    assert scores["gpfa_gaussian"] > scores["psth"] > scores["mean"] - 0.05
    means = condition_means(result.arrays)["gpfa_gaussian_condition_mean"]
    np.testing.assert_allclose(means[1], lat[data["trial_stimulus"] == 1].mean(axis=0), rtol=1e-5)
    assert any("RADICaL" in text for level, text in result.notes if level == "skipped")


def test_bad_trials_are_refused_or_skipped_by_name():
    data, _ = _trials(n_trials=8)
    with pytest.raises(DynamicsInputError, match=r"rec7: 8 usable trial\(s\) give 6 training"):
        fit_trial_dynamics(data, GAUSSIAN_ONLY, "rec7")
    data, _ = _trials(n_neurons=2)
    result = fit_trial_dynamics(data, GAUSSIAN_ONLY, "few")
    assert "gpfa_gaussian_latents" not in result.arrays
    assert any("fewer cells than latent dimensions" in text for _, text in result.notes)
    data, _ = _trials()
    data["dff"][3, 5, 1] = np.nan
    result = fit_trial_dynamics(data, GAUSSIAN_ONLY, "nan")
    assert (
        not result.arrays["used_trial"][3]
        and np.isnan(result.arrays["gpfa_gaussian_latents"][3]).all()
    )
    assert any("1 trial(s) with NaN frames" in text and "[3]" in text for _, text in result.notes)
    data["dff"][:] = np.nan
    with pytest.raises(DynamicsInputError, match="every trial holds NaN"):
        fit_trial_dynamics(data, GAUSSIAN_ONLY, "nan")
    data, _ = _trials()
    with pytest.raises(ValueError, match=r"unknown latent model 'gpfa'"):
        fit_trial_dynamics(data, {**GAUSSIAN_ONLY, "models": ["gpfa"]}, "x")


def test_overlapping_trial_windows_are_refused():
    frames = np.arange(200, dtype=np.float32)
    dff = pd.DataFrame({"trace_id": ["a"], "frame_rate_hz": 10.0, "dff": [frames]})
    spikes = dff.rename(columns={"dff": "rate_hz"})
    trials = pd.DataFrame({"start_time": [1.0, 2.0, 9.0], "stop_time": [3.0, 4.0, 11.0]})
    with pytest.raises(ValueError, match=r"rec: the windows of trials 0 and 1 .* overlap"):
        cut_trials(dff, spikes, trials, {"after_s": 2.0}, "rec")
    ok = cut_trials(dff, spikes, trials.iloc[[0, 2]], {"after_s": 2.0}, "rec")
    assert ok["dff"].shape == (2, 20, 1)


def test_latent_time_series_are_in_session_time():
    data, _ = _trials(n_trials=4, n_bins=3)
    data["align_time_s"] = np.array([40.0, 10.0, 20.0, 30.0])  # table not in time order
    arrays = {
        "gpfa_gaussian_latents": np.arange(4 * 3 * 2, dtype=float).reshape(4, 3, 2),
        "hmm_calcium_states": np.arange(12).reshape(4, 3),
        "test_trial": np.zeros(4, bool),
    }
    series = latent_time_series(data, arrays)
    assert set(series) == {"gpfa_gaussian_latents", "hmm_calcium_states"}
    lat = series["gpfa_gaussian_latents"]
    step = 1 / 15.0
    np.testing.assert_allclose(lat["timestamps_s"][:3], [10, 10 + step, 10 + 2 * step])
    np.testing.assert_array_equal(lat["data"][:3], arrays["gpfa_gaussian_latents"][1])
    np.testing.assert_array_equal(series["hmm_calcium_states"]["data"][-3:], [0, 1, 2])
    data["align_time_s"] = np.array([10.0, 10.1, 20.0, 30.0])
    with pytest.raises(ValueError, match="overlap"):
        latent_time_series(data, arrays)


def test_suite2p_payload_leaves_masked_cells_out():
    spikes = pd.DataFrame(
        {
            "source": "/data/plane0",
            "model": "cascade-30hz-excitatory",
            "model_version": "v1.0.0",
            "cell": [0, 2, 5],
            "rate_hz": [np.ones(4), np.full(4, np.nan), np.arange(4.0)],
        }
    )
    payload = suite2p_payload(spikes)
    np.testing.assert_array_equal(payload["roi_index"], [0, 5])
    np.testing.assert_array_equal(payload["rate_hz"], [np.ones(4), np.arange(4.0)])
    with pytest.raises(ValueError, match="several models"):
        suite2p_payload(spikes.assign(model=["a", "b", "a"]))


def test_one_heldout_neuron_is_scored_as_one():
    data, z = _trials(n_trials=20, n_neurons=1)
    y = data["dff"].astype(float)
    scores = readout_scores("truth", ["a"], z[:15, :, None], y[:15], z[15:, :, None], y[15:], [])
    # the readout of the true latent leaves the noise (s.d. 0.2): R² ≈ 1 − 0.04 / var(y)
    expected = 1 - 0.04 / y[15:].var()
    assert len(scores) == 1 and scores["r2"].iloc[0] == pytest.approx(expected, abs=0.08)
