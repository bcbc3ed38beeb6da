"""The NWB output: a copy of the recording with the inferred rates; the original untouched."""

import hashlib

import numpy as np
import pytest
from kedro.io import DatasetError

from calcium_dynamics.io.nwb_output import NWBRatesDataset
from calcium_dynamics.io.recordings import NWBDataset, NWBTrialsDataset, RecordingError

pynwb = pytest.importorskip("pynwb")

from tests.io.nwb_files import write_nwb


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def recording(tmp_path):
    rng = np.random.default_rng(0)
    f = rng.uniform(100, 200, (3, 60))
    path = write_nwb(
        tmp_path / "session.nwb",
        f,
        rng.uniform(10, 20, (3, 60)),
        rate=20.0,
        trials=[(0.5, 1.0, 1), (1.5, 2.2, 2)],
    )
    return path, f


def test_copy_holds_the_rates_and_the_original_is_unchanged(recording, tmp_path):
    path, _ = recording
    before = _sha(path)
    rates = np.random.default_rng(1).uniform(0, 5, (3, 60)).astype(np.float32)
    events = [np.array([0.1, 0.7]), np.array([]), np.array([2.5])]
    out = tmp_path / "out" / "session.nwb"
    NWBRatesDataset(str(out)).save(
        {
            "source": str(path),
            "series": "ophys/Fluorescence/RoiResponseSeries",
            "roi_ids": [10, 11, 12],
            "rate_hz": rates,
            "spike_times_s": events,
        }
    )
    assert _sha(path) == before
    with pynwb.NWBHDF5IO(str(out), "r") as io:  # read back with pynwb itself
        nwb = io.read()
        series = nwb.processing["spike_inference"]["inferred_spike_rate"]
        np.testing.assert_array_equal(series.data[:].T, rates)
        assert series.rate == 20.0 and series.unit == "Hz"
        assert list(series.rois.table.id[series.rois.data[:]]) == [10, 11, 12]
        # the original content is still there, and the trials
        raw = nwb.processing["ophys"]["Fluorescence"]["RoiResponseSeries"].data[:]
        assert raw.shape == (60, 3) and len(nwb.trials) == 2
    back = NWBRatesDataset(str(out)).load()
    np.testing.assert_array_equal(back["rate_hz"], rates)
    assert list(back["roi_ids"]) == [10, 11, 12] and back["frame_rate_hz"] == 20.0
    for got, want in zip(back["spike_times_s"], events):
        np.testing.assert_allclose(got, want)
    assert not list(out.parent.glob("*.partial"))


def test_rates_for_a_subset_of_rois_with_timestamps(tmp_path):
    f = np.random.default_rng(2).uniform(100, 200, (3, 40))
    stamps = 5.0 + np.arange(40) / 10.0
    path = write_nwb(tmp_path / "t.nwb", f, timestamps=stamps)
    out = tmp_path / "o.nwb"
    NWBRatesDataset(str(out)).save(
        {
            "source": str(path),
            "series": "ophys/Fluorescence/RoiResponseSeries",
            "roi_ids": [12, 10],
            "rate_hz": np.ones((2, 40)),
            "spike_times_s": [np.array([1.0]), np.array([])],
        }
    )
    back = NWBRatesDataset(str(out)).load()
    assert list(back["roi_ids"]) == [12, 10]
    np.testing.assert_allclose(back["timestamps_s"], stamps)
    np.testing.assert_allclose(back["spike_times_s"][0], [6.0])  # session time


def test_bad_saves_are_refused(recording, tmp_path):
    path, _ = recording
    data = {
        "source": str(path),
        "series": "ophys/Fluorescence/RoiResponseSeries",
        "roi_ids": [10, 11, 12],
        "rate_hz": np.ones((3, 60)),
    }
    before = _sha(path)
    with pytest.raises(DatasetError, match=r"is the original recording"):
        NWBRatesDataset(str(path)).save(data)
    with pytest.raises(DatasetError, match=r"60 frames, but the rates have 59"):
        NWBRatesDataset(str(tmp_path / "a.nwb")).save({**data, "rate_hz": np.ones((3, 59))})
    with pytest.raises(DatasetError, match=r"ROI ids \[99\]"):
        NWBRatesDataset(str(tmp_path / "b.nwb")).save({**data, "roi_ids": [10, 11, 99]})
    assert _sha(path) == before
    assert not (tmp_path / "a.nwb").exists() and not list(tmp_path.glob("*.partial"))


