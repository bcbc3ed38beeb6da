"""Kedro datasets for the LFADS family: dicts of arrays as .npz, models as torch state dicts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from kedro.io import AbstractDataset, DatasetError


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
        np.savez_compressed(tmp, **{k: np.asarray(v) for k, v in data.items()})
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
