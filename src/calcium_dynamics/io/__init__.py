"""Custom Kedro datasets (all file reading and writing of the project lives here)."""

from calcium_dynamics.io.ground_truth import GroundTruthDataset, GroundTruthError
from calcium_dynamics.io.spike_model import SpikeModelDataset

__all__ = ["GroundTruthDataset", "GroundTruthError", "SpikeModelDataset"]
