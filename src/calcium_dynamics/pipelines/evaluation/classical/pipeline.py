"""Evaluation of classical results (wiring only)."""

from kedro.pipeline import Pipeline, node, pipeline

from calcium_dynamics.pipelines.evaluation.classical import nodes


def create_pipeline(**kwargs) -> Pipeline:
    """HMM state recovery and K selection; GPFA latent recovery; figures."""
    return pipeline(
        [
            node(
                nodes.hmm_state_metrics,
                inputs=["hmm_decoded_states", "hmm_models", "hmm_n_states_curve"],
                outputs=["hmm_state_metrics_table", "hmm_state_metrics"],
                name="hmm_evaluate_states",
            ),
            node(
                nodes.plot_hmm_state_raster,
                inputs="hmm_decoded_states",
                outputs="hmm_state_raster",
                name="hmm_plot_state_raster",
            ),
            node(
                nodes.plot_hmm_n_states_curve,
                inputs="hmm_n_states_curve",
                outputs="hmm_n_states_plot",
                name="hmm_plot_n_states_curve",
            ),
            node(
                nodes.gpfa_latent_metrics,
                inputs=["gpfa_latents", "gpfa_models"],
                outputs=["gpfa_latent_metrics_table", "gpfa_latent_metrics"],
                name="gpfa_evaluate_latents",
            ),
            node(
                nodes.plot_gpfa_latents,
                inputs="gpfa_latents",
                outputs="gpfa_latent_trajectories",
                name="gpfa_plot_latents",
            ),
        ],
        tags=["evaluation", "classical"],
    )
