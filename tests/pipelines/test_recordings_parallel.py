import json

"""`kedro run --pipeline recordings --runner ParallelRunner` gives the sequential run's outputs.

Three Suite2p planes (three partitions) are spread over the pipeline's shards; the parallel
run's worker processes must produce byte-identical tables (Parquet contents, CSV files, NPZ
arrays) to those of the sequential run."""

import shutil

import numpy as np
import pandas as pd
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from kedro.runner import ParallelRunner, SequentialRunner

from calcium_dynamics.simulate.suite2p_example import write_example_suite2p
from tests.kedro_project import copy_project
from tests.pipelines.test_recordings_pipeline import OUTPUT_LAYERS, fresh_outputs, save_tiny_models


def _run(project, runner, params, monkeypatch):
    monkeypatch.chdir(project)
    bootstrap_project(project)
    with KedroSession.create(project_path=project, runtime_params=params) as session:
        session.run(pipeline_names=["recordings"], runner=runner)


def _outputs(project):
    files = {}
    for layer in OUTPUT_LAYERS:
        for path in sorted((project / "data" / layer).rglob("*")):
            if path.is_file():
                files[str(path.relative_to(project / "data"))] = path
    return files


def _assert_same_table(a: pd.DataFrame, b: pd.DataFrame, name: str):
    assert list(a.columns) == list(b.columns) and len(a) == len(b), name
    for col in a.columns:
        for x, y in zip(a[col], b[col]):
            if isinstance(x, np.ndarray):
                np.testing.assert_array_equal(x, y, err_msg=f"{name}: {col}")
            else:
                assert x == y or (pd.isna(x) and pd.isna(y)), f"{name}: {col}"


def test_parallel_runner_equals_sequential_runner(project_root, tmp_path, monkeypatch):
    project = copy_project(project_root, tmp_path / "project")
    save_tiny_models(project / "data/06_models", rate_bias=0.3)
    write_example_suite2p(tmp_path / "suite2p", n_planes=3, n_rois=4, n_noncells=1, n_frames=450)
    # twelve 2 s trials per plane (30 s at 15 Hz): the latent models run on every plane too
    starts = 0.5 + 2.4 * np.arange(12)
    table = pd.DataFrame({"start_time": starts, "stop_time": starts + 2.0, "stimulus": [0, 1] * 6})
    (tmp_path / "trials").mkdir()
    for p in range(3):
        table.to_csv(tmp_path / f"trials/plane{p}.csv", index=False)
    params = {
        "recording_path": str(tmp_path / "suite2p"),
        "trials_path": str(tmp_path / "trials"),
        "recordings": {"dynamics": {"models": ["gpfa_gaussian"], "gpfa": {"n_latents": 1}}},
    }
    _run(project, SequentialRunner(), params, monkeypatch)
    sequential = tmp_path / "sequential"
    for layer in OUTPUT_LAYERS:
        shutil.copytree(project / "data" / layer, sequential / layer)
    fresh_outputs(project)
    _run(project, ParallelRunner(max_workers=2), params, monkeypatch)

    got = _outputs(project)
    want = {k: sequential / k for k in got}
    expected = {str(p.relative_to(sequential)) for p in sequential.rglob("*") if p.is_file()}
    assert set(got) == expected
    spikes = [k for k in got if k.startswith("07_model_output/recording_spikes/")]
    assert len(spikes) == 3  # one partition per plane
    assert len([k for k in got if k.startswith("07_model_output/recording_dynamics/")]) == 3
    assert len([k for k in got if k.endswith("/report.html")]) == 3
    for name, path in got.items():
        if name.endswith(".parquet"):
            _assert_same_table(pd.read_parquet(path), pd.read_parquet(want[name]), name)
        elif name.endswith(".csv"):
            _assert_same_table(pd.read_csv(path), pd.read_csv(want[name]), name)
        elif name.endswith(".npz"):
            a, b = np.load(path), np.load(want[name])
            assert a.files == b.files
            for key in a.files:
                np.testing.assert_array_equal(a[key], b[key], err_msg=f"{name}: {key}")
        elif name.endswith(".json") and "recording_dynamics" in name:
            a, b = json.loads(path.read_text()), json.loads(want[name].read_text())
            assert a["scores"] == b["scores"] and a["notes"] == b["notes"], name
    # sampled events are reproducible too (seeded per recording and batch, not per process)
    (seq_file,) = (sequential / "07_model_output/recording_spikes").glob("plane1-*.parquet")
    (par_file,) = (project / "data/07_model_output/recording_spikes").glob("plane1-*.parquet")
    seq, par = pd.read_parquet(seq_file), pd.read_parquet(par_file)
    assert sum(len(t) for t in seq["spike_times_s"]) > 0
    for x, y in zip(seq["spike_times_s"], par["spike_times_s"]):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("n_shards", [1, 3])
def test_outputs_do_not_depend_on_the_number_of_shards(n_shards):
    from calcium_dynamics.io.partitions import shard_partitions

    keys = {f"m{i}/plane0": None for i in range(5)} | {"m0/combined": None}
    shards = [shard_partitions(keys, s, n_shards) for s in range(n_shards)]
    assert sorted(k for shard in shards for k in shard) == [f"m{i}/plane0" for i in range(5)]
