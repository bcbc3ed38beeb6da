"""Kedro dataset for trained spike models (state dicts + config, safe to load)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset

from calcium_dynamics.models.spike_models import SpikeModel


class SpikeModelDataset(AbstractDataset[SpikeModel, SpikeModel]):
    """A :class:`~calcium_dynamics.models.spike_models.SpikeModel` file (``torch.save`` of
    plain tensors; loaded with ``weights_only=True``, so the file cannot run code)."""

    def __init__(self, filepath: str, metadata: dict | None = None):
        self._filepath = Path(filepath)
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}

    def _load(self) -> SpikeModel:
        return SpikeModel.load(self._filepath)

    def _save(self, data: SpikeModel) -> None:
        data.save(self._filepath)

    def _exists(self) -> bool:
        return self._filepath.is_file()
