"""Evaluation of lfads results (wiring only)."""

from kedro.pipeline import Pipeline, node, pipeline

from calcium_dynamics.pipelines.evaluation.lfads import nodes


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(
                nodes.evaluate_lorenz_latents,
                inputs=[
                    "lorenz_truth",
                    "lorenz_imaging",
                    "lorenz_events",
                    "radical_output",
                    "autolfads_output",
                    "params:lfads_evaluation",
                ],
                outputs=[
                    "lfads_lorenz_latent_r2",
                    "lfads_lorenz_latent_metrics",
                    "lfads_lorenz_trajectories",
                ],
                name="lfads_evaluate_lorenz_latents",
            ),
            node(
                nodes.evaluate_calcium_latents,
                inputs=[
                    "calcium_lorenz_data",
                    "calcium_lfads_output",
                    "gaussian_lfads_output",
                    "params:lfads_evaluation",
                ],
                outputs=["lfads_calcium_latent_r2", "lfads_calcium_latent_metrics"],
                name="lfads_evaluate_calcium_latents",
            ),
        ],
        tags=["evaluation", "lfads"],
    )
