"""decomposition: NMF with AIC model selection against PCA / ICA (wiring only)."""

from functools import partial, update_wrapper

from kedro.pipeline import Pipeline, node, pipeline

from calcium_dynamics.pipelines.decomposition import nodes

NETWORKS = ("nodal", "process")


def _decompose(name: str):
    fn = partial(nodes.decompose, name=name)
    return update_wrapper(fn, nodes.decompose)


def create_simulation_pipeline(**kwargs) -> Pipeline:
    """Simulated networks with ground truth (also part of data_engineering)."""
    return pipeline(
        [
            node(
                nodes.simulate_nodal,
                inputs=["params:decomposition.nodal_network", "params:decomposition.calcium_model"],
                outputs=["nmf_nodal_traces", "nmf_nodal_sources"],
                name="simulate_nmf_nodal_network",
            ),
            node(
                nodes.simulate_process,
                inputs=[
                    "params:decomposition.process_network",
                    "params:decomposition.calcium_model",
                ],
                outputs=["nmf_process_traces", "nmf_process_sources"],
                name="simulate_nmf_process_network",
            ),
            node(
                nodes.simulate_population_recording,
                inputs=[
                    "params:decomposition.population_recording",
                    "params:decomposition.calcium_model",
                ],
                outputs="population_traces@simulated",
                name="simulate_nmf_population_recording",
            ),
        ],
        tags=["decomposition", "simulation"],
    )


def create_decomposition_pipeline(**kwargs) -> Pipeline:
    """NMF (+ PCA / ICA) of the simulated networks and of ``population_traces``."""
    inputs = {
        "nodal": "nmf_nodal_traces",
        "process": "nmf_process_traces",
        "population": "population_traces@recording",
    }
    return pipeline(
        [
            node(
                _decompose(dataset),
                inputs=[dataset, "params:decomposition.nmf", "params:decomposition.comparison"],
                outputs=[
                    f"nmf_{key}_components",
                    f"nmf_{key}_curves",
                    f"nmf_{key}_assignments",
                    f"nmf_{key}_timings",
                ],
                name=f"nmf_decompose_{key}",
            )
            for key, dataset in inputs.items()
        ],
        tags=["decomposition"],
    )


def create_pipeline(**kwargs) -> Pipeline:
    """Decomposition nodes, with the simulations they need (runs on a fresh clone)."""
    return create_simulation_pipeline() + create_decomposition_pipeline()
