"""Kedro nodes of the recordings pipeline after the trials: latent models per recording,
results written back into copies of the inputs (Suite2p plane folders, NWB files) and one HTML
report per recording. Thin wrappers over ``calcium_dynamics.recordings``."""

from __future__ import annotations

import logging
import math
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from calcium_dynamics.io.partitions import (
    Loader,
    input_fingerprints,
    merged_partitions,
    partition_ids,
    reader_of,
    shard_partitions,
)
from calcium_dynamics.io.recordings import NWBDataset, Suite2pDataset
from calcium_dynamics.io.run_manifest import check_current
from calcium_dynamics.recordings.distributed import submit
from calcium_dynamics.recordings.dynamics import (
    DynamicsInputError,
    fit_trial_dynamics,
    lfads_settings,
)
from calcium_dynamics.recordings.report import RecordingReport, render_recording_report
from calcium_dynamics.recordings.spike_tables import nwb_rates_payload
from calcium_dynamics.recordings.write_back import latent_time_series, suite2p_payload

logger = logging.getLogger(__name__)


def _check(run: dict[str, Any], recordings: dict[str, Loader], what: str) -> None:
    check_current(run, input_fingerprints(recordings), what)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-safe records (NaN → null)."""
    out = []
    for row in frame.to_dict("records"):
        out.append(
            {
                k: (None if isinstance(v, float) and math.isnan(v) else _plain(v))
                for k, v in row.items()
            }
        )
    return out


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    return v


def fit_dynamics_partitions(
    recordings: dict[str, Loader],
    trials: dict[str, Loader],
    params: dict,
    lfads_params: dict,
    ray_params: dict,
    run: dict[str, Any],
    *,
    shard: int = 0,
    n_shards: int = 1,
) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, dict[str, Any]]]:
    """Latent models on the trials of this shard's recordings (those with a trials table),
    one Ray task per recording when ``ray_params`` ask for Ray (``recordings.distributed``).

    Returns:
        ``(arrays, tables)`` by recording id: the models' arrays (``.npz``) and a JSON-ready
        dict of ``scores``, ``hmm_curve``, ``timings`` and ``notes`` — or ``{"skipped":
        reason}`` for a recording whose trials cannot be modelled (the reason names it).
    """
    _check(run, recordings, "latent dynamics")
    settings = {**params, "lfads": lfads_settings(params, lfads_params)}
    ids = partition_ids(recordings)
    work = {
        ids[key]: partial(_dynamics_of, trials[ids[key]], settings, ids[key])
        for key in shard_partitions(recordings, shard, n_shards)
        if ids[key] in trials and params.get("models")
    }
    arrays, tables = {}, {}
    for name, result in submit(work, ray_params).items():
        arrays_of, tables[name] = result()
        if arrays_of is not None:
            arrays[name] = arrays_of
    return arrays, tables


def _dynamics_of(trials: Loader, settings: dict, name: str):
    """``(arrays, tables)`` of one recording, or ``(None, {"skipped": reason})``."""
    try:
        result = fit_trial_dynamics(trials(), settings, name)
    except DynamicsInputError as exc:
        logger.warning("latent models skipped: %s", exc)
        return None, {"skipped": str(exc)}
    return result.arrays, {
        "scores": _records(result.scores),
        "hmm_curve": _records(result.hmm_curve),
        "timings": _records(result.timings),
        "notes": [list(n) for n in result.notes],
    }


def write_back_partitions(
    recordings: dict[str, Loader],
    spikes: dict[str, Loader],
    trials: dict[str, Loader],
    dynamics: dict[str, Any],
    run: dict[str, Any],
    *,
    shard: int = 0,
    n_shards: int = 1,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Copies of this shard's inputs with the results added, one lazy partition each.

    NWB files: the inferred rates and events and, with trials, every model's latents and the
    HMM states (time series in session time) in a new processing module. Suite2p planes:
    ``spks_<model>.npy`` (rates, Hz, ROI order of ``F.npy``) in a copy of the plane folder.

    Returns:
        ``(nwb, suite2p)`` payloads by recording id.
    """
    _check(run, recordings, "write-back")
    ids = partition_ids(recordings)
    nwb, suite2p = {}, {}
    for key in shard_partitions(recordings, shard, n_shards):
        name = ids[key]
        reader = reader_of(recordings[key])
        if isinstance(reader, NWBDataset):
            nwb[name] = partial(_nwb_payload, spikes[name], trials.get(name), dynamics.get(name))
        elif isinstance(reader, Suite2pDataset):
            suite2p[name] = partial(_suite2p_payload, spikes[name])
    return nwb, suite2p


def _nwb_payload(spikes: Loader, trials: Loader | None, dynamics: Loader | None):
    payload = nwb_rates_payload(spikes())
    if trials is not None and dynamics is not None:
        payload["time_series"] = latent_time_series(trials(), dynamics())
    return payload


def _suite2p_payload(spikes: Loader) -> dict[str, Any]:
    return suite2p_payload(spikes())


def write_reports(
    recordings: dict[str, Loader],
    nmf_components: pd.DataFrame,
    nmf_curves: pd.DataFrame,
    params: dict,
    run: dict[str, Any],
    *shards: dict[str, Any],
) -> dict[str, Any]:
    """One self-contained HTML report per recording (lazy partitions).

    ``shards``: as many ΔF/F, spike, dynamics-array and dynamics-table partitions each (one
    per shard of the pipeline), in that order.
    """
    _check(run, recordings, "reports")
    n = len(shards) // 4
    dff, spikes = merged_partitions(shards[:n]), merged_partitions(shards[n : 2 * n])
    arrays, tables = merged_partitions(shards[2 * n : 3 * n]), merged_partitions(shards[3 * n :])
    provenance = {
        "code_commit": run.get("code_commit"),
        "run_id": run.get("run_id"),
        "started": run.get("started"),
        "spike_models": run.get("spike_models"),
        "parameters": run.get("parameters"),
    }
    out = {}
    for key, name in partition_ids(recordings).items():
        comps = nmf_components[nmf_components.get("recording", pd.Series(dtype=str)) == name]
        curves = nmf_curves[nmf_curves.get("recording", pd.Series(dtype=str)) == name]
        out[name] = partial(
            _report,
            name,
            key,
            dff[name],
            spikes[name],
            comps,
            curves,
            arrays.get(name),
            tables.get(name),
            provenance,
            params,
        )
    return out


def _report(name, key, dff, spikes, comps, curves, arrays, tables, provenance, params) -> str:
    dff_table = dff()
    source = str(dff_table["source"].iloc[0]) if "source" in dff_table.columns else key
    report = RecordingReport(
        name=name,
        source=source,
        dff=dff_table,
        spikes=spikes(),
        nmf_components=comps.reset_index(drop=True),
        nmf_curves=curves.reset_index(drop=True),
        dynamics=dict(arrays()) if arrays is not None else None,
        dynamics_tables=tables() if callable(tables) else tables,
        provenance=provenance,
        params=params,
    )
    logger.info("report of recording %r", name)
    return render_recording_report(report)
