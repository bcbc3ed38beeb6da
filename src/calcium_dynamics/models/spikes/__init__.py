"""Spike models a lab applies: the shipped zoos, routing per recording and cell, model cards,
zoo training and the one-call API :func:`infer_spikes`."""

from calcium_dynamics.models.spikes.api import SpikeInference, infer_spikes, infer_table, model_set
from calcium_dynamics.models.spikes.routing import Limits, ModelSet

__all__ = ["Limits", "ModelSet", "SpikeInference", "infer_spikes", "infer_table", "model_set"]
