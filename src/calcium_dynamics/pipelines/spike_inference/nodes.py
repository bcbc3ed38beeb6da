"""Kedro nodes of the spike_inference pipeline (thin wrappers around ``models/``)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from calcium_dynamics.models.spike_data import split_by_neuron
from calcium_dynamics.models.spike_models import SpikeModel
from calcium_dynamics.models.spike_training import train_cascade_zoo, train_ens2
from calcium_dynamics.models.spikes.api import infer_table, model_set
from calcium_dynamics.models.spikes.routing import Limits, ModelSet

logger = logging.getLogger(__name__)

TRACE_COLUMNS = ("trace_id", "frame_rate_hz", "dff")


def select_training_neurons(table: pd.DataFrame, params: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Excitatory (or chosen) recordings, split by neuron into training and held-out sets.

    ``params``: ``include_inhibitory`` (bool), ``holdout_fraction`` (share of neurons kept
    out of training for evaluation), ``seed``.
    """
    if not params.get("include_inhibitory", False):
        table = table[~table["inhibitory"].astype(bool)]
    if table.empty:
        raise ValueError("no training recordings left after excluding inhibitory datasets")
    train, held = split_by_neuron(
        table, float(params.get("holdout_fraction", 0.0)), int(params.get("seed", 0))
    )
    logger.info(
        "training on %d neurons, %d held out for evaluation",
        train.groupby(["dataset", "neuron"]).ngroups,
        held.groupby(["dataset", "neuron"]).ngroups if len(held) else 0,
    )
    return train, held


def train_ens2_model(table: pd.DataFrame, params: dict) -> SpikeModel:
    """The global ENS² model (see ``models.spike_training.train_ens2``)."""
    return train_ens2(table, params)


def train_cascade_model_zoo(table: pd.DataFrame, params: dict) -> SpikeModel:
    """The CASCADE zoo: one ensemble per noise level (``models.spike_training``)."""
    return train_cascade_zoo(table, params)


def _check_traces(traces: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in TRACE_COLUMNS if c not in traces.columns]
    if missing:
        raise ValueError(
            f"traces_to_infer lacks column(s) {missing}: it needs one row per trace with "
            "'trace_id', 'frame_rate_hz' (Hz) and 'dff' (ΔF/F array)"
        )
    if traces["trace_id"].duplicated().any():
        dup = traces.loc[traces["trace_id"].duplicated(), "trace_id"].iloc[0]
        raise ValueError(f"traces_to_infer: trace_id {dup!r} appears more than once")
    return traces


def infer_spikes(model: SpikeModel | ModelSet, traces: pd.DataFrame, params: dict) -> pd.DataFrame:
    """Rates (Hz, at each trace's own frame rate) and spike events (s) for every trace, through
    the one path from traces to spikes (:func:`calcium_dynamics.models.spikes.infer_table`).

    ``params``: ``stride`` (ENS² window stride), ``precision`` (ENS² arithmetic: ``fp32``,
    ``bf16`` or ``auto``), ``events`` (bool), ``seed``, ``limits`` (plausibility limits).
    Returns one row per trace: ``trace_id, frame_rate_hz, noise_level_nu, rate_hz`` (array),
    ``spike_times_s`` (array, s from the trace's first frame), ``model``, ``sigma_s`` and the
    routing columns (``model_version, model_noise_level, warnings``, …).
    """
    traces = _check_traces(traces)
    return infer_table(
        model_set(model),
        traces[["trace_id", "frame_rate_hz", "dff"]],
        events=bool(params.get("events", True)),
        stride=int(params.get("stride", 1)),
        precision=str(params.get("precision", "fp32")),
        seed=int(params.get("seed", 0)),
        limits=Limits.from_params(params.get("limits")),
        source="traces_to_infer",
    )


def heldout_traces(held: pd.DataFrame, recordings: pd.DataFrame) -> pd.DataFrame:
    """The held-out neurons' original recordings as a ``traces_to_infer`` table, with their
    true spike times for evaluation."""
    if held.empty:
        return pd.DataFrame(columns=[*TRACE_COLUMNS, "spike_times_s", "dataset", "neuron"])
    keys = set(zip(held["dataset"], held["neuron"]))
    sel = recordings[[k in keys for k in zip(recordings["dataset"], recordings["neuron"])]]
    return pd.DataFrame(
        {
            "trace_id": [
                f"{d}/{n}/{r}" for d, n, r in zip(sel["dataset"], sel["neuron"], sel["recording"])
            ],
            "frame_rate_hz": sel["frame_rate_hz"].to_numpy(float),
            "dff": list(sel["dff"]),
            "spike_times_s": [
                np.asarray(s) - t0 for s, t0 in zip(sel["spike_times_s"], sel["t0_s"])
            ],
            "dataset": sel["dataset"].to_numpy(),
            "neuron": sel["neuron"].to_numpy(),
        }
    )
