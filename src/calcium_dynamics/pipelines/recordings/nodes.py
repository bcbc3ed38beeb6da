"""Kedro nodes of the recordings pipeline: map the library's per-recording functions
(``calcium_dynamics.recordings``) over the partitions of a recordings folder, lazily, one
recording in memory at a time, under the run manifest (``io.run_manifest``).

Outputs are dicts of callables: each partition is computed when it is saved.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from calcium_dynamics.io.partitions import (
    Loader,
    input_fingerprints,
    merged_partitions,
    output_key,
    partition_ids,
    shard_partitions,
)
from calcium_dynamics.io.run_manifest import check_current, current_run_id, now
from calcium_dynamics.models.spikes.routing import ModelSet
from calcium_dynamics.recordings.dff_tables import QC_COLUMNS, recording_dff_table
from calcium_dynamics.recordings.distributed import submit
from calcium_dynamics.recordings.population import (
    plot_recording_nmf,
    recording_decomposition,
)
from calcium_dynamics.recordings.qc_figure import draw_qc, qc_picks
from calcium_dynamics.recordings.spike_tables import infer_recording_spikes
from calcium_dynamics.recordings.trials import cut_trials

logger = logging.getLogger(__name__)


def begin_run(recordings: dict[str, Loader], params: dict, model: ModelSet) -> dict[str, Any]:
    """The run manifest written before anything else (``status: running``); saving it clears
    the outputs of earlier runs (see ``calcium_dynamics.io.run_manifest``)."""
    from calcium_dynamics.provenance import git_commit
    from calcium_dynamics.registry.shipped import read_index

    shipped = read_index(Path("."))  # the catalog loads shipped models from the project root
    return {
        "pipeline": "recordings",
        "run_id": current_run_id(),
        "status": "running",
        "started": now(),
        "finished": None,
        "inputs": input_fingerprints(recordings),
        "parameters": params,
        "spike_models": [
            {
                "name": c.name,
                "version": c.version,
                "kind": c.kind,
                "frame_rate_hz": c.frame_rate_hz,
                "sha256": _shipped_sha256(shipped, c.name, c.version),
            }
            for c in model.candidates
        ],
        "code_commit": git_commit(Path(__file__).parent),
    }


def _shipped_sha256(index: dict, name: str, version: str | None) -> str | None:
    """The checksum of a shipped model file, when the candidate is that shipped version."""
    entry = index.get(name) or {}
    return entry.get("sha256") if entry.get("version") == version else None


def finish_run(run: dict[str, Any], *outputs: Any) -> dict[str, Any]:
    """The manifest once every output is written (``status: complete``, finish time).

    ``outputs``: the run's last outputs (only to run after them)."""
    return {**run, "status": "complete", "finished": now()}


def _check(run: dict[str, Any], recordings: dict[str, Loader], what: str) -> None:
    check_current(run, input_fingerprints(recordings), what)


def compute_dff_partitions(
    recordings: dict[str, Loader],
    params: dict,
    run: dict[str, Any],
    *,
    shard: int = 0,
    n_shards: int = 1,
) -> dict[str, Callable[[], pd.DataFrame]]:
    """ΔF/F (+ QC columns) of this shard's recordings, one lazy output partition each."""
    _check(run, recordings, "ΔF/F")
    ids = partition_ids(recordings)
    keys = shard_partitions(recordings, shard, n_shards)
    return {
        ids[k]: partial(_dff_of, recordings[k], params, k)  # picklable, unlike lambdas
        for k in keys
    }


class RecordingFailed(ValueError):
    """A recording that could not be processed; the message names its path and the cause."""


def _named(step: str, key: str, table: pd.DataFrame | None, exc: Exception) -> RecordingFailed:
    where = key
    if table is not None and "source" in table.columns and len(table):
        where = f"{table['source'].iloc[0]} (partition {key})"
    return RecordingFailed(f"{step} of recording {where} failed: {exc}")


def _dff_of(loader: Loader, params: dict, key: str) -> pd.DataFrame:
    logger.info("ΔF/F of recording %r", key)
    table = None
    try:
        table = loader()
        return recording_dff_table(table, params)
    except RecordingFailed:
        raise
    except Exception as exc:  # the partition is saved lazily: name the recording here
        raise _named("ΔF/F", key, table, exc) from exc


def infer_spike_partitions(
    recordings: dict[str, Loader],
    dff: dict[str, Loader],
    model: ModelSet,
    params: dict,
    ray_params: dict,
    run: dict[str, Any],
    *,
    shard: int = 0,
    n_shards: int = 1,
) -> dict[str, Callable[[], pd.DataFrame]]:
    """Rates and events of this shard's recordings, one lazy output partition each.

    ``recordings`` only names the current recordings (nothing is loaded from it); ``run``
    (the run manifest) says the ΔF/F partitions are this run's or a finished run's on them.
    With ``ray_params`` asking for Ray, each recording is a Ray task
    (``calcium_dynamics.recordings.distributed``).
    """
    _check(run, recordings, "spike inference")
    ids = partition_ids(recordings)
    out = {}
    for k in shard_partitions(recordings, shard, n_shards):
        name = ids[k]
        if name not in dff:
            raise ValueError(f"no ΔF/F partition {name!r}: run the recordings pipeline whole")
        out[name] = partial(_spikes_of, model, dff[name], params, name)
    return submit(out, ray_params)


