"""latent_dynamics_search: simulate, run population-based training, report (wiring only)."""

from kedro.pipeline import Pipeline, node, pipeline

from calcium_dynamics.pipelines.latent_dynamics_search import nodes


def create_pipeline(**kwargs) -> Pipeline:
    """The search and its reports (``pipeline_registry`` adds the simulated data it reads, so
    it runs on a fresh clone)."""
    search = pipeline(
        [
            node(
                nodes.search_lfads_hyperparameters,
                inputs=[
                    "lorenz_events",
                    "calcium_lorenz_data",
                    "params:lfads",
                    "params:lfads_search",
                ],
                outputs=[
                    "lfads_search_model",
                    "lfads_search_output",
                    "lfads_search_history",
                    "lfads_search_summary",
                ],
                name="lfads_search_population",
            ),
            node(
                nodes.plot_search_history,
                inputs=["lfads_search_history", "params:lfads_search"],
                outputs="lfads_search_figure",
                name="lfads_search_plot",
            ),
            node(
                nodes.evaluate_search_latents,
                inputs=[
                    "lorenz_truth",
                    "lorenz_imaging",
                    "calcium_lorenz_data",
                    "lfads_search_output",
                    "lfads_search_summary",
                    "params:lfads_evaluation",
                ],
                outputs="lfads_search_metrics",
                name="lfads_search_evaluate",
            ),
        ],
        tags=["latent_dynamics_search", "lfads_search"],
    )
    return search
