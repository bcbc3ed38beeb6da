"""State matching (Hungarian) and latent R² after linear regression."""

from __future__ import annotations

import numpy as np
import pytest

from calcium_dynamics.metrics.latents_linear import linear_latent_r2
from calcium_dynamics.metrics.states import (
    confusion_matrix,
    match_states,
    state_accuracy,
    state_correlation,
)


def test_permuted_labels_match_perfectly():
    truth = np.array([0, 0, 1, 1, 2, 2, 0])
    permuted = np.array([2, 0, 1])[truth]
    np.testing.assert_array_equal(match_states(truth, permuted), truth)
    assert state_accuracy(truth, permuted) == 1.0
    assert state_correlation(truth, permuted) == pytest.approx(1.0)


def test_known_accuracy_and_correlation():
    truth = np.array([0, 0, 0, 1, 1, 1])
    inferred = np.array([1, 1, 0, 0, 0, 0])  # best match 1→0, 0→1: 5 of 6 bins agree
    assert state_accuracy(truth, inferred) == pytest.approx(5 / 6)
    matched = match_states(truth, inferred)
    np.testing.assert_array_equal(matched, [0, 0, 1, 1, 1, 1])
    assert state_correlation(truth, inferred) == pytest.approx(np.corrcoef(truth, matched)[0, 1])
    np.testing.assert_array_equal(confusion_matrix(truth, inferred), [[1, 2], [3, 0]])


def test_extra_inferred_states_get_fresh_labels():
    truth = np.array([0, 0, 1, 1])
    inferred = np.array([0, 2, 1, 1])
    matched = match_states(truth, inferred)
    assert matched[1] >= 2 and state_accuracy(truth, inferred) == 0.75


def test_bad_state_input():
    with pytest.raises(ValueError, match="equal length"):
        state_accuracy(np.array([0, 1]), np.array([0]))
    with pytest.raises(ValueError, match="integer"):
        state_accuracy(np.array([0.5, 1.0]), np.array([0, 1]))


def test_linear_latent_r2_is_invariant_to_linear_maps():
    rng = np.random.default_rng(0)
    truth = rng.normal(size=(200, 3))
    mixed = truth @ rng.normal(size=(3, 3)) + 5.0
    result = linear_latent_r2(mixed, truth)
    assert result["r2_mean"] == pytest.approx(1.0)
    noisy = linear_latent_r2(truth[:, :1] + 0.0, truth)
    assert noisy["r2_per_dim"][0] == pytest.approx(1.0)
    assert noisy["r2_per_dim"][1] < 0.1
    with pytest.raises(ValueError, match="same T"):
        linear_latent_r2(truth[:10], truth)
