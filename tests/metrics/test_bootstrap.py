"""The hierarchical bootstrap covers a two-level population's median about 95 % of the time,
where the neuron-level bootstrap, blind to the clustering, covers it far less often."""

from __future__ import annotations

import numpy as np
import pytest

from calcium_dynamics.metrics.bootstrap import hierarchical_bootstrap, hierarchical_median_ci
from calcium_dynamics.metrics.spikes import median_with_ci


def _population(rng, n_groups=16, tau=1.0, sigma=1.0):
    """Group effects N(0, τ²), units N(effect, σ²), 5–20 units per group: population median 0."""
    sizes = rng.integers(5, 21, size=n_groups)
    effects = rng.normal(0.0, tau, size=n_groups)
    values = np.concatenate([rng.normal(e, sigma, size=n) for e, n in zip(effects, sizes)])
    groups = np.repeat(np.arange(n_groups), sizes)
    return values, groups


def test_coverage_of_a_two_level_population():
    rng = np.random.default_rng(0)
    hier, flat, n_sim = 0, 0, 200
    for sim in range(n_sim):
        values, groups = _population(rng)
        _, lo, hi = hierarchical_median_ci(values, groups, n_boot=400, seed=sim)
        hier += lo <= 0.0 <= hi
        _, lo, hi = median_with_ci(values, n_boot=400, seed=sim)
        flat += lo <= 0.0 <= hi
    assert 0.88 <= hier / n_sim <= 0.99  # nominal 95 %
    assert flat / n_sim < 0.7  # the neuron-level interval is far too narrow here


def test_one_group_per_unit_is_the_plain_bootstrap_distribution():
    """With every unit its own group, drawing groups is drawing units: the replicates match
    the neuron-level bootstrap's in distribution (same mean and spread within 5 %)."""
    rng = np.random.default_rng(1)
    values = rng.normal(size=300)
    reps = hierarchical_bootstrap(values, np.arange(300), n_boot=4000, seed=0)
    plain = np.median(rng.choice(values, size=(4000, 300)), axis=1)
    assert abs(reps.mean() - plain.mean()) < 0.01
    assert reps.std() == pytest.approx(plain.std(), rel=0.05)


def test_nans_are_left_out_and_shapes_checked():
    values = np.array([1.0, np.nan, 3.0, 5.0])
    groups = np.array(["a", "a", "b", "b"])
    med, lo, hi = hierarchical_median_ci(values, groups, n_boot=200)
    assert med == 3.0 and 1.0 <= lo <= hi <= 5.0
    with pytest.raises(ValueError, match="one length"):
        hierarchical_bootstrap(values, groups[:3])
