"""evaluation: metrics tables and figures in data/08_reporting for every capability."""

from kedro.pipeline import Pipeline

from calcium_dynamics.pipelines.evaluation.classical import pipeline as classical
from calcium_dynamics.pipelines.evaluation.decomposition import pipeline as decomposition
from calcium_dynamics.pipelines.evaluation.lfads import pipeline as lfads
from calcium_dynamics.pipelines.evaluation.spikes import pipeline as spikes


def create_pipeline(**kwargs) -> Pipeline:
    return (
        spikes.create_pipeline()
        + lfads.create_pipeline()
        + classical.create_pipeline()
        + decomposition.create_pipeline()
    )
