"""Pickled files from outside (Suite2p's ops.npy) are read as plain data only: no code runs."""

import os

import numpy as np
import pytest

from calcium_dynamics.io.recordings import RecordingError, Suite2pDataset
from calcium_dynamics.io.safe_pickle import UnsafePickleError, load_npy_restricted
from calcium_dynamics.simulate.suite2p_example import simulate_plane, write_suite2p_plane


class _Payload:
    """Unpickling this calls ``os.system``: what a crafted ops.npy does."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _suite2p_ops():
    """An ops dict shaped like Suite2p's (numbers, strings, lists, arrays, numpy scalars)."""
    return {
        "fs": np.float64(30.0),
        "nplanes": 2,
        "tau": 1.0,
        "filelist": ["a.tif", "b.tif"],
        "data_path": ["/data/mouse1"],
        "meanImg": np.arange(16, dtype=np.float32).reshape(4, 4),
        "xrange": np.array([0, 4]),
        "do_registration": True,
        "reg_file": None,
        "Ly": np.int64(4),
        "yoff": np.zeros(5, np.float32),
        "badframes": np.zeros(5, bool),
        "refImg": np.ones((4, 4), np.int16),
        "nested": {"spatial_scale": 0, "ratio": (1, 2)},
        "c": complex(1, 2),
    }


def test_real_ops_dict_loads_exactly(tmp_path):
    ops = _suite2p_ops()
    np.save(tmp_path / "ops.npy", ops, allow_pickle=True)
    loaded = load_npy_restricted(tmp_path / "ops.npy")
    assert loaded["fs"] == 30.0 and loaded["filelist"] == ["a.tif", "b.tif"]
    np.testing.assert_array_equal(loaded["meanImg"], ops["meanImg"])
    assert loaded["meanImg"].dtype == np.float32 and loaded["refImg"].dtype == np.int16
    assert loaded["nested"]["ratio"] == (1, 2) and loaded["c"] == complex(1, 2)
    # protocol 2 (older numpy / Python 2 era files) stores raw bytes through _codecs.encode
    import pickle

    (tmp_path / "old.npy").write_bytes(
        _npy_object_bytes(pickle.dumps(np.array(ops, dtype=object), protocol=2))
    )
    assert load_npy_restricted(tmp_path / "old.npy")["fs"] == 30.0


def _npy_object_bytes(payload: bytes) -> bytes:
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "|O", "fortran_order": False, "shape": ()})
    return buf.getvalue() + payload


def test_numeric_npy_is_read_as_numpy_does(tmp_path):
    np.save(tmp_path / "F.npy", np.arange(12.0).reshape(3, 4))
    np.testing.assert_array_equal(
        load_npy_restricted(tmp_path / "F.npy"), np.arange(12.0).reshape(3, 4)
    )


def test_payload_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    ops = {"fs": 30.0, "x": _Payload(marker)}
    np.save(tmp_path / "ops.npy", np.array(ops, dtype=object), allow_pickle=True)
    with pytest.raises(UnsafePickleError, match=r"ops\.npy.*posix\.system|ops\.npy.*nt\.system"):
        load_npy_restricted(tmp_path / "ops.npy")
    assert not marker.exists()


def test_suite2p_folder_with_a_crafted_ops_is_refused(tmp_path):
    plane = tmp_path / "plane0"
    write_suite2p_plane(plane, simulate_plane(n_rois=2, n_noncells=0, n_frames=40))
    assert Suite2pDataset(str(tmp_path)).load()["frame_rate_hz"].gt(0).all()  # real ops loads
    marker = tmp_path / "pwned"
    ops = {"fs": 30.0, "x": _Payload(marker)}
    np.save(plane / "ops.npy", np.array(ops, dtype=object), allow_pickle=True)
    with pytest.raises(RecordingError, match=r"plane0/ops\.npy: refused to load.*system"):
        Suite2pDataset(str(tmp_path)).load()
    assert not marker.exists()
    # a catalog frame rate bypasses ops.npy altogether
    assert Suite2pDataset(str(tmp_path), frame_rate_hz=30.0).load()["frame_rate_hz"].eq(30.0).all()
    assert not marker.exists()


def test_truncated_and_foreign_files_are_named(tmp_path):
    np.save(tmp_path / "ops.npy", {"fs": 30.0}, allow_pickle=True)
    data = (tmp_path / "ops.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(data[: len(data) - 5])
    with pytest.raises(UnsafePickleError, match=r"cut\.npy: not a readable pickle"):
        load_npy_restricted(tmp_path / "cut.npy")
    (tmp_path / "text.npy").write_text("fs = 30\n")
    with pytest.raises(ValueError, match=r"text\.npy: not a \.npy file"):
        load_npy_restricted(tmp_path / "text.npy")
