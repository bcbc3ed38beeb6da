import json

import numpy as np
import pandas as pd
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from calcium_dynamics.pipelines.decomposition.nodes import decompose, traces_matrix
from tests.kedro_project import copy_project

FAST = {
    "decomposition": {
        "nodal_network": {"duration_s": 30.0},
        "process_network": {"duration_s": 30.0},
        "population_recording": {"duration_s": 30.0},
        "nmf": {"max_components": 7, "early_stop": True},
        "comparison": {"curve_max_components": 6},
    }
}


def _run(project, pipeline, monkeypatch, params, tags=None):
    monkeypatch.chdir(project)
    bootstrap_project(project)
    with KedroSession.create(project_path=project, runtime_params=params) as session:
        session.run(pipeline_names=[pipeline], tags=tags)


@pytest.fixture(scope="module")
def project(project_root, tmp_path_factory):
    return copy_project(project_root, tmp_path_factory.mktemp("nmf") / "project")


def test_decomposition_then_evaluation_write_their_outputs(project, monkeypatch):
    _run(project, "decomposition", monkeypatch, FAST)
    out = project / "data" / "07_model_output"
    comps = pd.read_parquet(out / "nmf_nodal_components.parquet")
    assert set(comps["method"]) == {"nmf", "pca", "ica"}
    assert (comps.groupby("method")["n_components"].first() == 5).all()
    curves = pd.read_parquet(out / "nmf_nodal_curves.parquet")
    nmf = curves[curves["method"] == "nmf"]
    assert nmf.loc[nmf["selected"], "n_components"].tolist() == [5]
    assert (project / "data" / "03_primary" / "population_traces.parquet").exists()
    population = pd.read_parquet(out / "nmf_population_curves.parquet")
    pop_nmf = population[population["method"] == "nmf"]
    assert pop_nmf.loc[pop_nmf["selected"], "n_components"].tolist() == [3]  # 3 processes

    _run(project, "evaluation", monkeypatch, FAST, tags=["nmf_evaluation"])
    report = project / "data" / "08_reporting"
    scores = pd.read_csv(report / "nmf_network_scores.csv")
    nodal = scores[scores["network"] == "nodal"].set_index("method")
    assert nodal.loc["nmf", "assignment_accuracy"] == 1.0
    assert "fit_time_s" not in scores.columns  # timings live apart (data/09_timings)
    timings = pd.read_csv(project / "data" / "09_timings" / "nmf_process_timings.csv")
    assert set(timings["method"]) == {"nmf", "pca", "ica"} and timings["fit_time_s"].gt(0).all()
    metrics = json.loads((report / "nmf_metrics.json").read_text())
    assert metrics["selected_k"] == {"nodal": 5, "process": 5, "population": 3}
    assert metrics["networks"]["process"]["nmf"]["weight_correlation"] > 0.8
    assert metrics["networks"]["process"]["nmf"]["activity_correlation"] > 0.8
    curves_csv = pd.read_csv(report / "nmf_model_selection_curves.csv")
    assert set(curves_csv["dataset"]) == {"nodal", "process", "population"}
    for png in ("nmf_model_selection", "nmf_time_courses", "nmf_weight_maps"):
        assert (report / f"{png}.png").stat().st_size > 10_000


def _digests(folder):
    import hashlib

    return {
        p.relative_to(folder).as_posix(): hashlib.md5(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "09_timings" not in p.parts and p.suffix != ".log"
    }


def test_two_runs_on_the_same_inputs_write_the_same_bytes(project_root, tmp_path, monkeypatch):
    """DVC outputs are deterministic: a rerun changes no byte (timings are written apart), so
    it invalidates no downstream stage."""
    fresh = copy_project(project_root, tmp_path / "project")
    data = fresh / "data"
    runs = []
    for _ in range(2):
        _run(fresh, "decomposition", monkeypatch, FAST)
        _run(fresh, "evaluation", monkeypatch, FAST, tags=["nmf_evaluation"])
        runs.append(
            {k: v for k, v in _digests(data).items() if k.startswith(("03_", "07_", "08_"))}
        )
    assert len(runs[0]) >= 15
    changed = sorted(k for k in runs[0] if runs[0][k] != runs[1].get(k))
    assert changed == [], f"outputs that differ between two identical runs: {changed}"
    assert (data / "09_timings" / "nmf_nodal_timings.csv").exists()


def test_a_population_recording_given_by_path(project, monkeypatch, tmp_path):
    rng = np.random.default_rng(0)
    latent = (rng.random((600, 2)) < 0.05).astype(float)
    loadings = np.zeros((2, 12))
    loadings[0, :6], loadings[1, 6:] = 1.0, 1.0
    X = latent @ loadings + 0.02 * rng.standard_normal((600, 12))
    recording = pd.DataFrame(
        {"neuron": [f"roi{i}" for i in range(12)], "frame_rate_hz": 15.0, "dff": list(X.T)}
    )
    path = tmp_path / "my_recording.parquet"
    recording.to_parquet(path)
    params = {**FAST, "population_traces_path": str(path)}
    monkeypatch.chdir(project)
    bootstrap_project(project)
    with KedroSession.create(project_path=project, runtime_params=params) as session:
        session.run(pipeline_names=["decomposition"], node_names=["nmf_decompose_population"])
    assignments = pd.read_parquet(
        project / "data" / "07_model_output" / "nmf_population_assignments.parquet"
    )
    nmf = assignments[assignments["method"] == "nmf"].set_index("neuron")["component"]
    assert nmf.index.tolist() == [f"roi{i}" for i in range(12)]
    assert nmf.iloc[:6].nunique() == 1 and nmf.iloc[6:].nunique() == 1
    assert nmf.iloc[0] != nmf.iloc[6]
    pd.testing.assert_frame_equal(pd.read_parquet(path), recording)  # input left untouched


def test_bad_population_tables_are_refused():
    good = pd.DataFrame({"neuron": ["a", "b"], "frame_rate_hz": 30.0, "dff": [np.ones(5)] * 2})
    with pytest.raises(ValueError, match="lacks column"):
        traces_matrix(good.drop(columns="frame_rate_hz"))
    uneven = good.assign(dff=[np.ones(5), np.ones(6)])
    with pytest.raises(ValueError, match="different number of frames"):
        traces_matrix(uneven)
    rates = good.assign(frame_rate_hz=[30.0, 15.0])
    with pytest.raises(ValueError, match="frame rates differ"):
        traces_matrix(rates)
    nan = good.assign(dff=[np.array([0, 1, np.nan, 2, 3.0]), np.arange(5.0)])
    with pytest.raises(ValueError, match=r"NaN.*neuron\(s\): a"):
        decompose(nan, {"n_components": 1}, {"methods": []})
    with pytest.raises(ValueError, match="unknown comparison method"):
        decompose(good.assign(dff=[np.arange(5.0), np.arange(5.0)[::-1]]), {}, {"methods": ["x"]})
