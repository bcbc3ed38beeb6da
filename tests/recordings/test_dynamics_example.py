"""The latent models recover the shipped example's known latent and states on test trials.

The example (``simulate.suite2p_example.write_trials_example``): two Suite2p planes of a
session of 60 trials in two conditions whose 28 cells per plane fire at b·exp(c·z(t)) for a
known two-dimensional latent z, with discrete states rest / stimulus A / stimulus B. ΔF/F is
computed from the shipped files as the pipeline does, trials cut, and each model fitted with
the project's parameters (``conf/base``). Scores use only test trials: a linear map from the
inferred latents to z is fitted on the training trials and scored on the test trials.

Floors (measured on plane 0, rounded down; the calcium models undo the indicator's delay,
the Gaussian GPFA does not):
  gpfa_calcium: held-out latent R² 0.51 / 0.78 (z₁ / z₂) → mean floor 0.55;
  calcium_lfads: 0.85 / 0.78 → mean floor 0.65;
  hmm_calcium: adjusted Rand index of its states with the true states 0.31 → floor 0.2;
  co-smoothing R² of the GPFA models > 0.2 (the mean predictor: 0).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from calcium_dynamics.config import project_parameters
from calcium_dynamics.io.recordings import Suite2pDataset
from calcium_dynamics.metrics.latents_linear import apply_linear_map, fit_linear_map
from calcium_dynamics.recordings.dff_tables import recording_dff_table
from calcium_dynamics.recordings.dynamics import fit_trial_dynamics, lfads_settings
from calcium_dynamics.recordings.trials import cut_trials
from calcium_dynamics.simulate.suite2p_example import simulate_trials_example


@pytest.fixture(scope="module")
def example(project_root):
    params = project_parameters()
    rec = params["recordings"]
    table = Suite2pDataset(str(project_root / "data/01_raw/example_suite2p/plane0")).load()
    dff = recording_dff_table(table, rec["dff"])
    spikes = pd.DataFrame(
        {"trace_id": dff["trace_id"], "rate_hz": [np.zeros(len(d)) for d in dff["dff"]]}
    )
    table = pd.read_csv(project_root / "data/01_raw/example_suite2p_trials/plane0.csv")
    trials = cut_trials(dff, spikes, table, rec["trials"], "plane0")
    truth = simulate_trials_example().session
    first = np.round(table["start_time"].to_numpy()[trials["trial_index"]] * 15.0).astype(int)
    window = first[:, None] + np.arange(trials["dff"].shape[1])
    dynamics = {**rec["dynamics"], "lfads": lfads_settings(rec["dynamics"], params["lfads"])}
    return trials, truth.latents[window], truth.states[window], dynamics


def _heldout_r2(inferred: np.ndarray, true: np.ndarray, test: np.ndarray) -> np.ndarray:
    q = inferred.shape[2]
    w = fit_linear_map(inferred[~test].reshape(-1, q), true[~test].reshape(-1, true.shape[2]))
    pred = apply_linear_map(inferred[test].reshape(-1, q), w)
    y = true[test].reshape(-1, true.shape[2])
    return 1 - ((y - pred) ** 2).sum(axis=0) / ((y - y.mean(axis=0)) ** 2).sum(axis=0)


def test_calcium_gpfa_and_hmm_recover_latent_and_states(example):
    from sklearn.metrics import adjusted_rand_score

    trials, z, states, params = example
    result = fit_trial_dynamics(
        trials, {**params, "models": ["gpfa_gaussian", "gpfa_calcium", "hmm_calcium"]}, "plane0"
    )
    test = result.arrays["test_trial"]
    assert test.sum() == 14
    r2 = _heldout_r2(result.arrays["gpfa_calcium_latents"], z, test)
    print("gpfa_calcium held-out latent R²:", r2.round(3))
    assert r2.mean() > 0.55
    gaussian = _heldout_r2(result.arrays["gpfa_gaussian_latents"], z, test)
    print("gpfa_gaussian held-out latent R²:", gaussian.round(3))
    assert r2.mean() > gaussian.mean()  # the calcium likelihood undoes the indicator's delay
    hmm = result.arrays["hmm_calcium_states"]
    ari = adjusted_rand_score(states[test].ravel(), hmm[test].ravel())
    print("hmm_calcium ARI on test trials:", round(ari, 3), result.hmm_curve.to_dict("records"))
    assert ari > 0.2
    med = result.scores.groupby("model")["r2"].median()
    print(med.round(3).to_dict())
    assert med["gpfa_calcium"] > 0.2 and med["gpfa_gaussian"] > 0.2 and abs(med["mean"]) < 0.05


def test_calcium_lfads_recovers_the_latent(example):
    trials, z, _, params = example
    result = fit_trial_dynamics(
        trials, {**params, "models": ["calcium_lfads"], "cosmoothing": False}, "plane0"
    )
    r2 = _heldout_r2(result.arrays["calcium_lfads_factors"], z, result.arrays["test_trial"])
    print("calcium_lfads held-out latent R²:", r2.round(3))
    assert r2.mean() > 0.65
    assert not any("collapse" in text for _, text in result.notes)
    rates = result.arrays["calcium_lfads_rate_hz"]
    assert rates.shape == (60, 45, 28) and np.isfinite(rates).all() and (rates >= 0).all()
