"""Models that ship inside the repository: versions and stages from a committed index.

GTO keeps versions and stages as git tags, and tags do not always travel with a clone (``git
clone --no-tags``, CI checkouts, mirrors). The pretrained models that ship with the project
therefore carry their version, stage and checksum in a committed file,
``data/06_models/shipped/index.yaml``; each is also a DVC artifact in ``dvc.yaml``. The registry
resolves a name through GTO tags first (a team's own versions win) and falls back to this index,
so ``registry:NAME#production`` works on any clone. Files are read from the working tree and
checked against the index's SHA-256 before anything is unpickled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

SHIPPED_DIR = "data/06_models/shipped"
INDEX_FILE = f"{SHIPPED_DIR}/index.yaml"
#: the revision recorded for a shipped model: the file as committed in this checkout
SHIPPED_REV = "shipped"

_HEADER = """\
# The pretrained models that ship with the project (written by
# `python -m calcium_dynamics.models.spikes.ship`; do not edit by hand).
# Each entry: version, stages, the file, its SHA-256 (checked before loading), the model card.
"""


def read_index(root: str | Path) -> dict[str, dict[str, Any]]:
    """``name → entry`` of the committed index (empty when there is none)."""
    path = Path(root) / INDEX_FILE
    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text()) or {}
    models = data.get("models") or {}
    if not isinstance(models, dict):
        raise ValueError(f"{path}: 'models' must be a mapping of name to entry")
    return {str(k): dict(v) for k, v in models.items()}


def write_index(root: str | Path, models: dict[str, dict[str, Any]]) -> Path:
    path = Path(root) / INDEX_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    body = yaml.safe_dump({"models": dict(sorted(models.items()))}, sort_keys=False, width=100)
    tmp = path.with_suffix(".yaml.partial")
    tmp.write_text(_HEADER + body)
    tmp.replace(path)
    return path


def sha256_of(path: str | Path) -> str:
    from calcium_dynamics.registry.core import file_digest  # core imports this module

    return file_digest(path, "sha256")


def find(
    root: str | Path, name: str, stage: str | None = None, version: str | None = None
) -> dict[str, Any] | None:
    """The index entry of ``name`` matching ``stage`` / ``version`` (None: not shipped).

    Raises:
        LookupError: ``name`` is shipped but not at that stage or version (the message lists
            what is).
    """
    entry = read_index(root).get(name)
    if entry is None:
        return None
    if version is not None and entry.get("version") != version:
        raise LookupError(
            f"shipped model {name!r} has version {entry.get('version')}, not {version!r}"
        )
    if stage is not None and stage not in (entry.get("stages") or []):
        raise LookupError(
            f"shipped model {name!r} {entry.get('version')} is in stage(s) "
            f"{', '.join(entry.get('stages') or []) or 'none'}, not {stage!r}"
        )
    return entry


def read_calibration(root: str | Path, name: str) -> dict[str, Any] | None:
    """The rate-interval calibration tables shipped with ``name`` (its index entry's
    ``calibration`` file, checked against ``calibration_sha256``), or None when it has none.

    Raises:
        ValueError: the file is missing or does not match its recorded checksum.
    """
    import json

    entry = read_index(root).get(name) or {}
    rel = entry.get("calibration")
    if not rel:
        return None
    path = Path(root) / rel
    if not path.is_file():
        raise ValueError(f"shipped model {name!r}: its calibration file {rel} is missing")
    if sha256_of(path) != entry.get("calibration_sha256"):
        raise ValueError(
            f"shipped model {name!r}: {rel} does not match the checksum in {INDEX_FILE} "
            "(modified or corrupt; restore it with git checkout)"
        )
    return json.loads(path.read_text())
