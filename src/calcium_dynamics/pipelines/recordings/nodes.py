"""Kedro nodes of the recordings pipeline (thin wrappers around ``signal/``, ``models/`` and
``classical.decomposition_tables.decompose``)."""

from __future__ import annotations

import hashlib
import logging
import zlib
from collections.abc import Callable
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from calcium_dynamics.classical.decomposition_tables import decompose
from calcium_dynamics.io.recordings import NWBDataset
from calcium_dynamics.io.run_manifest import check_current, current_run_id, file_fingerprint, now
from calcium_dynamics.models.spikes.api import infer_table, log_warnings
from calcium_dynamics.models.spikes.routing import Limits, ModelSet
from calcium_dynamics.signal.dff import delta_f_over_f, dff_quality

logger = logging.getLogger(__name__)

QC_COLUMNS = [
    "trace_id",
    "plane",
    "cell",
    "frame_rate_hz",
    "n_frames",
    "noise_level_nu",
    "baseline_median",
    "dff_min",
    "dff_max",
    "dff_p01",
    "dff_p99",
    "nan_fraction",
]


CARRIED_COLUMNS = ["source", "series", "start_time_s"]


def _is_array(value) -> bool:
    return value is not None and not (np.isscalar(value) and pd.isna(value))


def _group_dff(rows: pd.DataFrame, params: dict) -> tuple[np.ndarray, np.ndarray | None]:
    """ΔF/F and F0 of rows sharing a frame rate and length, shape (n_rows, n_frames)."""
    names = [f"trace {t!r}" for t in rows["trace_id"]]
    if _is_array(rows["dff"].iloc[0]):  # the file already holds ΔF/F
        return np.stack([np.asarray(d, np.float64) for d in rows["dff"]]), None
    f = np.stack([np.asarray(x, np.float64) for x in rows["F"]])
    has_neu = [_is_array(x) for x in rows["Fneu"]]
    fneu = np.stack([np.asarray(x, np.float64) for x in rows["Fneu"]]) if all(has_neu) else None
    if fneu is not None and not params.get("subtract_neuropil", True):
        fneu = None
    return delta_f_over_f(
        f,
        fneu,
        float(rows["frame_rate_hz"].iloc[0]),
        neuropil_coefficient=float(params.get("neuropil_coefficient", 0.7)),
        window_s=float(params.get("baseline_window_s", 60.0)),
        percentile=float(params.get("baseline_percentile", 8.0)),
        smooth_s=float(params.get("baseline_smooth_s", 0.0)),
        names=names,
        max_nan_fraction=float(params.get("max_nan_fraction", 0.5)),
    )


