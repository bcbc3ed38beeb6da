"""The run manifest of a pipeline over a user's recordings: what ran on which inputs, and
whether it finished.

A run writes its manifest first (``status: running``: the input files with sizes and
modification times, the parameters, the model, the code commit, the start time), which
clears the outputs of earlier runs, and last (``status: complete`` and the finish time).
Nodes that read outputs check the manifest (:func:`check_current`): outputs of another run's
inputs, or of a run that did not finish, are never read as current.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError

RUN_ID_ENV = "CALCIUM_DYNAMICS_RUN_ID"  # set by the project's hook for the run's processes


class StaleOutputsError(RuntimeError):
    """Outputs on disk that do not belong to the current inputs or to a finished run."""


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def current_run_id() -> str:
    """The running Kedro session's id (set by the project's hooks), or a fresh one."""
    run_id = os.environ.get(RUN_ID_ENV)
    if not run_id:
        run_id = uuid.uuid4().hex
        os.environ[RUN_ID_ENV] = run_id
    return run_id


def file_fingerprint(source: str | Path) -> dict[str, Any]:
    """Absolute path, and size (bytes) and modification time (ns) of each file of ``source``
    (a file, or a folder's files one level down, e.g. a Suite2p plane)."""
    source = Path(source).resolve()
    files = sorted(p for p in source.iterdir() if p.is_file()) if source.is_dir() else [source]
    return {
        "path": str(source),
        "files": {
            p.name: {"size_bytes": p.stat().st_size, "mtime_ns": p.stat().st_mtime_ns}
            for p in files
            if p.exists()
        },
    }


def check_current(run: dict[str, Any] | None, inputs: dict[str, Any], what: str) -> None:
    """Raise :class:`StaleOutputsError` unless ``run`` (a manifest) is this run's or a finished
    run's, on exactly ``inputs`` (the current inputs' fingerprints, by partition id)."""
    hint = "run the recordings pipeline whole (kedro run --pipeline recordings)"
    if not run:
        raise StaleOutputsError(f"{what}: no run manifest; {hint}")
    status = run.get("status")
    ours = run.get("run_id") == os.environ.get(RUN_ID_ENV)
    if status != "complete" and not (status == "running" and ours):
        raise StaleOutputsError(
            f"{what}: the outputs on disk are from a run that did not finish (started "
            f"{run.get('started')}, status {status!r}); {hint}"
        )
    if run.get("inputs") != inputs:
        old, new = set(run.get("inputs") or {}), set(inputs)
        detail = (
            f"recordings added {sorted(new - old)[:5]}, removed {sorted(old - new)[:5]}"
            if old != new
            else "recording files changed since"
        )
        raise StaleOutputsError(
            f"{what}: the outputs on disk belong to other inputs ({detail}); {hint}"
        )


class RunManifestDataset(AbstractDataset[dict, dict]):
    """A run manifest (JSON), saved atomically. Saving one with ``status: running`` first
    deletes ``clear`` (the run's output folders and files), so no output of an earlier run
    survives into this one.

    Args:
        filepath: the manifest (JSON).
        clear: output folders (their contents are deleted) and files of the run.
    """

    def __init__(self, filepath: str, clear: list[str] | None = None, metadata: dict | None = None):
        self._filepath = Path(filepath)
        self._clear = [Path(p) for p in clear or []]
        self.metadata = metadata

    def _load(self) -> dict:
        if not self._filepath.exists():
            return {}
        try:
            return json.loads(self._filepath.read_text())
        except json.JSONDecodeError as exc:
            raise DatasetError(f"run manifest {self._filepath} is not valid JSON: {exc}") from exc

    def _save(self, data: dict) -> None:
        if data.get("status") == "running":
            for path in self._clear:
                if path.is_dir():
                    shutil.rmtree(path)
                elif path.exists():
                    path.unlink()
        self._filepath.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._filepath.with_name(f".{self._filepath.name}.partial-{os.getpid()}")
        tmp.write_text(json.dumps(data, indent=2, default=str))
        os.replace(tmp, self._filepath)

    def _exists(self) -> bool:
        return self._filepath.exists()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "clear": [str(p) for p in self._clear]}
