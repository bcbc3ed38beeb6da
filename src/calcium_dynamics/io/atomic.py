"""Atomic saves: a dataset written to a temporary file beside its target, then renamed.

An interrupted or failed save never leaves a truncated file under the final name (a rename
within one folder is atomic on POSIX file systems), so a file that exists is a whole one.

Catalog use (any file dataset; partitioned outputs too)::

    recording_qc:
      type: calcium_dynamics.io.atomic.AtomicDataset
      dataset: {type: pandas.CSVDataset, save_args: {index: false}}
      filepath: data/08_reporting/recording_qc.csv
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset


def _spec(dataset: str | dict[str, Any]) -> dict[str, Any]:
    return {"type": dataset} if isinstance(dataset, str) else dict(dataset)


class AtomicDataset(AbstractDataset[Any, Any]):
    """Wraps a file dataset: loads from ``filepath``; saves to ``.NAME.partial-PID`` in the same
    folder, then renames it to ``filepath``.

    Args:
        filepath: the final file (local file system).
        dataset: the wrapped dataset's type, or a dict with ``type`` and its other arguments
            (without ``filepath``).
        metadata: Kedro-Viz and other metadata.
    """

    def __init__(
        self,
        filepath: str,
        dataset: str | dict[str, Any],
        metadata: dict[str, Any] | None = None,
    ):
        self._filepath = Path(filepath)
        self._spec = _spec(dataset)
        if "filepath" in self._spec:
            raise ValueError("AtomicDataset: give filepath once, outside `dataset`")
        self.metadata = metadata
        self._final = self._make(self._filepath)

    def _make(self, path: Path) -> AbstractDataset:
        return AbstractDataset.from_config(
            f"atomic:{path.name}", {**self._spec, "filepath": str(path)}
        )

    def _load(self) -> Any:
        return self._final.load()

    def _save(self, data: Any) -> None:
        self._filepath.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._filepath.with_name(f".{self._filepath.name}.partial-{os.getpid()}")
        try:
            self._make(tmp).save(data)
            os.replace(tmp, self._filepath)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def _exists(self) -> bool:
        return self._filepath.exists()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "dataset": self._spec.get("type")}
