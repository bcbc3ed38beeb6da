"""`kedro run --pipeline recordings` in a copy of the project: Suite2p folders (the shipped
two-plane example), NWB files with trials, HDF5 arrays, and bad inputs.

Only the Gaussian GPFA runs as latent model here (``FAST_DYNAMICS``), except in the test of
the shipped models, which runs every latent model with short fits; their accuracy on the
example is tested in ``tests/recordings/test_dynamics_example.py``.

No model is trained here: a CASCADE zoo and an ENS² network with random weights, saved with
the project's own ``SpikeModel.save``, stand in for trained ones (the outputs' structure,
routing and bookkeeping are what is tested; accuracy is the benchmarks' business)."""

import hashlib
import re
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml

from calcium_dynamics.io.latent_lfads import NpzDataset
from calcium_dynamics.io.nwb_output import NWBRatesDataset
from calcium_dynamics.models.cascade import CascadeNet
from calcium_dynamics.models.ens2 import UNet1d
from calcium_dynamics.models.spike_models import SpikeModel
from calcium_dynamics.models.spikes.ship import ship
from calcium_dynamics.recordings import QC_COLUMNS
from calcium_dynamics.registry.shipped import SHIPPED_DIR, read_index
from calcium_dynamics.signal import noise_level_nu, resample_trace
from calcium_dynamics.simulate.suite2p_example import (
    EXAMPLE,
    simulate_plane,
    simulate_trials_example,
    write_suite2p_plane,
    write_trials_example,
)
from tests.kedro_project import copy_project
from tests.kedro_project import run_pipeline as _run_pipeline

#: runtime parameters of every run here: the latent models cut to the Gaussian GPFA
FAST_DYNAMICS = {"recordings": {"dynamics": {"models": ["gpfa_gaussian"]}}}
N_CELLS = EXAMPLE["n_rois"] - EXAMPLE["n_noncells"]

TINY_ENS2 = {"frame_rate_hz": 60.0, "sigma_s": 0.025, "window": 96, "base_channels": 2}
ZOO = {"frame_rate_hz": 30.0, "sigma_s": 0.05, "window": 64}
ZOO_LEVELS = [0.5, 3.0]
#: floor on the median Corr of the shipped zoos' rates with the example's true spikes (0.874
#: measured with cascade-15hz-excitatory v1.0.0, 0.880 with v1.1.0, 12 cells)
MIN_SHIPPED_CORR = 0.8
TINY_ZOO_NAME = "cascade-30hz-excitatory"
TINY_ENS2_NAME = "ens2-60hz-excitatory"
OUTPUT_LAYERS = ("03_primary", "05_model_input", "07_model_output", "08_reporting")


def run_pipeline(project, name, params=None, **kwargs):
    """``kedro run`` with ``FAST_DYNAMICS`` under the given runtime parameters."""
    return _run_pipeline(project, name, params={**FAST_DYNAMICS, **(params or {})}, **kwargs)


@pytest.fixture(scope="module")
def truth():
    return simulate_trials_example()


