"""Readers of a lab's recordings: Suite2p folders, arrays, NWB files."""

import numpy as np
import pandas as pd
import pytest
from kedro.io import DatasetError

from calcium_dynamics.io.recordings import (
    ArrayTraceDataset,
    NWBDataset,
    RecordingError,
    Suite2pDataset,
)
from calcium_dynamics.simulate.suite2p_example import (
    simulate_plane,
    write_example_suite2p,
    write_suite2p_plane,
)


@pytest.fixture
def two_planes(tmp_path):
    folder = tmp_path / "suite2p"
    planes = write_example_suite2p(folder, n_planes=2, n_rois=5, n_noncells=2, n_frames=200)
    (folder / "combined").mkdir()  # Suite2p's merged view: must be skipped
    return folder, planes


def test_multi_plane_folder_keeps_cells_only(two_planes):
    folder, planes = two_planes
    table = Suite2pDataset(str(folder)).load()
    assert list(table["trace_id"]) == [f"plane{p}/cell{c}" for p in (0, 1) for c in range(3)]
    assert table["frame_rate_hz"].eq(15.0).all() and table["is_cell"].all()
    row = table.iloc[4]  # plane1/cell1
    np.testing.assert_allclose(row["F"], planes[1].F[1], rtol=1e-6)
    np.testing.assert_allclose(row["Fneu"], planes[1].Fneu[1], rtol=1e-6)
    assert row["cell_probability"] == pytest.approx(planes[1].iscell[1, 1])


def test_iscell_threshold_and_all_rois(two_planes):
    folder, planes = two_planes
    everything = Suite2pDataset(str(folder), cells_only=False).load()
    assert len(everything) == 10 and everything["is_cell"].sum() == 6
    strict = Suite2pDataset(str(folder), iscell_threshold=0.9).load()
    expected = sum(int((p.iscell[:, 1] >= 0.9).sum()) for p in planes)
    assert len(strict) == expected
    with pytest.raises(RecordingError, match=r"no cells .* iscell_threshold=1\.1"):
        Suite2pDataset(str(folder), iscell_threshold=1.1).load()


def test_curated_labels_are_used_without_threshold(tmp_path):
    plane = simulate_plane(n_rois=4, n_noncells=0, n_frames=50)
    plane.iscell[2, 0] = 0.0  # rejected by hand in the GUI, probability still high
    write_suite2p_plane(tmp_path / "plane0", plane)
    table = Suite2pDataset(str(tmp_path / "plane0"), iscell_threshold=None).load()
    assert list(table["cell"]) == [0, 1, 3]


def test_missing_ops_needs_a_frame_rate(tmp_path):
    write_suite2p_plane(tmp_path / "plane0", simulate_plane(n_rois=2, n_noncells=0, n_frames=40))
    (tmp_path / "plane0" / "ops.npy").unlink()
    with pytest.raises(RecordingError, match=r"ops\.npy not found.*frame_rate_hz: 30\.0"):
        Suite2pDataset(str(tmp_path)).load()
    table = Suite2pDataset(str(tmp_path), frame_rate_hz=7.5).load()
    assert table["frame_rate_hz"].eq(7.5).all()


def test_mismatched_suite2p_files_are_refused(tmp_path):
    folder = tmp_path / "plane0"
    write_suite2p_plane(folder, simulate_plane(n_rois=3, n_noncells=0, n_frames=40))
    np.save(folder / "Fneu.npy", np.ones((3, 39), np.float32))
    with pytest.raises(
        RecordingError, match=r"F\.npy has shape \(3, 40\) but Fneu\.npy .*\(3, 39\)"
    ):
        Suite2pDataset(str(folder)).load()
    np.save(folder / "Fneu.npy", np.ones((3, 40), np.float32))
    np.save(folder / "iscell.npy", np.ones((2, 2)))
    with pytest.raises(RecordingError, match=r"iscell\.npy lists 2 ROIs but F\.npy has 3"):
        Suite2pDataset(str(folder)).load()
    (folder / "F.npy").unlink()
    with pytest.raises(RecordingError, match=r"not a Suite2p output folder"):
        Suite2pDataset(str(folder)).load()