def _spikes_of(model: ModelSet, loader: Loader, params: dict, key: str) -> pd.DataFrame:
    logger.info("spike inference on recording %r", key)
    table = None
    try:
        table = loader()
        return infer_recording_spikes(model, table, params, key)
    except RecordingFailed:
        raise
    except Exception as exc:
        raise _named("spike inference", key, table, exc) from exc


def collect_qc(
    recordings: dict[str, Loader],
    params: dict,
    run: dict[str, Any],
    *dff_shards: dict[str, Loader],
) -> tuple[pd.DataFrame, plt.Figure]:
    """QC table of every current recording (a ``recording`` column first) and its figure.

    ``dff_shards``: the ΔF/F partitions written by the shard nodes (one folder; each lists
    all of it). The figure shows the ν histogram over all traces and a few example traces
    from the lowest to the highest ν (``params``: ``n_examples``, ``max_seconds``).
    """
    _check(run, recordings, "QC")
    dff = merged_partitions(dff_shards)
    keys = list(partition_ids(recordings).values())
    tables = []
    for k in keys:
        table = dff[k]()
        tables.append(table[QC_COLUMNS].assign(recording=k))
        del table
    qc = pd.concat(tables, ignore_index=True)[["recording", *QC_COLUMNS]]
    nu = qc["noise_level_nu"].to_numpy(float)
    examples = []
    for i in qc_picks(nu, params.get("n_examples", 4)):
        row = qc.iloc[i]
        table = dff[row["recording"]]()
        trace = table.loc[table["trace_id"] == row["trace_id"]].iloc[0]
        examples.append(
            {
                "trace_id": f"{row['recording']}: {row['trace_id']}",
                "frame_rate_hz": float(trace["frame_rate_hz"]),
                "dff": np.asarray(trace["dff"]),
                "nu": nu[i],
            }
        )
        del table
    fig = draw_qc(nu, examples, float(params.get("max_seconds", 60.0)))
    return qc, fig


def recording_nmf(
    recordings: dict[str, Loader],
    params: dict,
    run: dict[str, Any],
    *dff_shards: dict[str, Loader],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, Callable[[], plt.Figure]]]:
    """NMF of each recording's population (ΔF/F, neurons × time) with AIC selection of k.

    Uses ``classical.decomposition_tables.decompose`` (``NMFSelector``: global min-max scaling,
    NNDSVD, AIC at its first increase) without the PCA / ICA comparison.

    Args:
        params: ``bin_s`` (average ΔF/F in bins of this many seconds first; null: every frame)
            and the ``NMFSelector`` parameters (``n_components``, ``max_components`` …).

    Returns:
        ``(components, curves, assignments, figures)``: the decomposition pipeline's tables
        with a ``recording`` column first (weights over the recording's traces in its ΔF/F
        order; time courses at the (binned) frame rate), and one figure per recording.
    """
    _check(run, recordings, "NMF")
    dff = merged_partitions(dff_shards)
    comps, curves, assigns, figures = [], [], [], {}
    for k in partition_ids(recordings).values():
        result = recording_decomposition(dff[k](), params, k)
        if result is None:
            continue
        comps.append(result[0].assign(recording=k))
        curves.append(result[1].assign(recording=k))
        assigns.append(result[2].assign(recording=k))
        figures[k] = partial(plot_recording_nmf, comps[-1], curves[-1], k)
    first = ["recording"]

    def _cat(parts):
        if not parts:  # every recording skipped: empty tables, the run goes on
            return pd.DataFrame({"recording": pd.Series(dtype=str)})
        frame = pd.concat(parts, ignore_index=True)
        return frame[first + [c for c in frame.columns if c not in first]]

    return _cat(comps), _cat(curves), _cat(assigns), figures


def cut_trial_partitions(
    recordings: dict[str, Loader],
    trials: dict[str, Loader],
    params: dict,
    run: dict[str, Any],
    *shards: dict[str, Loader],
) -> dict[str, Callable[[], dict[str, np.ndarray]]]:
    """Trials arrays of every recording that has a trials table (partition with the same name
    relative to its folder: ``plane0.csv`` for ``plane0/``);
    an empty trials table or no trials partition gives no output for that recording (the
    trials tables are loaded here: they are small; the traces are loaded when saving).

    ``shards``: the ΔF/F shard partitions, then the spike shard partitions (same number).
    """
    _check(run, recordings, "trials")
    half = len(shards) // 2
    dff, spikes = merged_partitions(shards[:half]), merged_partitions(shards[half:])
    trial_tables = {output_key(k): v for k, v in trials.items()}
    out = {}
    for key, k in partition_ids(recordings).items():
        if output_key(key) not in trial_tables:
            continue
        table = trial_tables[output_key(key)]()  # small: loaded now, so empty → no output
        if table.empty:
            logger.info("recording %r: empty trials table, no trials cut", k)
            continue
        out[k] = partial(_trials_of, dff[k], spikes[k], table, params, k)
    unmatched = sorted(set(trial_tables) - {output_key(k) for k in recordings})
    if unmatched:
        logger.warning("trials tables without a recording of the same name: %s", unmatched)
    return out


def _trials_of(dff: Loader, spikes: Loader, trials: pd.DataFrame, params: dict, key: str):
    return cut_trials(dff(), spikes(), trials, params, key)