def save_tiny_models(models_dir, rate_bias: float | None = None):
    """Untrained but valid models: a two-level CASCADE zoo and a 2-channel ENS².

    ``rate_bias`` (spikes per model frame) sets the zoo's output bias: a high constant rate
    makes events be sampled (an untrained zoo predicts almost none)."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    zoo = {lv: [CascadeNet().eval()] for lv in ZOO_LEVELS}
    if rate_bias is not None:
        for members in zoo.values():
            with torch.no_grad():
                members[0].out.bias.fill_(rate_bias)
    cascade = SpikeModel("cascade", ZOO, zoo)
    ens2 = SpikeModel("ens2", TINY_ENS2, {float("nan"): [UNet1d(2).eval()]})
    cascade.save(models_dir / "cascade_zoo.pt")
    ens2.save(models_dir / "ens2.pt")
    # the same, as the project's shipped models (what `spike_model: auto` / `ens2` load)
    root = models_dir.parent.parent
    shutil.rmtree(root / SHIPPED_DIR, ignore_errors=True)  # only the tiny ones
    cascade.save(root / SHIPPED_DIR / f"{TINY_ZOO_NAME}.pt")
    ens2.save(root / SHIPPED_DIR / f"{TINY_ENS2_NAME}.pt")
    ship(TINY_ZOO_NAME, root=root)
    ship(TINY_ENS2_NAME, root=root)


def fresh_outputs(project):
    for layer in OUTPUT_LAYERS:
        shutil.rmtree(project / "data" / layer, ignore_errors=True)
        (project / "data" / layer).mkdir()


def out(folder, name, suffix=".parquet"):
    """The one output file of recording ``name`` in ``folder`` (outputs are named by a stable
    id: the name and a short hash of the input's absolute path, ``plane0-1a2b3c4d.parquet``)."""
    from pathlib import Path

    found = sorted(Path(folder).glob(f"{name}-*{suffix}"))
    assert len(found) == 1 and re.fullmatch(rf"{name}-[0-9a-f]{{8}}{suffix}", found[0].name), found
    return found[0]


def rel(ids):
    """Recording names without the hash suffix."""
    return [str(i).rsplit("-", 1)[0] for i in ids]


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def project(project_root, tmp_path_factory):
    proj = copy_project(project_root, tmp_path_factory.mktemp("recordings") / "project")
    save_tiny_models(proj / "data/06_models")
    mp = pytest.MonkeyPatch()
    try:
        run_pipeline(proj, "recordings", monkeypatch=mp)
    finally:
        mp.undo()
    return proj


@pytest.fixture(scope="module")
def scratch(project, tmp_path_factory):
    """A second copy for runs on other inputs."""
    dest = tmp_path_factory.mktemp("recordings_scratch") / "project"
    shutil.copytree(project, dest, ignore=shutil.ignore_patterns("0[3578]_*"))
    fresh_outputs(dest)
    return dest


def test_example_folder_is_reproducible(project_root, tmp_path):
    write_trials_example(tmp_path / "suite2p", tmp_path / "trials")
    for plane in ("plane0", "plane1"):
        for name in ("F.npy", "Fneu.npy", "iscell.npy"):
            shipped = np.load(project_root / "data/01_raw/example_suite2p" / plane / name)
            np.testing.assert_array_equal(np.load(tmp_path / "suite2p" / plane / name), shipped)
        shipped = pd.read_csv(project_root / f"data/01_raw/example_suite2p_trials/{plane}.csv")
        pd.testing.assert_frame_equal(pd.read_csv(tmp_path / f"trials/{plane}.csv"), shipped)


def test_dff_of_each_plane_matches_its_truth(project, truth):
    for p in (0, 1):
        dff = pd.read_parquet(out(project / "data/03_primary/recording_dff", f"plane{p}"))
        assert list(dff["trace_id"]) == [f"plane{p}/cell{c}" for c in range(N_CELLS)]
        assert dff["frame_rate_hz"].eq(15.0).all() and dff["plane"].eq(p).all()
        for row in dff.itertuples():
            err = np.asarray(row.dff) - truth.planes[p].dff[row.cell]
            assert abs(np.median(err)) < 0.03 and np.std(err) < 0.06, row.trace_id


def test_qc_table_and_figure(project):
    qc = pd.read_csv(project / "data/08_reporting/recording_qc.csv")
    assert list(qc.columns) == ["recording", *QC_COLUMNS] and len(qc) == 2 * N_CELLS
    assert rel(qc["recording"].unique()) == ["plane0", "plane1"]
    # noise: 3 % of baseline at 15 Hz → ν ≈ 0.954 · 0.03 / √15 · 100 ≈ 0.74 (+ transients)
    assert qc["noise_level_nu"].between(0.6, 1.2).all()
    assert qc["nan_fraction"].eq(0).all() and qc["baseline_median"].between(120, 310).all()
    assert (project / "data/08_reporting/recording_qc.png").stat().st_size > 10_000


def test_spikes_routed_by_noise_level(project, truth):
    for p in (0, 1):
        dff = pd.read_parquet(out(project / "data/03_primary/recording_dff", f"plane{p}"))
        spikes = pd.read_parquet(
            out(project / "data/07_model_output/recording_spikes", f"plane{p}")
        )
        assert list(spikes["trace_id"]) == list(dff["trace_id"])
        assert (
            spikes["model"].eq(TINY_ZOO_NAME).all() and spikes["model_frame_rate_hz"].eq(30).all()
        )
        assert spikes["model_version"].eq("v1.0.0").all()
        # the example is at 15 Hz, half the zoo's rate: named in every row
        assert spikes["warnings"].eq("frame_rate_far").all()
        # ν at the zoo's 30 Hz, after resampling the 15 Hz traces (where its levels live)
        at_model_rate = [
            noise_level_nu(*resample_trace(np.asarray(d, float), 15.0, 30.0)) for d in dff["dff"]
        ]
        np.testing.assert_allclose(spikes["noise_level_nu"], at_model_rate, rtol=1e-5)
        assert not np.allclose(spikes["noise_level_nu"], dff["noise_level_nu"], rtol=0.1)
        for row in spikes.itertuples():
            nearest = min(ZOO_LEVELS, key=lambda lv: abs(lv - row.noise_level_nu))
            assert row.model_noise_level == nearest
            assert len(row.rate_hz) == truth.session.n_frames and np.nanmin(row.rate_hz) >= 0
            assert np.all((row.spike_times_s >= 0) & (row.spike_times_s <= 243.3))
    # Suite2p input: no NWB copy; the shipped trials tables (sixty 3 s trials, 15 Hz) are cut
    assert not list((project / "data/07_model_output").glob("recording_nwb/*"))
    for plane in ("plane0", "plane1"):
        trials = np.load(out(project / "data/05_model_input/recording_trials", plane, ".npz"))
        assert trials["dff"].shape == (60, 45, N_CELLS) and trials["rate_hz"].shape[:2] == (60, 45)
        np.testing.assert_array_equal(trials["trial_stimulus"], truth.session.trials["stimulus"])


def test_nmf_of_each_recording(project):
    comps = pd.read_parquet(project / "data/07_model_output/recording_nmf_components.parquet")
    curves = pd.read_csv(project / "data/08_reporting/recording_nmf_curves.csv")
    assign = pd.read_csv(project / "data/08_reporting/recording_nmf_assignments.csv")
    assert rel(sorted(comps["recording"].unique())) == ["plane0", "plane1"]
    for rec_id in sorted(comps["recording"].unique()):
        rec = rec_id.rsplit("-", 1)[0]
        c = comps[comps["recording"] == rec_id]
        k = int(c["n_components"].iloc[0])
        assert len(c) == k and all(len(w) == N_CELLS for w in c["weights"])
        assert all(len(t) == 3649 for t in c["time_course"])
        cv = curves[curves["recording"] == rec_id]
        assert (
            cv["selected"].sum() == 1 and int(cv.loc[cv["selected"], "n_components"].iloc[0]) == k
        )
        # AIC selection: k is where AIC first increases (or the largest k tried)
        aic = cv.sort_values("n_components")["aic"].to_numpy()
        rises = np.flatnonzero(np.diff(aic) > 0)
        assert k == (rises[0] + 1 if rises.size else len(aic))
        a = assign[assign["recording"] == rec_id]
        assert sorted(a["neuron"]) == sorted(f"{rec}/cell{i}" for i in range(N_CELLS))
        assert (project / f"data/08_reporting/recording_nmf/{rec_id}.png").stat().st_size > 5_000


def _nwb_catalog(folder):
    return {
        "recording_inputs": {
            "type": "partitions.PartitionedDataset",
            "path": str(folder),
            "filename_suffix": ".nwb",
            "filepath_arg": "path",
            "dataset": {"type": "calcium_dynamics.io.recordings.NWBDataset"},
        },
        "recording_trials_table": {
            "type": "calcium_dynamics.io.recordings.OptionalPartitionedDataset",
            "path": str(folder),
            "filename_suffix": ".nwb",
            "filepath_arg": "path",
            "dataset": {"type": "calcium_dynamics.io.recordings.NWBTrialsDataset"},
        },
    }


def test_nwb_files_with_trials(scratch, tmp_path, monkeypatch):
    from tests.io.nwb_files import write_nwb

    folder = tmp_path / "nwb"
    folder.mkdir()
    a = simulate_plane(n_rois=4, n_noncells=0, n_frames=1200, frame_rate_hz=20.0, seed=3)
    b = simulate_plane(n_rois=3, n_noncells=0, n_frames=600, frame_rate_hz=20.0, seed=4)
    trials = [(5.0, 8.0, 1), (20.0, 23.5, 2), (58.0, 62.0, 3)]  # the last ends after the data
    write_nwb(folder / "mouse_a.nwb", a.F, a.Fneu, rate=20.0, trials=trials)
    write_nwb(folder / "mouse_b.nwb", b.F, b.Fneu, rate=20.0)  # no trials table
    before = {p.name: _sha(p) for p in folder.iterdir()}
    local = scratch / "conf/local/catalog_recordings.yml"
    local.write_text(yaml.safe_dump(_nwb_catalog(folder)))
    try:
        run_pipeline(scratch, "recordings", monkeypatch=monkeypatch)
    finally:
        local.unlink()
    assert {p.name: _sha(p) for p in folder.iterdir()} == before  # originals untouched
    out_dir = scratch / "data/07_model_output"
    for name, sim in (("mouse_a", a), ("mouse_b", b)):
        spikes = pd.read_parquet(out(out_dir / "recording_spikes", name))
        assert list(spikes["cell"]) == [10 + i for i in range(sim.F.shape[0])]
        copy = NWBRatesDataset(str(out(out_dir / "recording_nwb", name, ".nwb"))).load()
        np.testing.assert_array_equal(copy["rate_hz"], np.stack(spikes["rate_hz"]))
        assert list(copy["roi_ids"]) == list(spikes["cell"]) and copy["frame_rate_hz"] == 20.0
        dff = pd.read_parquet(out(scratch / "data/03_primary/recording_dff", name))
        for row in dff.itertuples():
            err = np.asarray(row.dff) - sim.dff[row.cell - 10]
            assert abs(np.median(err)) < 0.05, row.trace_id
    # trials: mouse_a only; windows of the shortest trial (3 s = 60 frames); trial 2 dropped
    trial_files = sorted((scratch / "data/05_model_input/recording_trials").glob("*.npz"))
    assert rel(p.stem for p in trial_files) == ["mouse_a"]
    cut = NpzDataset(str(trial_files[0])).load()
    assert cut["dff"].shape == (2, 60, 4) and cut["rate_hz"].shape == (2, 60, 4)
    assert list(cut["trial_index"]) == [0, 1] and list(cut["dropped_trials"]) == [2]
    assert list(cut["trial_condition"]) == [1, 2] and float(cut["frame_rate_hz"]) == 20.0
    dff = pd.read_parquet(out(scratch / "data/03_primary/recording_dff", "mouse_a"))
    spikes = pd.read_parquet(out(out_dir / "recording_spikes", "mouse_a"))
    np.testing.assert_array_equal(cut["dff"][1, :, 2], np.asarray(dff["dff"].iloc[2])[400:460])
    np.testing.assert_array_equal(
        cut["rate_hz"][0, :, 3], np.asarray(spikes["rate_hz"].iloc[3])[100:160]
    )
    np.testing.assert_allclose(cut["time_s"], np.arange(60) / 20.0)
    # two trials are too few for the latent models: skipped, the reason written for the report
    import json

    tables = json.loads(
        out(scratch / "data/08_reporting/recording_dynamics", "mouse_a", ".json").read_text()
    )
    assert "2 usable trial(s) give" in tables["skipped"] and "min_train_trials" in tables["skipped"]
    assert (
        "time_series"
        not in NWBRatesDataset(str(out(out_dir / "recording_nwb", "mouse_a", ".nwb"))).load()
        or not NWBRatesDataset(str(out(out_dir / "recording_nwb", "mouse_a", ".nwb"))).load()[
            "time_series"
        ]
    )


def test_nwb_copy_holds_the_latents_and_hmm_states(scratch, tmp_path, monkeypatch):
    """An NWB file with twelve trials: the copy's processing module gets every model's latents
    and the HMM states as time series in session time, equal to the dynamics outputs."""
    from tests.io.nwb_files import write_nwb

    folder = tmp_path / "nwb12"
    folder.mkdir()
    sim = simulate_plane(n_rois=8, n_noncells=0, n_frames=1200, frame_rate_hz=20.0, seed=9)
    trials = [(2.0 + 4.5 * k, 4.0 + 4.5 * k, k % 2) for k in range(12)]
    write_nwb(folder / "mouse_c.nwb", sim.F, sim.Fneu, rate=20.0, trials=trials)
    local = scratch / "conf/local/catalog_recordings.yml"
    local.write_text(yaml.safe_dump(_nwb_catalog(folder)))
    params = {
        "recordings": {
            "dynamics": {
                "models": ["gpfa_gaussian", "hmm_calcium"],
                "condition_columns": ["condition"],
                "hmm": {"n_states": [2], "n_iter": 3},
            }
        }
    }
    try:
        _run_pipeline(scratch, "recordings", params=params, monkeypatch=monkeypatch)
    finally:
        local.unlink()
    out_dir = scratch / "data/07_model_output"
    copy = NWBRatesDataset(str(out(out_dir / "recording_nwb", "mouse_c", ".nwb"))).load()
    arrays = NpzDataset(str(out(out_dir / "recording_dynamics", "mouse_c", ".npz"))).load()
    series = copy["time_series"]
    assert set(series) == {"gpfa_gaussian_latents", "hmm_calcium_states"}
    latents = series["gpfa_gaussian_latents"]
    np.testing.assert_array_equal(
        latents["data"], arrays["gpfa_gaussian_latents"].reshape(12 * 40, 3)
    )
    expected = (np.array([t[0] for t in trials])[:, None] + np.arange(40) / 20.0).ravel()
    np.testing.assert_allclose(latents["timestamps_s"], expected)
    states = series["hmm_calcium_states"]["data"]
    assert states.dtype.kind == "i" and states.shape == (480,)
    np.testing.assert_array_equal(states, arrays["hmm_calcium_states"].ravel())
    np.testing.assert_array_equal(copy["rate_hz"].shape, (8, 1200))


def test_h5_arrays_and_ens2_from_runtime_params(scratch, tmp_path, monkeypatch):
    """The README's recipe for arrays; `--params spike_model=ens2`."""
    h5py = pytest.importorskip("h5py")
    plane = simulate_plane(n_rois=3, n_noncells=0, n_frames=600, frame_rate_hz=30.0, seed=7)
    (tmp_path / "arrays").mkdir()
    with h5py.File(tmp_path / "arrays/session1.h5", "w") as h5:
        h5["F"], h5["Fneu"] = plane.F, plane.Fneu
    dataset = {
        "type": "calcium_dynamics.io.recordings.ArrayTraceDataset",
        "key": "F",
        "neuropil_key": "Fneu",
    }
    entry = {
        "type": "partitions.PartitionedDataset",
        "path": str(tmp_path / "arrays"),
        "filename_suffix": ".h5",
        "filepath_arg": "path",
        "dataset": dataset,
    }
    local = scratch / "conf/local/catalog_recordings.yml"
    fresh_outputs(scratch)
    try:
        local.write_text(yaml.safe_dump({"recording_inputs": entry}))
        with pytest.raises(Exception, match=r"frame_rate_hz is missing.*frame_rate_hz: 30\.0"):
            run_pipeline(scratch, "recordings", monkeypatch=monkeypatch)
        dataset["frame_rate_hz"] = 30.0
        local.write_text(yaml.safe_dump({"recording_inputs": entry}))
        run_pipeline(scratch, "recordings", params={"spike_model": "ens2"}, monkeypatch=monkeypatch)
    finally:
        local.unlink()
    spikes = pd.read_parquet(out(scratch / "data/07_model_output/recording_spikes", "session1"))
    assert list(spikes["trace_id"]) == ["cell0", "cell1", "cell2"]
    assert spikes["model"].eq(TINY_ENS2_NAME).all() and spikes["model_noise_level"].isna().all()
    assert spikes["model_frame_rate_hz"].eq(60.0).all()
    assert all(len(r) == 600 for r in spikes["rate_hz"])


def test_bad_inputs_stop_the_run_with_clear_errors(scratch, tmp_path, monkeypatch):
    from tests.io.nwb_files import write_nwb

    suite2p = tmp_path / "suite2p"
    plane = simulate_plane(n_rois=3, n_noncells=0, n_frames=300, seed=5)
    plane.F[1] = 0.0  # an all-zero cell
    write_suite2p_plane(suite2p / "plane0", plane)
    with pytest.raises(
        Exception,
        match=r"ΔF/F of recording \S*suite2p/plane0 \(partition plane0\) failed: .*F of trace "
        r"'plane0/cell1' is zero in every frame",
    ):
        run_pipeline(
            scratch, "recordings", params={"recording_path": str(suite2p)}, monkeypatch=monkeypatch
        )
    plane.F[1] = 100.0
    write_suite2p_plane(suite2p / "plane0", plane)
    np.save(suite2p / "plane0/Fneu.npy", plane.Fneu[:, :299])
    with pytest.raises(Exception, match=r"F\.npy has shape \(3, 300\) but Fneu\.npy .*\(3, 299\)"):
        run_pipeline(
            scratch, "recordings", params={"recording_path": str(suite2p)}, monkeypatch=monkeypatch
        )
    (suite2p / "plane0/ops.npy").unlink()
    np.save(suite2p / "plane0/Fneu.npy", plane.Fneu)
    with pytest.raises(Exception, match=r"ops\.npy not found.*frame_rate_hz: 30\.0"):
        run_pipeline(
            scratch, "recordings", params={"recording_path": str(suite2p)}, monkeypatch=monkeypatch
        )
    folder = tmp_path / "nwb"
    folder.mkdir()
    write_nwb(folder / "behaviour.nwb", plane.F, ophys=False)
    local = scratch / "conf/local/catalog_recordings.yml"
    local.write_text(yaml.safe_dump(_nwb_catalog(folder)))
    try:
        with pytest.raises(Exception, match=r"behaviour\.nwb has no 'ophys' processing module"):
            run_pipeline(scratch, "recordings", monkeypatch=monkeypatch)
    finally:
        local.unlink()
    with pytest.raises(Exception, match=r"spike model file .*nothing\.pt not found"):
        run_pipeline(
            scratch,
            "recordings",
            params={"spike_model": str(tmp_path / "nothing.pt")},
            monkeypatch=monkeypatch,
        )


def test_cut_trials_window_and_alignment():
    from calcium_dynamics.recordings import cut_trials

    rate, t0 = 10.0, 100.0  # frame i at 100 + i/10 s (NWB session time)
    frames = np.arange(300, dtype=np.float32)
    dff = pd.DataFrame(
        {
            "trace_id": ["a", "b"],
            "frame_rate_hz": rate,
            "dff": [frames, -frames],
            "start_time_s": t0,
        }
    )
    spikes = dff.rename(columns={"dff": "rate_hz"}).assign(rate_hz=[frames * 2, frames * 3])
    trials = pd.DataFrame(
        {
            "start_time": [101.0, 110.0, 99.0],
            "stop_time": [103.0, 115.0, 100.0],
            "go": [105.0, 112.0, 99.5],
        }
    )
    cut = cut_trials(dff, spikes, trials, {"align": "go", "before_s": 0.5, "after_s": 1.0})
    # go = 105 s → frames 45 … 59; go = 112 s → 115 … 129; go = 99.5 s is before frame 0
    assert cut["dff"].shape == (2, 15, 2) and list(cut["dropped_trials"]) == [2]
    np.testing.assert_array_equal(cut["dff"][0, :, 0], np.arange(45, 60))
    np.testing.assert_array_equal(cut["dff"][1, :, 1], -np.arange(115, 130))
    np.testing.assert_array_equal(cut["rate_hz"][1, :, 0], 2 * np.arange(115, 130))
    np.testing.assert_allclose(cut["time_s"], np.arange(15) / 10 - 0.5)
    np.testing.assert_array_equal(cut["trial_go"], [105.0, 112.0])
    with pytest.raises(ValueError, match=r"no 'cue' column"):
        cut_trials(dff, spikes, trials, {"align": "cue"})


def test_single_cell_and_implausible_recordings(scratch, tmp_path, monkeypatch):
    """One cell: the run goes through with NMF skipped (and the empty tables written). A frame
    rate of 0.01 Hz or a 5-frame recording: refused before any work, naming the recording."""
    one = tmp_path / "one_cell"
    write_suite2p_plane(one / "plane0", simulate_plane(n_rois=1, n_noncells=0, n_frames=300))
    fresh_outputs(scratch)
    run_pipeline(
        scratch, "recordings", params={"recording_path": str(one)}, monkeypatch=monkeypatch
    )
    spikes = pd.read_parquet(out(scratch / "data/07_model_output/recording_spikes", "plane0"))
    assert len(spikes) == 1 and len(spikes["rate_hz"].iloc[0]) == 300
    comps = pd.read_parquet(scratch / "data/07_model_output/recording_nmf_components.parquet")
    assert len(comps) == 0
    slow = tmp_path / "slow"
    write_suite2p_plane(
        slow / "plane0", simulate_plane(n_rois=3, n_noncells=0, n_frames=50, frame_rate_hz=0.01)
    )
    with pytest.raises(
        Exception,
        match=r"slow/plane0: frame rate 0\.01 Hz is outside the "
        r"accepted 0\.5–1000 Hz",
    ):
        run_pipeline(
            scratch, "recordings", params={"recording_path": str(slow)}, monkeypatch=monkeypatch
        )
    short = tmp_path / "short"
    write_suite2p_plane(short / "plane0", simulate_plane(n_rois=3, n_noncells=0, n_frames=5))
    with pytest.raises(Exception, match=r"short/plane0: 3 trace\(s\) have fewer than 10 frames"):
        run_pipeline(
            scratch, "recordings", params={"recording_path": str(short)}, monkeypatch=monkeypatch
        )


#: every latent model, with short fits (their accuracy: tests/recordings/test_dynamics_example.py)
SHORT_DYNAMICS = {
    "recordings": {
        "dynamics": {
            "models": ["gpfa_gaussian", "gpfa_calcium", "hmm_calcium", "calcium_lfads"],
            "gpfa": {"calcium": {"n_iter": 40}},
            "hmm": {"n_states": [2, 3], "n_iter": 4},
            "lfads": {"trainer": {"max_epochs": 4}},
        }
    }
}


def test_shipped_models_on_the_shipped_example(project_root, tmp_path_factory, truth):
    """A fresh copy, no training: `kedro run --pipeline recordings` uses the shipped zoos
    (auto routing) and recovers the example's simulated spikes; every latent model runs on
    the trials, the Suite2p copies get the rates, and each recording's report renders in
    headless Chromium."""
    from calcium_dynamics.metrics.spikes import correlation
    from calcium_dynamics.signal import rebin_spike_times, smooth_spike_counts

    proj = copy_project(project_root, tmp_path_factory.mktemp("shipped") / "project")
    inputs = proj / "data/01_raw/example_suite2p"
    before = {p: _sha(p) for p in inputs.rglob("*") if p.is_file()}
    mp = pytest.MonkeyPatch()
    try:
        _run_pipeline(proj, "recordings", params=SHORT_DYNAMICS, monkeypatch=mp)
    finally:
        mp.undo()
    assert {p: _sha(p) for p in inputs.rglob("*") if p.is_file()} == before
    corrs = []
    for p in (0, 1):
        spikes = pd.read_parquet(out(proj / "data/07_model_output/recording_spikes", f"plane{p}"))
        assert spikes["model"].eq("cascade-15hz-excitatory").all()  # the example is at 15 Hz
        assert spikes["warnings"].eq("").all()
        shipped_version = read_index(project_root)["cascade-15hz-excitatory"]["version"]
        assert spikes["model_version"].eq(shipped_version).all()
        plane = truth.planes[p]
        for row in spikes.itertuples():
            counts = rebin_spike_times(plane.spike_times_s[row.cell], truth.session.n_frames, 15.0)
            target = smooth_spike_counts(counts, 15.0, row.sigma_s) * 15.0
            corrs.append(correlation(target, np.asarray(row.rate_hz)))
        _check_dynamics_outputs(proj, f"plane{p}")
        _check_suite2p_copy(proj, f"plane{p}", spikes)
    print("median Corr of the shipped zoo on the example:", round(float(np.median(corrs)), 3))
    assert np.median(corrs) > MIN_SHIPPED_CORR, corrs
    _check_reports_in_chromium(proj, tmp_path_factory.mktemp("report_browser"))


def _check_dynamics_outputs(proj, plane):
    import json

    arrays = NpzDataset(str(out(proj / "data/07_model_output/recording_dynamics", plane, ".npz")))
    arrays = arrays.load()
    n_trials, n_bins = 60, 45
    assert arrays["gpfa_gaussian_latents"].shape == (n_trials, n_bins, 3)
    assert arrays["gpfa_calcium_latents"].shape == (n_trials, n_bins, 3)
    assert arrays["gpfa_calcium_rate_hz"].shape == (n_trials, n_bins, N_CELLS)
    states = arrays["hmm_calcium_states"]
    assert states.shape == (n_trials, n_bins) and states.dtype.kind == "i"
    assert set(np.unique(states)) <= {0, 1, 2}
    assert arrays["calcium_lfads_factors"].shape[:2] == (n_trials, n_bins)
    assert np.isfinite(arrays["calcium_lfads_rate_hz"]).all()
    # test trials: every 4th of each condition from its 3rd (7 + 7 of 60); 7 of 28 neurons held out
    assert arrays["test_trial"].sum() == 14 and arrays["heldout_neuron"].sum() == 7
    assert arrays["gpfa_gaussian_condition_mean"].shape == (2, n_bins, 3)
    tables = json.loads(
        out(proj / "data/08_reporting/recording_dynamics", plane, ".json").read_text()
    )
    scores = pd.DataFrame(tables["scores"])
    assert scores.groupby("model").size().to_dict() == {
        m: 7
        for m in ("mean", "psth", "gpfa_gaussian", "gpfa_calcium", "hmm_calcium", "calcium_lfads")
    }
    assert np.allclose(scores.loc[scores["model"] == "mean", "ll_gain_per_bin"], 0.0)
    assert pd.DataFrame(tables["hmm_curve"])["selected"].sum() == 1
    timings = pd.DataFrame(tables["timings"])
    assert (
        len(timings) == 8 and (timings["wall_s"] > 0).all() and (timings["peak_rss_mb"] > 0).all()
    )
    assert any("RADICaL" in text for _, text in tables["notes"])


def _check_suite2p_copy(proj, plane, spikes):
    from calcium_dynamics.io.suite2p_output import Suite2pSpikesDataset

    folder = out(proj / "data/07_model_output/recording_suite2p", plane, "")
    copy = Suite2pSpikesDataset(str(folder)).load()
    F = np.load(folder / "F.npy")
    assert copy["spks"].shape == F.shape == (EXAMPLE["n_rois"], 3649)
    np.testing.assert_array_equal(copy["roi_index"], spikes["cell"])
    np.testing.assert_array_equal(copy["rate_hz"], np.stack(spikes["rate_hz"]))
    assert not copy["spks"][N_CELLS:].any()  # the two non-cells: not inferred
    assert copy["sidecar"]["unit"] == "Hz"


def _check_reports_in_chromium(proj, tmp):
    from tests.chromium import CHROMIUM, dump_dom, screenshot

    reports = sorted((proj / "data/08_reporting/recordings").glob("*/report.html"))
    assert rel(p.parent.name for p in reports) == ["plane0", "plane1"]
    text = reports[0].read_text()
    assert "http://" not in text and "https://" not in text and "<script" not in text
    if CHROMIUM is None:
        pytest.skip("chromium is not installed: the reports were checked as text only")
    dom = dump_dom(reports[0], tmp / "profile")
    for heading in (
        "Quality control",
        "Spike inference",
        "NMF ensembles",
        "Latent dynamics",
        "HMM states",
        "Held-out comparison",
        "Provenance",
    ):
        assert f">{heading}<" in dom, heading
    assert dom.count("<img") == text.count("<img") == 7  # QC ×2, raster, NMF, latents, HMM, scores
    shot = tmp / "report.png"
    screenshot(reports[0], shot, tmp / "profile2")
    image = plt_imread(shot)
    assert image.shape[1] == 1400 and image.std() > 0.05
    print("report screenshot:", shot)


def plt_imread(path):
    import matplotlib.image

    return matplotlib.image.imread(str(path))
