"""Fixtures shared by the GPFA tests."""

from __future__ import annotations

import pytest
import torch

from calcium_dynamics.classical.gpfa import GPFA
from calcium_dynamics.simulate.hmm_gpfa import simulate_gpfa_calcium


@pytest.fixture(scope="module")
def gpfa_sim():
    """Small GPFA simulation: 240 bins, 15 neurons, two latents (ℓ = 20 and 35 bins)."""
    return simulate_gpfa_calcium(
        n_time=240, n_neurons=15, length_scales=(20.0, 35.0), mean_rate=0.4, seed=1
    )


@pytest.fixture
def small_gpfa():
    """Factory of the variational GPFA the fixture simulation fits quickly (2 latents, 120-bin
    segments, ℓ starting at 25 bins, step size 0.05), torch seeded; keyword arguments override."""

    def make(**overrides) -> GPFA:
        torch.manual_seed(0)
        settings = {
            "n_latents": 2,
            "observations": "calcium",
            "ar_order": 2,
            "segment_length": 120,
            "length_scale_init": 25.0,
            "learning_rate": 0.05,
            "init_smoothing_bins": 5.0,
        }
        return GPFA(**{**settings, **overrides})

    return make
