import numpy as np
import pytest

from calcium_dynamics.signal import match_noise_level, n_noise_replicas, noise_level_nu


@pytest.mark.parametrize("target", [2.0, 4.0, 8.0])
def test_noise_matching_hits_the_target_level(target):
    rng = np.random.default_rng(5)
    rate = 30.0
    t = np.arange(9000) / rate
    clean = 0.5 * np.exp(-((t % 10) / 1.0)) + rng.normal(0, 0.002, t.size)
    noisy = match_noise_level(clean, rate, target, rng)
    assert noisy.shape == clean.shape
    assert noise_level_nu(noisy, rate) == pytest.approx(target, rel=0.05)


def test_added_noise_is_shot_noise_like():
    rng = np.random.default_rng(6)
    rate = 30.0
    base = np.where(np.arange(20_000) < 10_000, 0.0, 3.0)  # ΔF/F 0, then 3 (4x brighter)
    noisy = match_noise_level(base, rate, 5.0, rng)
    added = noisy - base
    ratio = added[10_000:].std() / added[:10_000].std()
    assert ratio == pytest.approx(2.0, rel=0.05)  # √(3 + 1) / √(0 + 1)


def test_replica_count_follows_the_rule():
    assert n_noise_replicas(1.0, 2.0) == 5  # ceil(1.2 * 4)
    assert n_noise_replicas(0.5, 8.0) == 308
    assert n_noise_replicas(0.1, 9.0) == 500
    assert n_noise_replicas(3.0, 2.0) == 0


def test_a_trace_noisier_than_the_target_is_refused():
    rng = np.random.default_rng(7)
    trace = rng.normal(0, 0.1, 1000)
    with pytest.raises(ValueError, match="exceeds the target"):
        match_noise_level(trace, 30.0, 1.0, rng)
