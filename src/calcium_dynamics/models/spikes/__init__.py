"""Spike models a lab applies: the shipped zoos, routing per recording and cell, model cards,
zoo training, calibrated rate intervals, the one-call API :func:`infer_spikes` and the
closed-loop :class:`SpikeStream`."""

from calcium_dynamics.models.spikes.api import SpikeInference, infer_spikes, infer_table, model_set
from calcium_dynamics.models.spikes.routing import Limits, ModelSet
from calcium_dynamics.models.spikes.stream import SpikeStream

__all__ = [
    "Limits",
    "ModelSet",
    "SpikeInference",
    "SpikeStream",
    "infer_spikes",
    "infer_table",
    "model_set",
]
