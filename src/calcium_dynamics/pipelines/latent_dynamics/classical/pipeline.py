"""Classical latent models (HMM, GPFA) on simulated data (wiring only)."""

from kedro.pipeline import Pipeline, node, pipeline

from calcium_dynamics.pipelines.latent_dynamics.classical import nodes


def create_pipeline(**kwargs) -> Pipeline:
    """Fit each HMM and GPFA observation model; decode states and latents."""
    return pipeline(
        [
            node(
                nodes.fit_hmm_models,
                inputs=["hmm_synthetic_data", "params:hmm"],
                outputs=["hmm_models", "hmm_decoded_states", "hmm_fit_times"],
                name="hmm_fit_models",
            ),
            node(
                nodes.hmm_n_states_curve,
                inputs=["hmm_synthetic_data", "params:hmm"],
                outputs="hmm_n_states_curve",
                name="hmm_select_n_states",
            ),
            node(
                nodes.deconvolve_gpfa_events,
                inputs=["gpfa_synthetic_data", "params:gpfa"],
                outputs="gpfa_oasis_events",
                name="gpfa_deconvolve_events",
            ),
            node(
                nodes.fit_gpfa_models,
                inputs=["gpfa_synthetic_data", "gpfa_oasis_events", "params:gpfa"],
                outputs=["gpfa_models", "gpfa_latents", "gpfa_fit_times"],
                name="gpfa_fit_models",
            ),
        ],
        tags=["latent_dynamics", "classical"],
    )


def create_simulation_pipeline(**kwargs) -> Pipeline:
    """Simulated data with ground truth (also part of data_engineering)."""
    return pipeline(
        [
            node(
                nodes.simulate_hmm_data,
                inputs="params:hmm",
                outputs="hmm_synthetic_data",
                name="hmm_simulate_data",
            ),
            node(
                nodes.simulate_gpfa_data,
                inputs="params:gpfa",
                outputs="gpfa_synthetic_data",
                name="gpfa_simulate_data",
            ),
        ],
        tags=["classical", "simulation"],
    )
