"""LFADS family (RADICaL, calcium-LFADS, AutoLFADS) on simulated Lorenz data (wiring only)."""

from kedro.pipeline import Pipeline, node, pipeline

from calcium_dynamics.pipelines.latent_dynamics.lfads import nodes


def create_pipeline(**kwargs) -> Pipeline:
    """Train the four variants; write models, inferred rates and factors."""
    return pipeline(
        [
            node(
                nodes.train_radical,
                inputs=["lorenz_events", "params:lfads"],
                outputs=["radical_model", "radical_output"],
                name="radical_train",
            ),
            node(
                nodes.train_autolfads,
                inputs=["lorenz_events", "params:lfads"],
                outputs=["autolfads_model", "autolfads_output"],
                name="autolfads_train",
            ),
            node(
                nodes.train_calcium_lfads,
                inputs=["calcium_lorenz_data", "params:lfads"],
                outputs=["calcium_lfads_model", "calcium_lfads_output"],
                name="calcium_lfads_train",
            ),
            node(
                nodes.train_gaussian_lfads,
                inputs=["calcium_lorenz_data", "params:lfads"],
                outputs=["gaussian_lfads_model", "gaussian_lfads_output"],
                name="gaussian_lfads_train",
            ),
        ],
        tags=["latent_dynamics", "lfads"],
    )


def create_simulation_pipeline(**kwargs) -> Pipeline:
    """Simulated data with ground truth (also part of data_engineering)."""
    return pipeline(
        [
            node(
                nodes.simulate_lorenz_imaging,
                inputs="params:lorenz_simulation",
                outputs=["lorenz_truth", "lorenz_imaging"],
                name="lorenz_simulate_imaging",
            ),
            node(
                nodes.deconvolve_lorenz_imaging,
                inputs=["lorenz_imaging", "params:lorenz_simulation.deconvolution"],
                outputs="lorenz_events",
                name="lorenz_deconvolve",
            ),
            node(
                nodes.simulate_calcium_lorenz,
                inputs="params:calcium_lorenz_simulation",
                outputs="calcium_lorenz_data",
                name="calcium_lorenz_simulate",
            ),
        ],
        tags=["simulation", "lfads"],
    )
