"""Partitioned recordings: one partition per recording (or Suite2p plane).

A partitioned input maps a partition id to a loader (``PartitionedDataset.load``). Partitions
are split into shards (round-robin over the sorted ids) so that ``kedro run --runner
ParallelRunner`` runs the shards in separate processes; outputs are named by a stable id of
their input (its relative name and a short hash of its absolute path).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from calcium_dynamics.io.run_manifest import file_fingerprint

logger = logging.getLogger(__name__)

Loader = Callable[[], Any]


def current_partitions(recordings: dict[str, Loader]) -> list[str]:
    """Sorted partition ids of the recordings, without Suite2p's ``combined`` views.

    An id equal to ``F.npy`` (a single plane folder given as the partitioned path) is kept;
    :func:`output_key` names its outputs.
    """
    if not recordings:
        raise ValueError(
            "no recordings found: point recording_path at a Suite2p folder (plane*/F.npy), "
            "or at a folder of .nwb / array files with the matching catalog entry"
        )
    keys = sorted(k for k in recordings if "combined" not in Path(k).parts)
    skipped = len(recordings) - len(keys)
    if skipped:
        logger.info("skipping %d Suite2p 'combined' partition(s)", skipped)
    return keys


def output_key(key: str) -> str:
    """The relative name of an input partition (``F.npy`` / empty → ``recording``)."""
    key = key.strip("/")
    return "recording" if key in ("", "F.npy") else key


def partition_source(loader: Loader) -> Path | None:
    """The file or folder a partition reads (a Suite2p plane's folder for its ``F.npy``)."""
    path = getattr(reader_of(loader), "_path", None)
    if path is None:
        return None
    path = Path(path)
    return path.parent if path.name == "F.npy" else path


def partition_ids(recordings: dict[str, Loader]) -> dict[str, str]:
    """Stable output id of each current input partition: its name relative to
    ``recording_path`` and a short hash of its absolute path (``plane0-1a2b3c4d``), so that
    outputs of runs on different folders never share a name."""
    ids = {}
    for key in current_partitions(recordings):
        source = partition_source(recordings[key])
        where = str(source.resolve()) if source is not None else key
        ids[key] = f"{output_key(key)}-{hashlib.sha1(where.encode()).hexdigest()[:8]}"
    return ids


def input_fingerprints(recordings: dict[str, Loader]) -> dict[str, Any]:
    """The current inputs by output id: path, and each file's size and modification time."""
    out = {}
    for key, pid in partition_ids(recordings).items():
        source = partition_source(recordings[key])
        out[pid] = file_fingerprint(source) if source is not None else {"path": key}
    return out


def shard_partitions(recordings: dict[str, Loader], shard: int, n_shards: int) -> list[str]:
    """The input partition ids handled by ``shard`` (round-robin over the sorted ids)."""
    if not 0 <= shard < n_shards:
        raise ValueError(f"shard {shard} is outside 0…{n_shards - 1}")
    return current_partitions(recordings)[shard::n_shards]


def reader_of(loader: Loader) -> Any:
    """The dataset behind a partition loader (``dataset.load``), without loading it."""
    return getattr(loader, "__self__", None)


def merged_partitions(shards: tuple[dict[str, Loader], ...]) -> dict[str, Loader]:
    merged: dict[str, Loader] = {}
    for part in shards:
        merged.update(part)
    return merged
