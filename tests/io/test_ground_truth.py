import logging

import numpy as np
import pandas as pd
import pytest

from calcium_dynamics.io import GroundTruthDataset, GroundTruthError
from calcium_dynamics.io.dataset_names import parse_dataset_name

from .mat_files import recording, write_neuron

DS = "DS09-GCaMP6f-m-V1"


def load(root, on_invalid="skip"):
    return GroundTruthDataset(str(root), on_invalid=on_invalid).load()


def test_reads_recordings_with_units_and_metadata(tmp_path):
    write_neuron(tmp_path / DS / "cell1_mini.mat", [recording(rate=30.0), recording(rate=29.0)])
    df = load(tmp_path)
    assert list(df["recording"]) == [0, 1]
    row = df.iloc[0]
    assert row["dataset"] == DS and row["neuron"] == "cell1"
    assert row["frame_rate_hz"] == pytest.approx(30.0)
    assert df.iloc[1]["frame_rate_hz"] == pytest.approx(29.0)
    assert row["dff"].dtype == np.float32 and row["dff"].shape == (600,)
    np.testing.assert_allclose(row["spike_times_s"], [1.0, 2.5, 2.6, 10.0])
    assert row["t0_s"] == pytest.approx(0.2)
    assert (row["indicator"], row["species"], row["region"]) == ("GCaMP6f", "mouse", "V1")
    assert not row["inhibitory"] and row["valid"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("DS02-OGB1-2-m-V1", ("OGB1-2", "mouse", "V1", "excitatory", False)),
        ("DS04-OGB1-zf-pDp", ("OGB1", "zebrafish", "pDp", "excitatory", False)),
        ("DS22-OGB1-m-SST-V1", ("OGB1", "mouse", "V1", "SST", True)),
        ("DS27-GCaMP6f-m-PV-vivo-V1", ("GCaMP6f", "mouse", "V1", "PV", True)),
        ("DS10-GCaMP6f-m-V1-neuropil-corrected", ("GCaMP6f", "mouse", "V1", "excitatory", False)),
    ],
)
def test_dataset_names(name, expected):
    info = parse_dataset_name(name)
    assert (info.indicator, info.species, info.region, info.cell_type, info.inhibitory) == expected


def test_unparseable_folder_name_is_named(tmp_path):
    write_neuron(tmp_path / "DS01-nothing" / "c_mini.mat", [recording()])
    with pytest.raises(GroundTruthError, match="DS01-nothing"):
        load(tmp_path)


def test_spikes_outside_the_imaging_window_are_dropped(tmp_path):
    write_neuron(tmp_path / DS / "c_mini.mat", [recording(n_frames=300, spikes_s=(1.0, 50.0))])
    row = load(tmp_path).iloc[0]
    np.testing.assert_allclose(row["spike_times_s"], [1.0])
    assert "outside the imaging window" in row["issue"]


def test_nans_inside_a_trace_are_kept(tmp_path):
    dff = np.zeros(300)
    dff[100:110] = np.nan
    write_neuron(tmp_path / DS / "c_mini.mat", [recording(n_frames=300, dff=dff)])
    row = load(tmp_path).iloc[0]
    assert np.isnan(row["dff"][100:110]).all() and np.isfinite(row["dff"][:100]).all()


def test_edge_frames_without_time_stamps_are_trimmed(tmp_path):
    t = 0.2 + np.arange(300) / 30.0
    t[:20] = np.nan
    dff = np.zeros(300)
    dff[:20] = np.nan
    write_neuron(tmp_path / DS / "c_mini.mat", [recording(t=t, dff=dff)])
    row = load(tmp_path).iloc[0]
    assert row["dff"].shape == (280,) and row["t0_s"] == pytest.approx(t[20])


def test_a_repeated_final_time_stamp_is_trimmed(tmp_path):
    t = np.arange(300) / 30.0
    t[-1] = t[-2]
    write_neuron(tmp_path / DS / "c_mini.mat", [recording(t=t)])
    row = load(tmp_path).iloc[0]
    assert row["valid"] and row["dff"].shape == (299,)