def test_readers_are_read_only(two_planes):
    with pytest.raises(DatasetError, match=r"read-only"):
        Suite2pDataset(str(two_planes[0])).save(pd.DataFrame())


def test_arrays_need_a_frame_rate(tmp_path):
    traces = np.arange(12.0).reshape(3, 4) + 1
    np.save(tmp_path / "f.npy", traces)
    with pytest.raises(RecordingError, match=r"frame_rate_hz is missing.*frame_rate_hz: 30\.0"):
        ArrayTraceDataset(str(tmp_path / "f.npy")).load()
    table = ArrayTraceDataset(str(tmp_path / "f.npy"), frame_rate_hz=10.0).load()
    assert list(table["trace_id"]) == ["cell0", "cell1", "cell2"]
    np.testing.assert_array_equal(np.stack(table["F"]), traces)
    assert table["Fneu"].isna().all() and table["dff"].isna().all()


def test_csv_with_header_transposed_and_dff(tmp_path):
    traces = np.random.default_rng(0).normal(size=(3, 6))
    pd.DataFrame(traces.T, columns=["a", "b", "c"]).to_csv(tmp_path / "t.csv", index=False)
    table = ArrayTraceDataset(
        str(tmp_path / "t.csv"), frame_rate_hz=30, signal="dff", transpose=True
    ).load()
    np.testing.assert_allclose(np.stack(table["dff"]), traces)
    assert table["F"].isna().all()
    np.save(tmp_path / "neu.npy", np.ones((2, 6)))
    with pytest.raises(RecordingError, match=r"neuropil file must match"):
        ArrayTraceDataset(
            str(tmp_path / "t.csv"), 30, neuropil_path=str(tmp_path / "neu.npy"), transpose=True
        ).load()
    (tmp_path / "x.txt").write_text("1,2")
    with pytest.raises(RecordingError, match=r"unsupported file type '\.txt'"):
        ArrayTraceDataset(str(tmp_path / "x.txt"), 30).load()


def _write_nwb(path, f, fneu=None, rate=None, timestamps=None):
    from tests.io.nwb_files import write_nwb

    return write_nwb(
        path, f, fneu, rate=rate, timestamps=timestamps, series_name="Fluorescence", roi_id_offset=0
    )


def test_nwb_fluorescence_with_neuropil(tmp_path):
    rng = np.random.default_rng(0)
    f, fneu = rng.uniform(100, 200, (3, 50)), rng.uniform(10, 20, (3, 50))
    _write_nwb(tmp_path / "r.nwb", f, fneu, rate=12.5)
    table = NWBDataset(str(tmp_path / "r.nwb")).load()
    assert list(table["trace_id"]) == ["plane0/cell0", "plane0/cell1", "plane0/cell2"]
    assert table["frame_rate_hz"].eq(12.5).all()
    np.testing.assert_allclose(np.stack(table["F"]), f)
    np.testing.assert_allclose(np.stack(table["Fneu"]), fneu)
    with pytest.raises(RecordingError, match=r"ophys holds no 'DfOverF'"):
        NWBDataset(str(tmp_path / "r.nwb"), interface="DfOverF").load()


def test_nwb_rate_from_timestamps(tmp_path):
    f = np.random.default_rng(1).uniform(100, 200, (2, 40))
    _write_nwb(tmp_path / "t.nwb", f, timestamps=np.arange(40) / 20.0 + 3.0)
    table = NWBDataset(str(tmp_path / "t.nwb")).load()
    assert table["frame_rate_hz"].iloc[0] == pytest.approx(20.0)
    assert table["Fneu"].isna().all()


