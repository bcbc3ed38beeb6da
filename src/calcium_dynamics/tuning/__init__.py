"""Hyperparameter search for the LFADS family: population-based training on Ray Tune."""

from calcium_dynamics.tuning.search_space import (
    HyperParameter,
    apply_hyperparameters,
    explore,
    initial_population,
    parse_search_space,
)
from calcium_dynamics.tuning.stopping import PopulationPlateau

__all__ = [
    "HyperParameter",
    "PopulationPlateau",
    "apply_hyperparameters",
    "explore",
    "initial_population",
    "parse_search_space",
]
