"""decomposition: NMF with AIC model selection against PCA / ICA (wiring only)."""

from kedro.pipeline import Pipeline


def create_pipeline(**kwargs) -> Pipeline:
    """Decomposition nodes."""
    return Pipeline([])


def create_simulation_pipeline(**kwargs) -> Pipeline:
    """Simulated networks with ground truth (also part of data_engineering)."""
    return Pipeline([])
