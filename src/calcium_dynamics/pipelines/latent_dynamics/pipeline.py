"""latent_dynamics: the LFADS family and the classical models, each with its simulated data."""

from kedro.pipeline import Pipeline

from calcium_dynamics.pipelines.latent_dynamics.classical import pipeline as classical
from calcium_dynamics.pipelines.latent_dynamics.lfads import pipeline as lfads


def create_pipeline(**kwargs) -> Pipeline:
    # The simulations are included so `kedro run --pipeline latent_dynamics` runs on a fresh clone.
    return (
        lfads.create_simulation_pipeline()
        + lfads.create_pipeline()
        + classical.create_simulation_pipeline()
        + classical.create_pipeline()
    )