def _bad_recordings():
    t = np.arange(300) / 30.0
    missing_mean = recording()
    del missing_mean["fluo_mean"]
    missing_time = recording()
    del missing_time["fluo_time"]
    back_in_time = t.copy()
    back_in_time[150] = back_in_time[100]
    return [
        ("missing_mean", missing_mean, "fluo_mean"),
        ("missing_time", missing_time, "fluo_time"),
        ("lengths", recording(t=t, dff=np.zeros(200)), "300 samples but fluo_mean has 200"),
        ("non_increasing", recording(t=back_in_time), "non-increasing time stamps"),
        ("no_rate", recording(t=np.zeros(300)), "frame rate cannot be computed"),
        ("single_frame", recording(t=[0.5], dff=[0.1]), "frame rate cannot be computed"),
    ]


@pytest.mark.parametrize(("label", "bad", "message"), _bad_recordings())
def test_bad_recordings_raise_naming_file_and_recording(tmp_path, label, bad, message):
    path = write_neuron(tmp_path / DS / f"{label}_mini.mat", [recording(), bad])
    with pytest.raises(GroundTruthError) as err:
        load(tmp_path, on_invalid="raise")
    assert str(path) in str(err.value) and "recording 1" in str(err.value)
    assert message in str(err.value)


@pytest.mark.parametrize(("label", "bad", "message"), _bad_recordings())
def test_bad_recordings_are_skipped_with_the_reason(tmp_path, caplog, label, bad, message):
    write_neuron(tmp_path / DS / f"{label}_mini.mat", [recording(), bad])
    with caplog.at_level(logging.WARNING):
        df = load(tmp_path)
    assert df["valid"].tolist() == [True, False]
    assert message in df.iloc[1]["issue"]
    assert f"{label}_mini.mat recording 1" in caplog.text


def test_file_without_cattached(tmp_path):
    from scipy import io as sio

    (tmp_path / DS).mkdir()
    sio.savemat(tmp_path / DS / "c_mini.mat", {"something_else": np.zeros(3)})
    with pytest.raises(GroundTruthError, match=r"c_mini\.mat: no variable 'CAttached'"):
        load(tmp_path)


def test_corrupt_file(tmp_path):
    (tmp_path / DS).mkdir()
    (tmp_path / DS / "c_mini.mat").write_bytes(b"this is not a MATLAB file")
    with pytest.raises(GroundTruthError, match=r"c_mini\.mat: not a readable MATLAB file"):
        load(tmp_path)


def test_empty_or_missing_folder(tmp_path):
    with pytest.raises(GroundTruthError, match="holds no"):
        load(tmp_path)
    with pytest.raises(GroundTruthError, match="does not exist"):
        load(tmp_path / "nowhere")


def test_dataset_is_read_only(tmp_path):
    from kedro.io import DatasetError

    with pytest.raises(DatasetError, match="read-only"):
        GroundTruthDataset(str(tmp_path)).save(pd.DataFrame({"a": [1]}))


def test_lower_case_folders_and_upper_case_extensions_are_read(tmp_path, caplog):
    write_neuron(tmp_path / "ds03-cal520-M-S1" / "cell1_mini.MAT", [recording()])
    write_neuron(tmp_path / "DS04-OGB1-zf-pDp" / "cell2_mini.mat", [recording()])
    (tmp_path / "notes").mkdir()
    with caplog.at_level(logging.WARNING):
        table = load(tmp_path)
    assert sorted(table["dataset"]) == ["DS04-OGB1-zf-pDp", "ds03-cal520-M-S1"]
    row = table[table["dataset"] == "ds03-cal520-M-S1"].iloc[0]
    assert row["neuron"] == "cell1" and row["species"] == "mouse" and row["valid"]
    assert row["indicator"] == "cal520" and row["frame_rate_hz"] == pytest.approx(30.0)
    assert any("notes: not a 'DSnn-…' dataset folder, ignored" in r.message for r in caplog.records)
