"""Classical latent pipelines (simulation → fit → evaluation) with a Kedro runner, tiny sizes."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import yaml
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from calcium_dynamics.pipelines.evaluation.classical import pipeline as evaluation
from calcium_dynamics.pipelines.latent_dynamics.classical import pipeline as classical


class _KeptDataset(MemoryDataset):
    """A memory dataset the runner does not release, so the test can read every output."""

    def _release(self) -> None:
        return None  # keep the data: the test reads every output after the run


@pytest.fixture
def tiny_params(project_root):
    params = yaml.safe_load(
        (project_root / "conf/base/parameters_latent_classical.yml").read_text()
    )
    hmm, gpfa = copy.deepcopy(params["hmm"]), copy.deepcopy(params["gpfa"])
    hmm["simulation"].update(n_states=3, neurons_per_state=3, n_time_train=150, n_time_test=120)
    hmm["fit"].update(n_states=3, n_iter=4, m_step_iters=5)
    hmm["n_states_grid"] = [2, 3]
    gpfa["simulation"].update(n_time=160, n_neurons=8, length_scales=[20.0, 30.0, 40.0])
    gpfa["fit"].update(
        segment_length=80, length_scale_init=25.0, gaussian_n_iter=3, variational_n_iter=5
    )
    return hmm, gpfa


def test_simulation_fit_and_evaluation_run(tiny_params):
    hmm, gpfa = tiny_params
    pipe = (
        classical.create_simulation_pipeline()
        + classical.create_pipeline()
        + evaluation.create_pipeline()
    )
    catalog = DataCatalog(
        {
            "params:hmm": MemoryDataset(hmm),
            "params:gpfa": MemoryDataset(gpfa),
            **{name: _KeptDataset() for name in pipe.all_outputs()},
        }
    )
    SequentialRunner().run(pipe, catalog)
    table = catalog.load("hmm_state_metrics_table")
    assert isinstance(table, pd.DataFrame)
    assert set(table["model"]) == {"gaussian", "ar_gaussian", "poisson", "calcium"}
    assert table["state_accuracy"].between(0, 1).all()
    summary = catalog.load("hmm_state_metrics")
    assert summary["best_n_states"]["calcium"] in (2, 3)
    gpfa_table = catalog.load("gpfa_latent_metrics_table")
    assert set(gpfa_table["model"]) == set(gpfa["variants"])
    assert np.isfinite(gpfa_table["latent_r2"]).all()
    latents = catalog.load("gpfa_latents")
    assert latents["calcium_ar2"].shape == (160, 3)
    assert catalog.load("gpfa_oasis_events")["oasis_counts"].min() >= 0
    assert catalog.load("hmm_state_raster") is not None
    # wall-clock times live apart from the models, which are the same on a second run
    fit_times = catalog.load("hmm_fit_times")
    assert set(fit_times) == set(table["model"]) and min(fit_times.values()) > 0
    assert set(catalog.load("gpfa_fit_times")) == set(gpfa["variants"])
    assert "fit_time_s" not in table.columns and "fit_time_s" not in gpfa_table.columns
    first = {k: catalog.load(k) for k in ("hmm_models", "gpfa_models", "gpfa_latents")}
    assert not any("fit_time" in key for arrays in first.values() for key in arrays)
    SequentialRunner().run(pipe, catalog)
    for name, arrays in first.items():
        again = catalog.load(name)
        assert list(again) == list(arrays), name
        for key in arrays:
            np.testing.assert_array_equal(again[key], arrays[key], err_msg=f"{name}: {key}")


def test_dataset_names_are_prefixed_and_in_the_catalog(project_root):
    catalog = yaml.safe_load((project_root / "conf/base/catalog_latent_classical.yml").read_text())
    pipe = (
        classical.create_simulation_pipeline()
        + classical.create_pipeline()
        + evaluation.create_pipeline()
    )
    for name in pipe.all_outputs():
        assert name.startswith(("hmm_", "gpfa_"))
        assert name in catalog
    for node in pipe.nodes:
        assert node.name.startswith(("hmm_", "gpfa_"))
