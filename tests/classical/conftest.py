"""Fixtures shared by the GPFA tests."""

from __future__ import annotations

import pytest

from calcium_dynamics.simulate.hmm_gpfa import simulate_gpfa_calcium


@pytest.fixture(scope="module")
def gpfa_sim():
    """Small GPFA simulation: 240 bins, 15 neurons, two latents (ℓ = 20 and 35 bins)."""
    return simulate_gpfa_calcium(
        n_time=240, n_neurons=15, length_scales=(20.0, 35.0), mean_rate=0.4, seed=1
    )
