"""Classical latent models (HMM, GPFA) on simulated data (wiring only)."""

from kedro.pipeline import Pipeline


def create_pipeline(**kwargs) -> Pipeline:
    """Model fitting / inference nodes."""
    return Pipeline([])


def create_simulation_pipeline(**kwargs) -> Pipeline:
    """Simulated data with ground truth (also part of data_engineering)."""
    return Pipeline([])
