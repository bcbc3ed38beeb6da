"""The recordings pipeline (Suite2p / arrays → ΔF/F, QC, ENS² rates and events) in a copy."""

import shutil

import numpy as np
import pandas as pd
import pytest
import yaml
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from kedro.runner import SequentialRunner

from calcium_dynamics.models.ens2 import UNet1d
from calcium_dynamics.models.spike_models import SpikeModel
from calcium_dynamics.pipelines.recordings.nodes import QC_COLUMNS
from calcium_dynamics.pipelines.recordings.pipeline import create_pipeline
from calcium_dynamics.simulate.suite2p_example import simulate_plane, write_example_suite2p
from tests.kedro_project import copy_project

TINY_ENS2 = {"frame_rate_hz": 60.0, "sigma_s": 0.025, "window": 96, "base_channels": 2}


def _run(project, monkeypatch, params=None):
    """``kedro run --pipeline recordings`` without the registry: the pipeline on the
    project's own catalog and parameters."""
    monkeypatch.chdir(project)
    bootstrap_project(project)
    with KedroSession.create(project_path=project, runtime_params=params or {}) as session:
        context = session.load_context()
        SequentialRunner().run(create_pipeline(), context.catalog)


@pytest.fixture(scope="module")
def project(project_root, tmp_path_factory):
    proj = copy_project(project_root, tmp_path_factory.mktemp("recordings") / "project")
    SpikeModel("ens2", TINY_ENS2, {float("nan"): [UNet1d(2).eval()]}).save(
        proj / "data/06_models/ens2.pt"
    )
    mp = pytest.MonkeyPatch()
    try:
        _run(proj, mp)
    finally:
        mp.undo()
    return proj


@pytest.fixture(scope="module")
def scratch(project, tmp_path_factory):
    """A second copy for runs that replace the example's outputs."""
    dest = tmp_path_factory.mktemp("recordings_scratch") / "project"
    shutil.copytree(project, dest, ignore=shutil.ignore_patterns("0[378]_*"))
    for layer in ("03_primary", "07_model_output", "08_reporting"):
        (dest / "data" / layer).mkdir()
    return dest


def test_example_folder_is_reproducible(project_root, tmp_path):
    write_example_suite2p(tmp_path)
    for plane in ("plane0", "plane1"):
        for name in ("F.npy", "Fneu.npy", "iscell.npy"):
            shipped = np.load(project_root / "data/01_raw/example_suite2p" / plane / name)
            np.testing.assert_array_equal(np.load(tmp_path / plane / name), shipped)


def test_dff_of_the_example_matches_its_truth(project):
    dff = pd.read_parquet(project / "data/03_primary/recording_dff.parquet")
    assert list(dff.columns[:3]) == ["trace_id", "plane", "cell"]
    assert len(dff) == 12 and dff["frame_rate_hz"].eq(15.0).all()
    for p in (0, 1):
        truth = simulate_plane(seed=p)
        rows = dff[dff["plane"] == p]
        for row in rows.itertuples():
            err = np.asarray(row.dff) - truth.dff[row.cell]
            assert abs(np.median(err)) < 0.03 and np.std(err) < 0.06, row.trace_id


def test_qc_table_and_figure(project):
    qc = pd.read_csv(project / "data/08_reporting/recording_qc.csv")
    assert list(qc.columns) == QC_COLUMNS and len(qc) == 12
    # noise: 3 % of baseline at 15 Hz → ν ≈ 0.954 · 0.03 / √15 · 100 ≈ 0.74 (+ transients)
    assert qc["noise_level_nu"].between(0.6, 1.2).all()
    assert qc["nan_fraction"].eq(0).all() and qc["baseline_median"].between(120, 310).all()
    assert (project / "data/08_reporting/recording_qc.png").stat().st_size > 10_000


def test_spike_rates_and_events(project):
    dff = pd.read_parquet(project / "data/03_primary/recording_dff.parquet")
    spikes = pd.read_parquet(project / "data/07_model_output/recording_spikes.parquet")
    assert list(spikes["trace_id"]) == list(dff["trace_id"])
    assert spikes["model"].eq("ens2").all()
    for row in spikes.itertuples():
        assert len(row.rate_hz) == 1200 and np.nanmin(row.rate_hz) >= 0
        assert np.all((row.spike_times_s >= 0) & (row.spike_times_s <= 80.0))


def test_arrays_from_a_local_catalog(scratch, tmp_path, monkeypatch):
    """The README's recipe: override `recording_fluorescence` in conf/local."""
    traces = simulate_plane(n_rois=3, n_noncells=0, n_frames=600, frame_rate_hz=30.0, seed=7)
    np.save(tmp_path / "dff.npy", traces.dff)
    local = scratch / "conf/local/catalog_recordings.yml"
    entry = {
        "type": "calcium_dynamics.io.recordings.ArrayTraceDataset",
        "path": str(tmp_path / "dff.npy"),
        "signal": "dff",
    }
    local.write_text(yaml.safe_dump({"recording_fluorescence": entry}))
    try:
        with pytest.raises(Exception, match=r"frame_rate_hz is missing.*frame_rate_hz: 30\.0"):
            _run(scratch, monkeypatch)
        entry["frame_rate_hz"] = 30.0
        local.write_text(yaml.safe_dump({"recording_fluorescence": entry}))
        _run(scratch, monkeypatch)
    finally:
        local.unlink()
    dff = pd.read_parquet(scratch / "data/03_primary/recording_dff.parquet")
    np.testing.assert_allclose(np.stack(dff["dff"]), traces.dff, rtol=1e-6, atol=1e-7)
    spikes = pd.read_parquet(scratch / "data/07_model_output/recording_spikes.parquet")
    assert list(spikes["trace_id"]) == ["cell0", "cell1", "cell2"]
    assert all(len(r) == 600 for r in spikes["rate_hz"])


def test_suite2p_folder_from_runtime_params(scratch, tmp_path, monkeypatch):
    """`kedro run --pipeline recordings --params recording_path=/path/to/plane0`."""
    write_example_suite2p(tmp_path / "suite2p", n_planes=1, n_rois=3, n_noncells=1, n_frames=300)
    _run(scratch, monkeypatch, params={"recording_path": str(tmp_path / "suite2p" / "plane0")})
    qc = pd.read_csv(scratch / "data/08_reporting/recording_qc.csv")
    assert list(qc["trace_id"]) == ["plane0/cell0", "plane0/cell1"]
    assert qc["n_frames"].eq(300).all()