def test_trials_table_and_files_without_ophys(recording, tmp_path):
    path, f = recording
    trials = NWBTrialsDataset(str(path)).load()
    assert list(trials["start_time"]) == [0.5, 1.5] and list(trials["condition"]) == [1, 2]
    table = NWBDataset(str(path)).load()
    assert list(table["cell"]) == [10, 11, 12]
    assert table["series"].eq("ophys/Fluorescence/RoiResponseSeries").all()
    bare = write_nwb(tmp_path / "bare.nwb", f, ophys=False)
    assert NWBTrialsDataset(str(bare)).load().empty  # no trials: an empty table
    with pytest.raises(RecordingError, match=r"bare\.nwb has no 'ophys' processing module"):
        NWBDataset(str(bare)).load()


def _with_series(path, **series):
    return {
        "source": str(path),
        "series": "ophys/Fluorescence/RoiResponseSeries",
        "roi_ids": [10, 11, 12],
        "rate_hz": np.ones((3, 60)),
        "time_series": series,
    }


def test_latent_time_series_round_trip(recording, tmp_path):
    path, _ = recording
    stamps = 100.0 + np.arange(12) * 0.25  # session time, not shifted by the series' start
    latents = np.random.default_rng(3).normal(size=(12, 3))
    latents[4, 1] = np.nan  # a dropped bin
    states = np.array([0, 0, 1, 2, 2, 1, 0, 0, 3, 3, 1, 0], np.int64)
    out = tmp_path / "latents.nwb"
    NWBRatesDataset(str(out)).save(
        _with_series(
            path,
            gpfa_latents={
                "data": latents,
                "timestamps_s": stamps,
                "unit": "a.u.",
                "description": "GPFA latent factors",
                "comments": "3 factors",
            },
            hmm_state={
                "data": states,
                "timestamps_s": stamps,
                "unit": "n.a.",
                "description": "most likely HMM state",
            },
        )
    )
    with pynwb.NWBHDF5IO(str(out), "r") as io:  # read back with pynwb itself
        module = io.read().processing["spike_inference"]
        assert type(module["gpfa_latents"]) is pynwb.TimeSeries
        assert module["gpfa_latents"].comments == "3 factors"
    back = NWBRatesDataset(str(out)).load()["time_series"]
    assert sorted(back) == ["gpfa_latents", "hmm_state"]
    np.testing.assert_array_equal(back["gpfa_latents"]["data"], latents)  # NaN kept
    np.testing.assert_array_equal(back["gpfa_latents"]["timestamps_s"], stamps)
    assert back["gpfa_latents"]["unit"] == "a.u."
    assert back["gpfa_latents"]["description"] == "GPFA latent factors"
    assert back["hmm_state"]["data"].dtype.kind == "i"
    np.testing.assert_array_equal(back["hmm_state"]["data"], states)
    np.testing.assert_array_equal(back["hmm_state"]["timestamps_s"], stamps)
    plain = tmp_path / "plain.nwb"
    NWBRatesDataset(str(plain)).save({**_with_series(path), "time_series": None})
    assert NWBRatesDataset(str(plain)).load()["time_series"] == {}


def test_bad_time_series_are_refused(recording, tmp_path):
    path, _ = recording
    before = _sha(path)
    stamps = np.arange(5) / 10.0
    ok = {"data": np.zeros(5), "timestamps_s": stamps, "unit": "a.u.", "description": "d"}
    cases = [
        ({"z": {**ok, "data": np.zeros((4, 2))}}, r"'z'\]: data has 4 rows but timestamps_s"),
        ({"z": {**ok, "timestamps_s": stamps[::-1]}}, r"'z'.*decrease after sample 0"),
        ({"inferred_spike_rate": ok}, r"'inferred_spike_rate' is taken"),
        ({"bad name": ok}, r"'bad name' may hold only"),
        ({"z": {**ok, "data": np.array([0, 1, np.inf, 0, 0])}}, r"'z'.*holds inf"),
        ({"z": {k: v for k, v in ok.items() if k != "unit"}}, r"'z'.*missing \['unit'\]"),
    ]
    out = tmp_path / "bad.nwb"
    for series, message in cases:
        with pytest.raises(DatasetError, match=message):
            NWBRatesDataset(str(out)).save(_with_series(path, **series))
        assert not out.exists() and not list(tmp_path.glob("*.partial"))
    assert _sha(path) == before
