import numpy as np
import pytest

from calcium_dynamics.metrics.spikes import error_rate
from calcium_dynamics.signal import smooth_spike_counts
from calcium_dynamics.signal.spike_events import greedy_spike_events, sampled_spike_events


def _rate(seed=0, fr=60.0, n=6000, p=0.03):
    rng = np.random.default_rng(seed)
    counts = (rng.random(n) < p).astype(float)
    return counts, smooth_spike_counts(counts, fr, 0.025)


def test_greedy_events_recover_spikes_from_their_own_smoothed_train():
    counts, rate = _rate()
    events = greedy_spike_events(rate, 60.0, 0.025)
    truth = np.flatnonzero(counts) / 60.0
    assert abs(len(events) - len(truth)) <= 0.05 * len(truth)
    assert error_rate(truth, events, 0.05) < 0.1


def test_greedy_single_spike_lands_on_its_frame():
    rate = np.zeros(200)
    rate[80:101] = smooth_spike_counts(np.eye(1, 21, 10).ravel(), 60.0, 0.025)
    events = greedy_spike_events(rate, 60.0, 0.025, t0_s=1.0)
    np.testing.assert_allclose(events, [1.0 + 90 / 60.0])


def test_sampled_events_match_count_and_timing():
    counts, rate = _rate(seed=1)
    events = sampled_spike_events(rate, 60.0, 0.025, rng=np.random.default_rng(0))
    truth = np.flatnonzero(counts) / 60.0
    assert len(events) == pytest.approx(len(truth), rel=0.05)
    assert error_rate(truth, events, 0.05) < 0.1


def test_zero_rate_gives_no_events():
    assert greedy_spike_events(np.zeros(100), 30.0, 0.05).size == 0
    assert sampled_spike_events(np.zeros(100), 30.0, 0.05).size == 0


def test_many_traces_at_once_agree_with_the_per_trace_sampler():
    """The vectorised sampler (chains in lockstep over traces) against the per-trace one:
    the same counts and timing accuracy on traces of different lengths, nothing for a
    silent trace, and the same output for the same seed."""
    from calcium_dynamics.signal.spike_events import sampled_spike_events_many

    fr, sigma = 30.0, 0.05
    rates, truths = [], []
    for seed, n in enumerate([3000, 4500, 6000, 2000] * 3):
        rng = np.random.default_rng(seed)
        counts = (rng.random(n) < 0.05).astype(float)
        rates.append(smooth_spike_counts(counts, fr, sigma))
        truths.append(np.flatnonzero(counts) / fr)
    rates.append(np.zeros(500))
    many = sampled_spike_events_many(rates, fr, sigma, rng=np.random.default_rng(0))
    assert many[-1].size == 0 and len(many) == len(rates)
    single = [sampled_spike_events(r, fr, sigma, rng=np.random.default_rng(0)) for r in rates]
    for m, s, truth in zip(many, single, truths):
        assert len(m) == pytest.approx(len(truth), rel=0.05)
        assert error_rate(truth, m, 0.1) < 0.06
        assert abs(error_rate(truth, m, 0.1) - error_rate(truth, s, 0.1)) < 0.05
        assert np.all(np.diff(m) >= 0) and m.min() >= 0 and m.max() < 6000 / fr
    again = sampled_spike_events_many(rates, fr, sigma, rng=np.random.default_rng(0))
    for a, b in zip(many, again):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="trace 1: rate implies"):
        sampled_spike_events_many([rates[0], np.full(100, 50.0)], fr, sigma)
