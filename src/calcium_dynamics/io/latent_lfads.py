"""Kedro datasets for the LFADS family: dicts of arrays as .npz, models as torch state dicts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from kedro.io import AbstractDataset, DatasetError

_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip entry can hold


def write_npz(path: str | Path, arrays: dict[str, Any]) -> None:
    """``np.savez_compressed`` with fixed entry dates and order: the same arrays give the same
    bytes on every run (``np.savez`` stamps each entry with the current time), so a DVC stage
    that rewrites the same result does not invalidate the stages after it.

    The file is a standard ``.npz`` (``np.load`` reads it; no pickled objects allowed).
    """
    import io
    import zipfile

    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key in arrays:
            array = np.asarray(arrays[key])
            if array.dtype.hasobject:
                raise DatasetError(f"{path}: array {key!r} holds Python objects; not saved")
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, array, allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=_ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buffer.getvalue())


class NpzDataset(AbstractDataset[dict[str, np.ndarray], dict[str, np.ndarray]]):
    """A flat dict of numpy arrays in one ``.npz`` file (no pickled objects)."""

    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None):
        self._filepath = Path(filepath)
        self.metadata = metadata

    def _load(self) -> dict[str, np.ndarray]:
        if not self._filepath.exists():
            raise DatasetError(f"{self._filepath} does not exist; run the pipeline that writes it")
        with np.load(self._filepath, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}

    def _save(self, data: dict[str, np.ndarray]) -> None:
        if not isinstance(data, dict):
            raise DatasetError(f"NpzDataset saves a dict of arrays; got {type(data).__name__}")
        self._filepath.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._filepath.with_suffix(".tmp.npz")
        try:
            write_npz(tmp, data)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        tmp.replace(self._filepath)  # no partial file under the final name

    def _exists(self) -> bool:
        return self._filepath.exists()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}


class TorchStateDataset(AbstractDataset[dict[str, Any], dict[str, Any]]):
    """A model as ``{"state_dict": ..., "config": ...}`` saved with ``torch.save``.

    Loading uses ``torch.load(weights_only=True)``: only tensors and plain containers are read,
    so a model file from elsewhere cannot run code.
    """

    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None):
        self._filepath = Path(filepath)
        self.metadata = metadata

    def _load(self) -> dict[str, Any]:
        if not self._filepath.exists():
            raise DatasetError(f"{self._filepath} does not exist; run the pipeline that writes it")
        return torch.load(self._filepath, map_location="cpu", weights_only=True)

    def _save(self, data: dict[str, Any]) -> None:
        self._filepath.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._filepath.with_suffix(".tmp")
        torch.save(data, tmp)
        tmp.replace(self._filepath)

    def _exists(self) -> bool:
        return self._filepath.exists()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}
