"""``kedro run --pipeline latent_dynamics_search`` end to end on tiny simulated data (2 members,
1 generation): the best model is saved like any other and the reports are written."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from calcium_dynamics.models.lfads import model_from_dict
from tests.kedro_project import copy_project, run_pipeline

PARAMS = {
    "lorenz_simulation": {
        "n_conditions": 2,
        "n_trials_per_condition": 5,
        "n_neurons": 10,
        "n_bins": 24,
    },
    "calcium_lorenz_simulation": {"n_trials": 10, "n_bins": 12, "n_neurons": 4},
    "lfads": {
        "trainer": {"batch_size": 8, "logger": False, "enable_progress_bar": False},
        "model": {
            "ic_enc_dim": 8,
            "ci_enc_dim": 8,
            "con_dim": 8,
            "ic_dim": 8,
            "gen_dim": 16,
            "fac_dim": 6,
        },
    },
    "lfads_search": {
        "variant": "radical",
        "population_size": 2,
        "epochs_per_generation": 2,
        "max_generations": 1,
        "ray": {"num_cpus": 2},
    },
}


@pytest.fixture(scope="module")
def search_run(project_root, tmp_path_factory):
    project = copy_project(project_root, tmp_path_factory.mktemp("pbt") / "project")
    with pytest.MonkeyPatch.context() as mp:
        run_pipeline(project, "latent_dynamics_search", params=PARAMS, monkeypatch=mp)
    return project / "data"


def test_best_model_is_saved_like_any_model_and_reproduces_its_rates(search_run):
    history = pd.read_csv(search_run / "08_reporting" / "lfads_search_history.csv")
    summary = json.loads((search_run / "08_reporting" / "lfads_search_summary.json").read_text())
    assert len(history) == 2 and summary["generations"] == 1
    assert summary["best"]["valid_recon"] == pytest.approx(history["valid_recon"].min())
    saved = torch.load(search_run / "06_models" / "lfads_search_best.pt", weights_only=True)
    model = model_from_dict(saved)
    best = summary["best"]["hyperparameters"]
    assert model.hparams["lr"] == pytest.approx(best["lr"])
    assert model.hparams["cd_keep_ratio"] == pytest.approx(1.0 - best["cd_rate"])
    assert model.hparams["observation_kwargs"]["sig_prior"] == pytest.approx(best["sig_prior"])
    events = np.load(search_run / "05_model_input" / "lorenz_events.npz")["events"]
    out = np.load(search_run / "07_model_output" / "lfads_search_output.npz")
    np.testing.assert_allclose(model.infer(events)["rates"], out["rates"], rtol=1e-5, atol=1e-6)


def test_latent_score_and_history_figure_are_written(search_run):
    metrics = json.loads((search_run / "08_reporting" / "lfads_search_metrics.json").read_text())
    assert metrics["variant"] == "radical" and metrics["lag_bins"] == 3
    assert all(np.isfinite(metrics[f"r2_{d}"]) and metrics[f"r2_{d}"] <= 1.0 for d in "xyz")
    assert (search_run / "08_reporting" / "lfads_search_history.png").stat().st_size > 10_000
