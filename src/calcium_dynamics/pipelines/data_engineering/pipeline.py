"""data_engineering: ground-truth database → validated recordings, summaries, training tables."""

from kedro.pipeline import Pipeline, node, pipeline

from calcium_dynamics.pipelines.data_engineering import nodes
from calcium_dynamics.pipelines.decomposition import pipeline as decomposition
from calcium_dynamics.pipelines.latent_dynamics.classical import pipeline as classical
from calcium_dynamics.pipelines.latent_dynamics.lfads import pipeline as lfads


def create_pipeline(**kwargs) -> Pipeline:
    return (
        create_ground_truth_pipeline()
        + lfads.create_simulation_pipeline()
        + classical.create_simulation_pipeline()
        + decomposition.create_simulation_pipeline()
    )


def create_ground_truth_pipeline(**kwargs) -> Pipeline:
    """Ground-truth database → validated recordings, summaries, training tables."""
    return pipeline(
        [
            node(
                nodes.validate_recordings,
                inputs="ground_truth_raw",
                outputs=["ground_truth_recordings", "ground_truth_rejections"],
                name="validate_ground_truth",
            ),
            node(
                nodes.summarize_neurons,
                inputs="ground_truth_recordings",
                outputs="ground_truth_summary",
                name="summarize_ground_truth_neurons",
            ),
            node(
                nodes.summarize_datasets,
                inputs=["ground_truth_summary", "ground_truth_recordings"],
                outputs="ground_truth_datasets",
                name="summarize_ground_truth_datasets",
            ),
            node(
                nodes.plot_ground_truth_overview,
                inputs="ground_truth_summary",
                outputs="ground_truth_overview",
                name="plot_ground_truth_overview",
            ),
            node(
                nodes.build_training_table,
                inputs=["ground_truth_recordings", "params:training_tables.ens2"],
                outputs="ens2_training_table",
                name="build_ens2_training_table",
            ),
            node(
                nodes.build_training_table,
                inputs=["ground_truth_recordings", "params:training_tables.cascade"],
                outputs="cascade_training_table",
                name="build_cascade_training_table",
            ),
        ],
        tags=["data_engineering", "ground_truth"],
    )
