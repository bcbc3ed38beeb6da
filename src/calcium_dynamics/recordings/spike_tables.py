"""Spike rates, events and routing of one recording's ΔF/F table (one row per trace)."""

from __future__ import annotations

import logging
import zlib
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd

from calcium_dynamics.models.spikes.api import infer_table, log_warnings
from calcium_dynamics.models.spikes.routing import Limits, ModelSet
from calcium_dynamics.recordings.dff_tables import CARRIED_COLUMNS

logger = logging.getLogger(__name__)


@contextmanager
def torch_threads(n: int | None):
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


def batch_seed(seed: int, key: str, batch: int) -> int:
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
    "expected_corr",
    "interval_width_hz",
    "warnings",
    "rate_hz",
    "spike_times_s",
]
#: with ``interval``: the bounds of the calibrated interval (float32 arrays, Hz)
INTERVAL_COLUMNS = ["rate_lo_hz", "rate_hi_hz"]


def calibrated_interval(models: ModelSet, frame_rate_hz: float, interval, where: str):
    """``interval`` if the model this recording routes to has calibration tables; else None
    with a logged warning naming the model (the recording still gets its rates)."""
    if interval is None:
        return None
    cand = models.choose(float(frame_rate_hz))
    if cand.model.metadata.get("calibration"):
        return float(interval)
    logger.warning(
        "recording %s: model %s has no calibration tables: rates without intervals "
        "(calibrated models: see docs/howto/intervals.md)",
        where,
        cand.name,
    )
    return None


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
            limits, see ``Limits``), ``interval`` (level of calibrated rate intervals, e.g.
            0.9, or None; models without calibration tables give rates only, with a warning).
        key: the recording's partition id.

    Returns:
        one row per trace, columns :data:`SPIKE_COLUMNS` (``rate_hz``: float32 array over the
        recording's frames, Hz; ``spike_times_s``: s from its first frame;
        ``model_noise_level``: the zoo level used, NaN for ENS²; ``warnings``) + the carried
        columns; with an interval also :data:`INTERVAL_COLUMNS`.
    """
    if dff.empty:
        raise ValueError(f"recording {key!r} holds no traces")
    carried = [c for c in CARRIED_COLUMNS if c in dff.columns]
    where = str(dff["source"].iloc[0]) if "source" in dff.columns else key
    limits = Limits.from_params(params.get("limits"))
    interval = calibrated_interval(
        models, dff["frame_rate_hz"].iloc[0], params.get("interval"), where
    )
    with torch_threads(params.get("torch_threads", 1)):
        table = infer_table(
            models,
            dff[["trace_id", "frame_rate_hz", "dff"]],
            events=bool(params.get("events", True)),
            stride=int(params.get("stride", 1)),
            precision=str(params.get("precision", "fp32")),
            seed=batch_seed(params.get("seed", 0), key, 0),
            limits=limits,
            source=f"recording {where}",
            log=False,
            progress=True,
            interval=interval,
        )
    timing = dict(table.attrs.get("timing_s", {}))
    table["plane"] = dff["plane"].to_numpy()
    table["cell"] = dff["cell"].to_numpy()
    for c in carried:
        table[c] = dff[c].to_numpy()
    log_warnings(table, models, f"recording {where}")  # one summary line per recording
    table = table[SPIKE_COLUMNS + (INTERVAL_COLUMNS if interval else []) + carried]
    table.attrs["timing_s"] = timing
    return table


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