def compute_recording_dff(
    recording: pd.DataFrame, params: dict
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """ΔF/F of every trace and its QC numbers, computed in batches of neurons.

    Args:
        recording: a table from one of ``calcium_dynamics.io.recordings``' readers
            (``trace_id, plane, cell, frame_rate_hz, F, Fneu, dff``; ``source``,
            ``start_time_s`` and ``series`` are carried over when present).
        params: ``neuropil_coefficient`` (c in F − c·F_neu), ``subtract_neuropil`` (bool),
            ``baseline_window_s`` (s), ``baseline_percentile`` (0–100), ``baseline_smooth_s``
            (s), ``max_nan_fraction``, ``batch_size`` (neurons per batch: bounds the memory of
            the float64 work arrays; the result does not depend on it).

    Returns:
        ``(dff_table, qc_table)``: ``trace_id, plane, cell, frame_rate_hz, dff`` (ΔF/F as a
        fraction, a float32 array per trace: the input of spike inference) plus the carried
        columns, and one QC row per trace (columns :data:`QC_COLUMNS`; ν in %·Hz^-½,
        baseline in the recording's units).
    """
    needed = ["trace_id", "frame_rate_hz"]
    missing = [c for c in needed if c not in recording.columns]
    if missing:
        raise ValueError(f"recording table lacks column(s) {missing}")
    table = recording.reset_index(drop=True).copy()
    for col in ("plane", "cell", "F", "Fneu", "dff"):
        if col not in table.columns:
            table[col] = None if col in ("F", "Fneu", "dff") else 0
    carried = [c for c in CARRIED_COLUMNS if c in table.columns]
    source = [d if _is_array(d) else f for d, f in zip(table["dff"], table["F"])]
    table["_n"] = [len(s) for s in source]
    table["_has_dff"] = [_is_array(d) for d in table["dff"]]
    check_recording_length(table, params)
    batch = max(1, int(params.get("batch_size", 200)))
    dff_rows, qc_rows = [], []
    for _, group in table.groupby(["plane", "frame_rate_hz", "_n", "_has_dff"], sort=False):
        for b in range(0, len(group), batch):
            rows = group.iloc[b : b + batch]
            dff, f0 = _group_dff(rows, params)
            rate = float(rows["frame_rate_hz"].iloc[0])
            qc = dff_quality(dff, f0, rate)
            for k, (idx, row) in enumerate(rows.iterrows()):
                ids = {
                    "trace_id": row.trace_id,
                    "plane": int(row.plane),
                    "cell": int(row.cell),
                    "frame_rate_hz": rate,
                }
                dff_rows.append(
                    (
                        idx,
                        {
                            **ids,
                            **{c: row[c] for c in carried},
                            "dff": dff[k].astype(np.float32),
                        },
                    )
                )
                qc_rows.append(
                    (
                        idx,
                        {
                            **ids,
                            "n_frames": int(row._n),
                            **{key: float(v[k]) for key, v in qc.items()},
                        },
                    )
                )
            del dff, f0
    dff_table = pd.DataFrame([r for _, r in sorted(dff_rows, key=lambda x: x[0])])
    qc_table = pd.DataFrame([r for _, r in sorted(qc_rows, key=lambda x: x[0])])[QC_COLUMNS]
    logger.info(
        "ΔF/F of %d traces; median ν = %.2f %%·Hz^-½",
        len(dff_table),
        float(np.nanmedian(qc_table["noise_level_nu"])),
    )
    return dff_table, qc_table


def check_recording_length(table: pd.DataFrame, params: dict) -> None:
    """Refuse frame rates outside ``min_frame_rate_hz``–``max_frame_rate_hz`` and recordings
    shorter than ``min_frames``; warn when shorter than the baseline window. Errors name the
    recording's source (its path) and the parameter to change."""
    where = str(table["source"].iloc[0]) if "source" in table.columns and len(table) else "?"
    lo = float(params.get("min_frame_rate_hz", 0.5))
    hi = float(params.get("max_frame_rate_hz", 1000.0))
    for rate in table["frame_rate_hz"].unique():
        if not lo <= float(rate) <= hi:
            raise ValueError(
                f"recording {where}: frame rate {float(rate):g} Hz is outside the accepted "
                f"{lo:g}–{hi:g} Hz (recordings.dff.min_frame_rate_hz / max_frame_rate_hz); a "
                "frame period in s given as a rate?"
            )
    min_frames = int(params.get("min_frames", 10))
    short = table[table["_n"] < min_frames]
    if len(short):
        raise ValueError(
            f"recording {where}: {len(short)} trace(s) have fewer than {min_frames} frames "
            f"(e.g. {short['trace_id'].iloc[0]}: {int(short['_n'].iloc[0])}); too short for a "
            "baseline and for spike inference (recordings.dff.min_frames)"
        )
    seconds = table["_n"] / table["frame_rate_hz"].astype(float)
    window = float(params.get("baseline_window_s", 30.0))
    if (seconds < window).any():
        logger.warning(
            "recording %s: %.1f s long, shorter than the %.0f s baseline window: the baseline "
            "is a percentile of the whole recording",
            where,
            float(seconds.min()),
            window,
        )


def _qc_picks(nu: np.ndarray, n_examples: int) -> np.ndarray:
    """Indices of ``n_examples`` traces from the lowest to the highest ν."""
    n_ex = max(1, min(int(n_examples), len(nu)))
    order = np.argsort(nu)
    return order[np.unique(np.linspace(0, len(order) - 1, n_ex).round().astype(int))]


def _draw_qc(nu: np.ndarray, examples: list[dict], max_s: float) -> plt.Figure:
    """ν histogram of all traces + ΔF/F of ``examples`` (``trace_id, frame_rate_hz, dff, nu``)."""
    fig = plt.figure(figsize=(10, 2.0 + 1.3 * len(examples)))
    grid = fig.add_gridspec(len(examples), 2, width_ratios=[1, 3])
    ax = fig.add_subplot(grid[:, 0])
    ax.hist(nu[np.isfinite(nu)], bins=min(30, max(5, len(nu) // 2)), color="0.4")
    ax.set_xlabel("noise level ν (%·Hz$^{-1/2}$)")
    ax.set_ylabel("traces")
    ax.set_title(f"{len(nu)} traces, median ν = {np.nanmedian(nu):.2f}")
    for k, ex in enumerate(examples):
        y = np.asarray(ex["dff"], float)
        t = np.arange(y.size) / ex["frame_rate_hz"]
        keep = t <= max_s
        a = fig.add_subplot(grid[k, 1])
        a.plot(t[keep], y[keep], lw=0.7, color="k")
        a.set_ylabel("ΔF/F")
        a.set_title(f"{ex['trace_id']}  (ν = {ex['nu']:.2f})", fontsize=9, loc="left")
        if k == len(examples) - 1:
            a.set_xlabel("time (s)")
    fig.tight_layout()
    return fig


def plot_recording_qc(qc: pd.DataFrame, dff: pd.DataFrame, params: dict) -> plt.Figure:
    """Histogram of the noise level ν and the ΔF/F of a few example traces.

    ``qc`` and ``dff`` list the same traces in the same order. ``params``: ``n_examples``
    (traces shown: the lowest, median and highest ν, then evenly spread), ``max_seconds``
    (length shown, s).
    """
    nu = qc["noise_level_nu"].to_numpy(float)
    examples = [
        {
            "trace_id": dff.iloc[i]["trace_id"],
            "frame_rate_hz": dff.iloc[i]["frame_rate_hz"],
            "dff": dff.iloc[i]["dff"],
            "nu": nu[i],
        }
        for i in _qc_picks(nu, params.get("n_examples", 4))
    ]
    return _draw_qc(nu, examples, float(params.get("max_seconds", 60.0)))


# -- partitions: one per recording (or Suite2p plane) ---------------------------------------
# A partitioned input maps a partition id to a loader (``PartitionedDataset.load``). The nodes
# below are split into shards (round-robin over the sorted partition ids) so that
# ``kedro run --runner ParallelRunner`` runs the shards in separate processes. Outputs are
# dicts of callables: each partition is computed when it is saved, one at a time, so the memory
# holds one recording, not all of them.

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
    path = getattr(_reader(loader), "_path", None)
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


def begin_run(recordings: dict[str, Loader], params: dict, model: ModelSet) -> dict[str, Any]:
    """The run manifest written before anything else (``status: running``); saving it clears
    the outputs of earlier runs (see ``calcium_dynamics.io.run_manifest``)."""
    from calcium_dynamics.provenance import git_commit

    return {
        "pipeline": "recordings",
        "run_id": current_run_id(),
        "status": "running",
        "started": now(),
        "finished": None,
        "inputs": input_fingerprints(recordings),
        "parameters": params,
        "spike_models": [
            {"name": c.name, "version": c.version, "kind": c.kind, "frame_rate_hz": c.frame_rate_hz}
            for c in model.candidates
        ],
        "code_commit": git_commit(Path(__file__).parent),
    }


def finish_run(run: dict[str, Any], *outputs: Any) -> dict[str, Any]:
    """The manifest once every output is written (``status: complete``, finish time).

    ``outputs``: the run's last outputs (only to run after them)."""
    return {**run, "status": "complete", "finished": now()}


def _check(run: dict[str, Any], recordings: dict[str, Loader], what: str) -> None:
    check_current(run, input_fingerprints(recordings), what)


def shard_partitions(recordings: dict[str, Loader], shard: int, n_shards: int) -> list[str]:
    """The input partition ids handled by ``shard`` (round-robin over the sorted ids)."""
    if not 0 <= shard < n_shards:
        raise ValueError(f"shard {shard} is outside 0…{n_shards - 1}")
    return current_partitions(recordings)[shard::n_shards]


def _reader(loader: Loader) -> Any:
    """The dataset behind a partition loader (``dataset.load``), without loading it."""
    return getattr(loader, "__self__", None)


def recording_dff_table(recording: pd.DataFrame, params: dict) -> pd.DataFrame:
    """ΔF/F table of one recording with its QC numbers as extra columns (one row per trace)."""
    dff, qc = compute_recording_dff(recording, params)
    extra = [c for c in QC_COLUMNS if c not in dff.columns]
    return pd.concat([dff, qc[extra]], axis=1)


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


@contextmanager
def _torch_threads(n: int | None):
    """Run torch with ``n`` threads (results then do not depend on the runner's process)."""
    if not n:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _batch_seed(seed: int, key: str, batch: int) -> int:
    """A seed per (recording, batch) that does not depend on the order recordings run in."""
    entropy = [int(seed), zlib.crc32(key.encode()), int(batch)]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


SPIKE_COLUMNS = [
    "trace_id",
    "plane",
    "cell",
    "frame_rate_hz",
    "noise_level_nu",
    "model",
    "model_version",
    "model_frame_rate_hz",
    "model_noise_level",
    "sigma_s",
    "nan_fraction",
    "warnings",
    "rate_hz",
    "spike_times_s",
]


def infer_recording_spikes(
    models: ModelSet, dff: pd.DataFrame, params: dict, key: str = "recording"
) -> pd.DataFrame:
    """Spike rates, events and routing of one recording (events of all its cells at once:
    CASCADE's sampler runs vectorised over the cells).

    Every trace goes through :func:`calcium_dynamics.models.spikes.infer_table` (the path
    ``infer_spikes`` takes): the model nearest the recording's frame rate, ν measured at the
    model's rate, the nearest noise level, per-cell warnings.

    Args:
        models: the :class:`ModelSet` of the catalog's ``recording_spike_model``.
        dff: a ΔF/F table (``trace_id, plane, cell, frame_rate_hz, dff`` + carried columns).
        params: ``stride`` / ``precision`` (ENS²), ``events`` (bool), ``seed`` (events
            sampling; combined with ``key``), ``torch_threads``, ``limits`` (plausibility
            limits, see ``Limits``).
        key: the recording's partition id.

    Returns:
        one row per trace, columns :data:`SPIKE_COLUMNS` (``rate_hz``: float32 array over the
        recording's frames, Hz; ``spike_times_s``: s from its first frame;
        ``model_noise_level``: the zoo level used, NaN for ENS²; ``warnings``) + the carried
        columns.
    """
    if dff.empty:
        raise ValueError(f"recording {key!r} holds no traces")
    carried = [c for c in CARRIED_COLUMNS if c in dff.columns]
    where = str(dff["source"].iloc[0]) if "source" in dff.columns else key
    limits = Limits.from_params(params.get("limits"))
    with _torch_threads(params.get("torch_threads", 1)):
        table = infer_table(
            models,
            dff[["trace_id", "frame_rate_hz", "dff"]],
            events=bool(params.get("events", True)),
            stride=int(params.get("stride", 1)),
            precision=str(params.get("precision", "fp32")),
            seed=_batch_seed(params.get("seed", 0), key, 0),
            limits=limits,
            source=f"recording {where}",
            log=False,
            progress=True,
        )
    timing = dict(table.attrs.get("timing_s", {}))
    table["plane"] = dff["plane"].to_numpy()
    table["cell"] = dff["cell"].to_numpy()
    for c in carried:
        table[c] = dff[c].to_numpy()
    log_warnings(table, models, f"recording {where}")  # one summary line per recording
    table = table[SPIKE_COLUMNS + carried]
    table.attrs["timing_s"] = timing
    return table


def infer_spike_partitions(
    recordings: dict[str, Loader],
    dff: dict[str, Loader],
    model: ModelSet,
    params: dict,
    run: dict[str, Any],
    *,
    shard: int = 0,
    n_shards: int = 1,
) -> dict[str, Callable[[], pd.DataFrame]]:
    """Rates and events of this shard's recordings, one lazy output partition each.

    ``recordings`` only names the current recordings (nothing is loaded from it); ``run``
    (the run manifest) says the ΔF/F partitions are this run's or a finished run's on them.
    """
    _check(run, recordings, "spike inference")
    ids = partition_ids(recordings)
    out = {}
    for k in shard_partitions(recordings, shard, n_shards):
        name = ids[k]
        if name not in dff:
            raise ValueError(f"no ΔF/F partition {name!r}: run the recordings pipeline whole")
        out[name] = partial(_spikes_of, model, dff[name], params, name)
    return out


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


def nwb_rates_payload(spikes: pd.DataFrame) -> dict[str, Any]:
    """What :class:`~calcium_dynamics.io.nwb_output.NWBRatesDataset` writes for one NWB file."""
    for col in ("source", "series"):
        if col not in spikes.columns:
            raise ValueError(f"spike table lacks {col!r}: it was not read from an NWB file")
    if spikes["source"].nunique() != 1 or spikes["series"].nunique() != 1:
        raise ValueError("an NWB output holds the traces of one series of one file")
    return {
        "source": str(spikes["source"].iloc[0]),
        "series": str(spikes["series"].iloc[0]),
        "roi_ids": spikes["cell"].to_numpy(int),
        "rate_hz": np.stack([np.asarray(r, np.float32) for r in spikes["rate_hz"]]),
        "spike_times_s": [np.asarray(t, np.float64) for t in spikes["spike_times_s"]],
        "description": (
            f"spike rate (Hz) inferred by {spikes['model'].iloc[0]} "
            f"(σ = {float(spikes['sigma_s'].iloc[0])} s)"
        ),
    }


def nwb_output_partitions(
    recordings: dict[str, Loader],
    spikes: dict[str, Loader],
    run: dict[str, Any],
    *,
    shard: int = 0,
    n_shards: int = 1,
) -> dict[str, Callable[[], dict[str, Any]]]:
    """For this shard's NWB recordings: a copy of each file with the inferred rates added.

    Recordings read by another reader (Suite2p, arrays) get no NWB output.
    """
    _check(run, recordings, "NWB output")
    ids = partition_ids(recordings)
    out = {}
    for k in shard_partitions(recordings, shard, n_shards):
        if isinstance(_reader(recordings[k]), NWBDataset):
            out[ids[k]] = partial(_nwb_payload_of, spikes[ids[k]])
    return out


def _nwb_payload_of(loader: Loader) -> dict[str, Any]:
    return nwb_rates_payload(loader())


def _merged(shards: tuple[dict[str, Loader], ...]) -> dict[str, Loader]:
    merged: dict[str, Loader] = {}
    for part in shards:
        merged.update(part)
    return merged


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
    dff = _merged(dff_shards)
    keys = list(partition_ids(recordings).values())
    tables = []
    for k in keys:
        table = dff[k]()
        tables.append(table[QC_COLUMNS].assign(recording=k))
        del table
    qc = pd.concat(tables, ignore_index=True)[["recording", *QC_COLUMNS]]
    nu = qc["noise_level_nu"].to_numpy(float)
    examples = []
    for i in _qc_picks(nu, params.get("n_examples", 4)):
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
    fig = _draw_qc(nu, examples, float(params.get("max_seconds", 60.0)))
    return qc, fig


def _population(table: pd.DataFrame, bin_s: float | None) -> pd.DataFrame:
    """A decomposition traces table (``neuron, frame_rate_hz, dff``) of one recording;
    NaN frames are set to 0 (baseline) and, with ``bin_s``, frames are averaged in bins."""
    rates = table["frame_rate_hz"].to_numpy(float)
    X = np.stack([np.nan_to_num(np.asarray(d, np.float32)) for d in table["dff"]])
    rate = float(rates[0])
    if bin_s:
        k = max(1, int(round(float(bin_s) * rate)))
        n = X.shape[1] // k * k
        X = X[:, :n].reshape(X.shape[0], -1, k).mean(axis=2)
        rate = rate / k
    return pd.DataFrame(
        {"neuron": table["trace_id"].astype(str), "frame_rate_hz": rate, "dff": list(X)}
    )


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
    dff = _merged(dff_shards)
    nmf_params = {k: v for k, v in params.items() if k != "bin_s"}
    comps, curves, assigns, figures = [], [], [], {}
    for k in partition_ids(recordings).values():
        table = dff[k]()
        traces = _population(table, params.get("bin_s"))
        where = str(table["source"].iloc[0]) if "source" in table and len(table) else k
        n_bins = len(traces["dff"].iloc[0]) if len(traces) else 0
        if len(traces) < 2 or n_bins < 3:
            logger.warning(
                "recording %s: %d trace(s) of %d time bins; NMF needs at least 2 cells and 3 "
                "bins, skipped",
                where,
                len(traces),
                n_bins,
            )
            continue
        nmf_params_k = dict(nmf_params)
        if nmf_params_k.get("max_components"):
            nmf_params_k["max_components"] = min(int(nmf_params_k["max_components"]), len(traces))
        comp, curve, assign, _ = decompose(traces, nmf_params_k, {"methods": []}, name=k)
        comps.append(comp.assign(recording=k))
        curves.append(curve.assign(recording=k))
        assigns.append(assign.assign(recording=k))
        figures[k] = partial(plot_recording_nmf, comps[-1], curves[-1], k)
    first = ["recording"]

    def _cat(parts):
        if not parts:  # every recording skipped: empty tables, the run goes on
            return pd.DataFrame({"recording": pd.Series(dtype=str)})
        frame = pd.concat(parts, ignore_index=True)
        return frame[first + [c for c in frame.columns if c not in first]]

    return _cat(comps), _cat(curves), _cat(assigns), figures


def plot_recording_nmf(
    components: pd.DataFrame, curves: pd.DataFrame, recording: str, max_seconds: float = 120.0
) -> plt.Figure:
    """AIC / R² against k (the selected k marked) and the selected components' time courses
    (first ``max_seconds``) and neuron weights."""
    k = int(components["n_components"].iloc[0])
    rate = float(components["frame_rate_hz"].iloc[0])
    fig = plt.figure(figsize=(11, 2.2 + 0.9 * k))
    grid = fig.add_gridspec(k, 3, width_ratios=[1.1, 3, 1.2])
    ax = fig.add_subplot(grid[:, 0])
    ax.plot(curves["n_components"], curves["aic"], "o-", color="k", label="AIC")
    ax.axvline(k, color="C3", ls="--", lw=1)
    ax.set_xlabel("components k")
    ax.set_ylabel("AIC")
    ax2 = ax.twinx()
    ax2.plot(curves["n_components"], curves["r2"], "s:", color="C0", ms=3)
    ax2.set_ylabel("R²", color="C0")
    ax.set_title(f"{recording}: k = {k}", fontsize=9, loc="left")
    for j, row in enumerate(components.sort_values("component").itertuples()):
        tc = np.asarray(row.time_course, float)
        t = np.arange(tc.size) / rate
        keep = t <= max_seconds
        a = fig.add_subplot(grid[j, 1])
        a.plot(t[keep], tc[keep], lw=0.7, color=f"C{j % 10}")
        a.set_ylabel(f"c{j}", rotation=0, labelpad=12)
        if j == k - 1:
            a.set_xlabel("time (s)")
        w = fig.add_subplot(grid[j, 2])
        w.bar(np.arange(len(row.weights)), np.asarray(row.weights), color=f"C{j % 10}", width=1)
        w.set_yticks([])
        if j == k - 1:
            w.set_xlabel("neuron")
    fig.tight_layout()
    return fig


def cut_trials(
    dff: pd.DataFrame,
    spikes: pd.DataFrame,
    trials: pd.DataFrame,
    params: dict,
    name: str = "recording",
) -> dict[str, np.ndarray]:
    """Trials × time × neurons arrays of one recording, ready for the latent-dynamics models.

    Each trial is the window [t − ``before_s``, t + ``after_s``) around its ``align`` time t
    (a column of the trials table, s in the recording's clock: NWB session time). With
    ``after_s: null`` the window ends after the shortest trial (``stop_time − start_time``).
    Frame i of a trace is at ``start_time_s + i / frame_rate_hz``. Trials that do not fit
    inside the recording are left out (their numbers are in ``dropped_trials``).

    Returns:
        ``dff`` and ``rate_hz`` (float32, (n_trials, n_bins, n_neurons); ΔF/F fraction and
        Hz), ``time_s`` (n_bins,: s from the align time), ``trial_index``, ``align_time_s``,
        ``start_time``, ``stop_time`` and every numeric trials column as ``trial_<name>``
        (n_trials,), ``trace_id`` (n_neurons,), ``frame_rate_hz`` and ``dropped_trials``.
    """
    align = str(params.get("align", "start_time"))
    for col in {"start_time", "stop_time", align}:
        if col not in trials.columns:
            raise ValueError(
                f"{name}: the trials table has no {col!r} column (columns: {list(trials.columns)})"
            )
    if list(dff["trace_id"]) != list(spikes["trace_id"]):
        raise ValueError(f"{name}: ΔF/F and spike tables list different traces")
    rates = dff["frame_rate_hz"].to_numpy(float)
    if not np.allclose(rates, rates[0]):
        raise ValueError(f"{name}: traces at different frame rates cannot be cut into trials")
    rate = float(rates[0])
    t0 = float(dff["start_time_s"].iloc[0]) if "start_time_s" in dff.columns else 0.0
    before = float(params.get("before_s", 0.0))
    after = params.get("after_s")
    if after is None:
        after = float((trials["stop_time"] - trials["start_time"]).min())
    n_bins = int(round((before + float(after)) * rate))
    if n_bins < 1:
        raise ValueError(f"{name}: the trial window holds no frame (before_s + after_s ≤ 0)")
    X = np.stack([np.asarray(d, np.float32) for d in dff["dff"]], axis=1)  # (T, N)
    R = np.stack([np.asarray(r, np.float32) for r in spikes["rate_hz"]], axis=1)
    first = np.round((trials[align].to_numpy(float) - before - t0) * rate).astype(int)
    ok = (first >= 0) & (first + n_bins <= X.shape[0])
    if not ok.any():
        raise ValueError(f"{name}: no trial window lies inside the recording")
    if not ok.all():
        logger.warning("%s: %d trial(s) outside the recording left out", name, int((~ok).sum()))
    idx = first[ok][:, None] + np.arange(n_bins)[None, :]
    out = {
        "dff": X[idx],
        "rate_hz": R[idx],
        "time_s": (np.arange(n_bins) / rate - before).astype(np.float64),
        "trial_index": np.flatnonzero(ok),
        "align_time_s": trials[align].to_numpy(float)[ok],
        "trace_id": np.array(dff["trace_id"].astype(str).tolist(), dtype=str),
        "frame_rate_hz": np.float64(rate),
        "dropped_trials": np.flatnonzero(~ok),
    }
    for col in trials.columns:
        values = trials[col]
        if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            key = col if col in ("start_time", "stop_time") else f"trial_{col}"
            out[key] = values.to_numpy()[ok]
    return out


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
    dff, spikes = _merged(shards[:half]), _merged(shards[half:])
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