def test_h5_arrays_with_neuropil_key(tmp_path):
    h5py = pytest.importorskip("h5py")
    rng = np.random.default_rng(3)
    f, fneu = rng.uniform(100, 200, (4, 30)), rng.uniform(10, 20, (4, 30))
    with h5py.File(tmp_path / "r.h5", "w") as h5:
        h5["traces/F"] = f
        h5["traces/Fneu"] = fneu
    with pytest.raises(RecordingError, match=r"holds 2 datasets .*name the traces with `key:`"):
        ArrayTraceDataset(str(tmp_path / "r.h5"), frame_rate_hz=30).load()
    with pytest.raises(RecordingError, match=r"has no dataset 'F'"):
        ArrayTraceDataset(str(tmp_path / "r.h5"), frame_rate_hz=30, key="F").load()
    table = ArrayTraceDataset(
        str(tmp_path / "r.h5"), frame_rate_hz=30, key="traces/F", neuropil_key="traces/Fneu"
    ).load()
    np.testing.assert_array_equal(np.stack(table["F"]), f)
    np.testing.assert_array_equal(np.stack(table["Fneu"]), fneu)
    assert table["source"].eq(str(tmp_path / "r.h5")).all()


def test_plane_given_by_its_f_file_as_a_partition(two_planes):
    """``PartitionedDataset(filename_suffix="/F.npy")``: one partition per plane."""
    from kedro_datasets.partitions import PartitionedDataset

    folder, planes = two_planes
    np.save(folder / "combined" / "F.npy", np.ones((2, 3)))  # skipped by the pipeline
    parts = PartitionedDataset(
        path=str(folder),
        dataset={"type": "calcium_dynamics.io.recordings.Suite2pDataset"},
        filepath_arg="path",
        filename_suffix="/F.npy",
    ).load()
    assert sorted(parts) == ["combined", "plane0", "plane1"]
    table = parts["plane1"]()
    assert list(table["trace_id"]) == ["plane1/cell0", "plane1/cell1", "plane1/cell2"]
    assert table["source"].eq(str(folder / "plane1")).all()
    np.testing.assert_allclose(table["F"].iloc[2], planes[1].F[2], rtol=1e-6)


def test_optional_partitions_may_be_missing(tmp_path):
    from calcium_dynamics.io.recordings import OptionalPartitionedDataset

    missing = OptionalPartitionedDataset(
        path=str(tmp_path / "nothing"), dataset="pandas.CSVDataset"
    )
    assert missing.load() == {}
    (tmp_path / "t").mkdir()
    pd.DataFrame({"start_time": [1.0], "stop_time": [2.0]}).to_csv(tmp_path / "t" / "a.csv")
    found = OptionalPartitionedDataset(
        path=str(tmp_path / "t"), dataset="pandas.CSVDataset", filename_suffix=".csv"
    ).load()
    assert list(found) == ["a"] and found["a"]()["stop_time"].iloc[0] == 2.0


def test_spike_model_source(tmp_path):
    from calcium_dynamics.io.recordings import SpikeModelSourceDataset
    from calcium_dynamics.models.cascade import CascadeNet
    from calcium_dynamics.models.spike_models import SpikeModel

    config = {"frame_rate_hz": 30.0, "sigma_s": 0.05, "window": 64}
    zoo = SpikeModel("cascade", config, {1.0: [CascadeNet().eval()], 4.0: [CascadeNet().eval()]})
    zoo.save(tmp_path / "cascade_zoo.pt")
    by_path = SpikeModelSourceDataset(str(tmp_path / "cascade_zoo.pt")).load()
    (only,) = by_path.candidates
    assert only.name == "cascade_zoo" and only.model.noise_levels == [1.0, 4.0]
    # no shipped models in this folder: the error says so and lists the choices
    with pytest.raises(DatasetError, match=r"no shipped ens2 model .*spike_model=auto"):
        SpikeModelSourceDataset("ens2", project_path=str(tmp_path)).load()
    with pytest.raises(DatasetError, match=r"give a registered name"):
        SpikeModelSourceDataset("registry:").load()
    with pytest.raises(DatasetError, match=r"read-only"):
        SpikeModelSourceDataset("cascade").save(zoo)
