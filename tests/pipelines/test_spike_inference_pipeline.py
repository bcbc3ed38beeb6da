"""`kedro run --pipeline spike_inference` then the spike evaluation, on the embedded subset."""

import numpy as np
import pandas as pd
import pytest
import yaml

from calcium_dynamics.models.spike_models import SpikeModel
from tests.kedro_project import copy_project, run_pipeline

TINY = {
    "spike_inference": {
        "ens2": {
            "data": {"batch_size": 32, "n_val_batches": 1},
            "trainer": {"max_steps": 6, "val_check_interval": 3, "enable_progress_bar": False},
        },
        "cascade": {
            "noise_levels": [2, 6],
            "n_members": 1,
            "max_noise_replicas": 1,
            "data": {"batch_size": 32, "n_val_batches": 1},
            "trainer": {"max_steps": 6, "val_check_interval": 3, "enable_progress_bar": False},
        },
    }
}


@pytest.fixture(scope="module")
def project(project_root, tmp_path_factory):
    proj = copy_project(project_root, tmp_path_factory.mktemp("spikes") / "project")
    (proj / "conf" / "local" / "parameters_tiny.yml").write_text(yaml.safe_dump(TINY))
    mp = pytest.MonkeyPatch()
    try:
        run_pipeline(proj, "spike_inference", monkeypatch=mp)
        run_pipeline(proj, "evaluation", monkeypatch=mp, tags=["spike_inference"])
    finally:
        mp.undo()
    return proj


def test_models_are_saved_and_load_safely(project):
    ens2 = SpikeModel.load(project / "data/06_models/ens2.pt")
    zoo = SpikeModel.load(project / "data/06_models/cascade_zoo.pt")
    assert ens2.kind == "ens2" and ens2.frame_rate_hz == pytest.approx(60.0)
    assert zoo.noise_levels == [2.0, 6.0] and zoo.frame_rate_hz == pytest.approx(30.0, rel=0.05)
    assert not any("SST" in d for d in ens2.metadata["datasets"])  # excitatory only


def test_rates_and_events_for_traces_to_infer(project):
    traces = pd.read_parquet(project / "data/01_raw/traces_to_infer.parquet")
    for name in ("ens2_spikes", "cascade_spikes"):
        out = pd.read_parquet(project / f"data/07_model_output/{name}.parquet")
        assert list(out["trace_id"]) == list(traces["trace_id"])
        for row, trace in zip(out.itertuples(), traces.itertuples()):
            assert len(row.rate_hz) == len(trace.dff)  # at the input's own frame rate
            assert np.nanmin(row.rate_hz) >= 0
            duration = len(trace.dff) / trace.frame_rate_hz
            assert np.all((row.spike_times_s >= 0) & (row.spike_times_s <= duration))


def test_evaluation_reports(project):
    report = project / "data/08_reporting"
    per_neuron = pd.read_csv(report / "spike_metrics_per_neuron.csv")
    assert set(per_neuron["model"]) == {"ens2", "cascade"}
    assert per_neuron[["corr", "error", "er"]].notna().all().all()
    summary = pd.read_csv(report / "spike_metrics_summary.csv")
    overall = summary[(summary.dataset == "all") & (summary.metric == "corr")]
    assert (overall["ci_low"] <= overall["median"]).all()
    assert (overall["median"] <= overall["ci_high"]).all()
    for fig in ("spike_example_predictions.png", "spike_metric_distributions.png"):
        assert (report / fig).stat().st_size > 10_000
