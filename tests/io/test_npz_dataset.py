"""NpzDataset writes the same bytes for the same arrays (DVC outputs stay valid on a rerun)."""

from __future__ import annotations

import hashlib
import time

import numpy as np
import pytest
from kedro.io import DatasetError

from calcium_dynamics.io.latent_lfads import NpzDataset


def test_same_arrays_same_bytes_across_time(tmp_path):
    arrays = {
        "b": np.arange(12, dtype=np.float32).reshape(3, 4),
        "a": np.array([True, False]),
        "scalar": np.asarray(2.5),
    }
    ds = NpzDataset(str(tmp_path / "x.npz"))
    ds.save(arrays)
    first = hashlib.md5((tmp_path / "x.npz").read_bytes()).hexdigest()
    time.sleep(2.1)  # zip entry dates have a 2-s resolution: np.savez would now differ
    ds.save(arrays)
    assert hashlib.md5((tmp_path / "x.npz").read_bytes()).hexdigest() == first
    loaded = ds.load()
    assert list(loaded) == ["b", "a", "scalar"]
    for key, value in arrays.items():
        np.testing.assert_array_equal(loaded[key], value)
        assert loaded[key].dtype == value.dtype
    with np.load(tmp_path / "x.npz", allow_pickle=False) as f:  # a standard .npz
        assert f["scalar"] == 2.5


def test_object_arrays_are_refused_and_leave_no_file(tmp_path):
    ds = NpzDataset(str(tmp_path / "y.npz"))
    with pytest.raises(DatasetError, match="'bad' holds Python objects"):
        ds.save({"bad": np.array([{"x": 1}], dtype=object)})
    assert list(tmp_path.iterdir()) == []
