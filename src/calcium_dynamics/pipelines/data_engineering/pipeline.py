"""data_engineering: ground-truth database → validated recordings, summaries, training tables."""

from kedro.pipeline import Pipeline, node, pipeline

from calcium_dynamics.pipelines.data_engineering import nodes


def create_pipeline(**kwargs) -> Pipeline:
    """The ground-truth nodes (the registered ``data_engineering`` pipeline adds every
    capability's simulations to them in ``pipeline_registry``)."""
    return create_ground_truth_pipeline()


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
