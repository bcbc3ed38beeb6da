"""Kedro nodes of the decomposition pipeline (thin wrappers; the catalog does all I/O).

Simulation tables (one row per neuron / source, arrays in cells, as elsewhere in the project):

* traces: the decomposition traces table (``neuron``, ``frame_rate_hz``, ``dff``); simulated
  networks add their truth: ``node`` (node index, −1 for the process network), ``weights``
  (true source → neuron weights, one per source) and ``spikes`` (uint8 array over time).
* sources: ``source``, ``frame_rate_hz``, ``spikes`` (per step), ``activity`` (the spikes through
  the noise-free calcium kernel).
* components, curves, assignments, timings: see
  :mod:`calcium_dynamics.classical.decomposition_tables` (``decompose`` is the node).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from calcium_dynamics.classical.decomposition_tables import (  # noqa: F401 - the node functions
    decompose,
    traces_matrix,
)
from calcium_dynamics.simulate.networks import (
    CalciumModel,
    NetworkSimulation,
    simulate_nodal_network,
    simulate_process_network,
)

logger = logging.getLogger(__name__)


# -- simulations ---------------------------------------------------------------------------
def _network_tables(sim: NetworkSimulation) -> tuple[pd.DataFrame, pd.DataFrame]:
    n = sim.n_neurons
    node = sim.membership if sim.membership is not None else np.full(n, -1)
    traces = pd.DataFrame(
        {
            "neuron": [f"n{i:03d}" for i in range(n)],
            "frame_rate_hz": sim.frame_rate_hz,
            "dff": list(sim.dff.T.astype(np.float32)),
            "node": node.astype(int),
            "weights": list(sim.weights.T.astype(float)),
            "spikes": list(sim.spikes.T.astype(np.uint8)),
        }
    )
    sources = pd.DataFrame(
        {
            "source": np.arange(sim.n_sources),
            "frame_rate_hz": sim.frame_rate_hz,
            "spikes": list(sim.source_spikes.T.astype(np.float32)),
            "activity": list(sim.source_activity.T.astype(np.float32)),
        }
    )
    return traces, sources


def _network_kwargs(params: dict[str, Any]) -> dict[str, Any]:
    kwargs = dict(params)
    rate = kwargs.pop("frame_rate_hz")
    if not rate or rate <= 0:
        raise ValueError(f"frame_rate_hz must be > 0, got {rate!r}")
    kwargs["dt_s"] = 1.0 / rate
    if "strong_range" in kwargs:
        kwargs["strong_range"] = tuple(kwargs["strong_range"])
    return kwargs


def simulate_nodal(
    network: dict[str, Any], calcium: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Nodal network → (traces with truth, node activity)."""
    sim = simulate_nodal_network(**_network_kwargs(network), calcium_model=CalciumModel(**calcium))
    logger.info(
        "nodal network: %d neurons, %d nodes, %.0f s, mean rate %.2f Hz",
        sim.n_neurons,
        sim.n_sources,
        sim.dff.shape[0] / sim.frame_rate_hz,
        sim.spikes.mean() * sim.frame_rate_hz,
    )
    return _network_tables(sim)


def simulate_process(
    network: dict[str, Any], calcium: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Random-process network → (traces with truth, process activity)."""
    sim = simulate_process_network(
        **_network_kwargs(network), calcium_model=CalciumModel(**calcium)
    )
    logger.info(
        "random-process network: %d neurons, %d processes, %.0f s, mean rate %.2f Hz",
        sim.n_neurons,
        sim.n_sources,
        sim.dff.shape[0] / sim.frame_rate_hz,
        sim.spikes.mean() * sim.frame_rate_hz,
    )
    return _network_tables(sim)


def simulate_population_recording(network: dict[str, Any], calcium: dict[str, Any]) -> pd.DataFrame:
    """The default population recording: a small random-process network, traces only."""
    traces, _ = simulate_process(network, calcium)
    return traces[["neuron", "frame_rate_hz", "dff"]]
