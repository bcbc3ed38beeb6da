"""Suite2p output: a copy of the plane folder with the inferred rates; the original untouched."""

import hashlib
import json
import re

import numpy as np
import pytest
from kedro.io import DatasetError

from calcium_dynamics.io.suite2p_output import Suite2pSpikesDataset
from calcium_dynamics.simulate.suite2p_example import simulate_plane, write_suite2p_plane

MODEL = "cascade-15hz-excitatory"


def _hashes(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


@pytest.fixture
def plane(tmp_path):
    """A plane folder: F.npy etc. of 6 ROIs × 150 frames (last 2 not cells), spks.npy, data.bin."""
    sim = simulate_plane(n_rois=6, n_frames=150, n_noncells=2, seed=3)
    folder = write_suite2p_plane(tmp_path / "suite2p" / "plane0", sim)
    spks = np.random.default_rng(4).uniform(0, 50, sim.F.shape).astype(np.float32)
    np.save(folder / "spks.npy", spks)
    (folder / "data.bin").write_bytes(b"\x01\x02" * 512)
    return folder, spks


def _payload(folder, rows=(0, 2, 3), n_frames=150, **extra):
    rates = np.random.default_rng(5).uniform(0, 8, (len(rows), n_frames)).astype(np.float32)
    return {
        "source": str(folder),
        "model": MODEL,
        "model_version": "1.2",
        "roi_index": np.asarray(rows),
        "rate_hz": rates,
        **extra,
    }


def test_copy_holds_the_rates_and_the_original_is_unchanged(plane, tmp_path):
    folder, spks = plane
    before = _hashes(folder)
    out = tmp_path / "out" / "plane0"
    payload = _payload(folder, rows=(3, 0, 2))
    Suite2pSpikesDataset(str(out)).save(payload)

    assert _hashes(folder) == before  # byte-identical, no new file
    f = np.load(folder / "F.npy")
    written = np.load(out / f"spks_{MODEL}.npy")
    assert written.dtype == np.float32 and written.shape == f.shape == (6, 150)
    np.testing.assert_array_equal(written[[3, 0, 2]], payload["rate_hz"])
    np.testing.assert_array_equal(written[[1, 4, 5]], 0.0)
    np.testing.assert_array_equal(np.load(out / "spks.npy"), spks)  # left as Suite2p wrote it
    assert not (out / "data.bin").exists() and not (out / "spks_suite2p.npy").exists()
    copied = {"F.npy", "Fneu.npy", "iscell.npy", "ops.npy", "spks.npy"}
    assert {p.name for p in out.iterdir()} == copied | {f"spks_{MODEL}.npy", f"spks_{MODEL}.json"}
    sidecar = json.loads((out / f"spks_{MODEL}.json").read_text())
    assert sidecar["rows_inferred"] == [0, 2, 3] and sidecar["unit"] == "Hz"
    assert sidecar["skipped_files"] == ["data.bin"] and sidecar["shape"] == [6, 150]
    assert sidecar["model"] == MODEL and sidecar["model_version"] == "1.2"
    assert sidecar["source"] == str(folder)

    back = Suite2pSpikesDataset(str(out)).load()  # model found from the single sidecar
    np.testing.assert_array_equal(back["roi_index"], [0, 2, 3])
    np.testing.assert_array_equal(back["rate_hz"], payload["rate_hz"][[1, 2, 0]])
    np.testing.assert_array_equal(back["spks"], written)
    assert back["sidecar"] == sidecar
    assert Suite2pSpikesDataset(str(out), model=MODEL).exists()
    assert not list(out.parent.glob("*.partial")) and not list(out.parent.glob("*.previous"))


def test_replace_spks_puts_the_rates_where_the_gui_reads_them(plane, tmp_path):
    folder, spks = plane
    out = tmp_path / "gui" / "plane0"
    payload = _payload(folder)
    Suite2pSpikesDataset(str(out), replace_spks=True).save(payload)
    shown = np.load(out / "spks.npy")
    np.testing.assert_array_equal(shown, np.load(out / f"spks_{MODEL}.npy"))
    np.testing.assert_array_equal(shown[[0, 2, 3]], payload["rate_hz"])
    np.testing.assert_array_equal(np.load(out / "spks_suite2p.npy"), spks)
    np.testing.assert_array_equal(np.load(folder / "spks.npy"), spks)


def test_bad_saves_are_refused_and_leave_nothing(plane, tmp_path):
    folder, _ = plane
    before = _hashes(folder)
    out = tmp_path / "bad"
    no_f = tmp_path / "no_f"
    inner = folder / "inner"
    no_f.mkdir()
    cases = [
        (folder, _payload(folder), f"{re.escape(str(folder))}.*{re.escape(str(folder))}"),
        (inner, _payload(folder), f"{re.escape(str(inner))}.*{re.escape(str(folder))}"),
        (out, _payload(folder, n_frames=149), r"F\.npy has 150 frames, but the rates have 149"),
        (out, _payload(folder, rows=(0, 6)), r"roi_index \[6\] out of range.*6 ROIs"),
        (out, _payload(folder, rows=(-1, 2)), r"roi_index \[-1\] out of range"),
        (out, _payload(folder, rows=(2, 2)), r"roi_index \[2\] repeated"),
        (out, _payload(folder, rows=(0.0, np.nan)), r"non-finite or non-integer values \[nan\]"),
        (out, _payload(folder, model="cascade/../x"), r"'cascade/\.\./x'"),
        (out, _payload(no_f), re.escape(f"{no_f} holds no F.npy")),
    ]
    for target, payload, message in cases:
        with pytest.raises(DatasetError, match=message):
            Suite2pSpikesDataset(str(target)).save(payload)
        assert not target.exists() or target == folder
        assert not target.with_name(target.name + ".partial").exists()
    assert _hashes(folder) == before


def test_a_failed_save_keeps_the_previous_output(plane, tmp_path):
    folder, _ = plane
    out = tmp_path / "out" / "plane0"
    dataset = Suite2pSpikesDataset(str(out))
    good = _payload(folder)
    dataset.save(good)
    kept = _hashes(out)
    with pytest.raises(DatasetError, match=r"roi_index \[9\] out of range"):
        dataset.save(_payload(folder, rows=(9,)))
    with pytest.raises(DatasetError, match="has 150 frames"):
        dataset.save(_payload(folder, n_frames=10))
    assert _hashes(out) == kept and not list(out.parent.glob("*.partial"))
    newer = _payload(folder, rows=(1,))
    dataset.save(newer)  # a good save replaces the earlier output as a whole
    np.testing.assert_array_equal(dataset.load()["rate_hz"], newer["rate_hz"])
    assert sorted(p.name for p in out.parent.iterdir()) == ["plane0"]


def test_load_needs_one_model_and_outputs_never_overlap_the_source(plane, tmp_path):
    folder, _ = plane
    out = tmp_path / "two" / "plane0"
    Suite2pSpikesDataset(str(out)).save(_payload(folder))
    again = tmp_path / "two_models" / "plane0"
    Suite2pSpikesDataset(str(again)).save({**_payload(out), "model": "oasis"})  # copy of a copy
    with pytest.raises(DatasetError, match=r"2 spks_\*\.json sidecars"):
        Suite2pSpikesDataset(str(again)).load()
    assert Suite2pSpikesDataset(str(again), model="oasis").load()["roi_index"].tolist() == [0, 2, 3]
    with pytest.raises(DatasetError, match=r"overlap"):  # the output would contain the source
        Suite2pSpikesDataset(str(folder.parent)).save(_payload(folder))
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    (stranger / "notes.txt").write_text("keep me")
    with pytest.raises(DatasetError, match=r"holds no spks_\*\.json"):
        Suite2pSpikesDataset(str(stranger)).save(_payload(folder))
    assert (stranger / "notes.txt").read_text() == "keep me"
