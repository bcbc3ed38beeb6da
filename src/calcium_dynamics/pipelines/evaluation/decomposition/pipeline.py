"""Evaluation of decomposition results (wiring only)."""

from functools import partial, update_wrapper

from kedro.pipeline import Pipeline, node, pipeline

from calcium_dynamics.pipelines.evaluation.decomposition import nodes


def _score(network: str):
    return update_wrapper(partial(nodes.score_network, network=network), nodes.score_network)


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            *[
                node(
                    _score(net),
                    inputs=[f"nmf_{net}_components", f"nmf_{net}_traces", f"nmf_{net}_sources"],
                    outputs=f"nmf_{net}_scores",
                    name=f"nmf_score_{net}_network",
                )
                for net in ("nodal", "process")
            ],
            node(
                nodes.collect_metrics,
                inputs=[
                    "nmf_nodal_scores",
                    "nmf_process_scores",
                    "nmf_nodal_curves",
                    "nmf_process_curves",
                    "nmf_population_curves",
                ],
                outputs=["nmf_network_scores", "nmf_model_selection_curves", "nmf_metrics"],
                name="nmf_collect_metrics",
            ),
            node(
                nodes.plot_model_selection,
                inputs="nmf_model_selection_curves",
                outputs="nmf_model_selection_plot",
                name="nmf_plot_model_selection",
            ),
            node(
                nodes.plot_time_courses,
                inputs=[
                    "nmf_process_components",
                    "nmf_process_traces",
                    "nmf_process_sources",
                    "nmf_population_components",
                ],
                outputs="nmf_time_courses_plot",
                name="nmf_plot_time_courses",
            ),
            node(
                nodes.plot_weight_maps,
                inputs=[
                    "nmf_nodal_components",
                    "nmf_nodal_traces",
                    "nmf_process_components",
                    "nmf_population_components",
                ],
                outputs="nmf_weight_maps_plot",
                name="nmf_plot_weight_maps",
            ),
        ],
        tags=["evaluation", "nmf_evaluation"],
    )
