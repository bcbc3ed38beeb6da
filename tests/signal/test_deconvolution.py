import numpy as np
import pytest

from calcium_dynamics.signal.deconvolution import deconvolve_oasis


def _simulate(rate=30.0, tau=0.5, n=3000, noise=0.02, seed=0):
    rng = np.random.default_rng(seed)
    spikes = (rng.random(n) < 0.5 / rate).astype(float)
    g = np.exp(-1 / (tau * rate))
    calcium = np.zeros(n)
    for t in range(n):
        calcium[t] = (g * calcium[t - 1] if t else 0.0) + spikes[t]
    return spikes, calcium, calcium + rng.normal(0, noise, n)


def test_recovers_spike_times_and_time_constant():
    spikes, _, trace = _simulate()
    result = deconvolve_oasis(trace, 30.0, optimize_g=5)
    assert result.tau_decay_s == pytest.approx(0.5, rel=0.15)
    detected = result.events > 0.3
    hits = np.isin(np.flatnonzero(spikes), np.flatnonzero(detected)).mean()
    assert hits > 0.9
    assert np.corrcoef(result.events, spikes)[0, 1] > 0.9


def test_nan_frames_are_left_out_and_stay_nan():
    spikes, _, trace = _simulate(seed=1)
    trace[500:520] = np.nan
    result = deconvolve_oasis(trace, 30.0, tau_decay_s=0.5)
    assert np.isnan(result.events[500:520]).all() and np.isnan(result.calcium[500:520]).all()
    assert np.isfinite(result.events[:500]).all()
    assert np.corrcoef(result.events[:500], spikes[:500])[0, 1] > 0.85


def test_bad_input():
    with pytest.raises(ValueError, match="finite frames"):
        deconvolve_oasis(np.full(100, np.nan), 30.0)
    with pytest.raises(ValueError, match="frame_rate_hz"):
        deconvolve_oasis(np.zeros(100), None)
    with pytest.raises(ValueError, match="ar_order"):
        deconvolve_oasis(np.zeros(100), 30.0, ar_order=3)


def test_minimal_event_size():
    _, _, trace = _simulate(seed=2)
    result = deconvolve_oasis(trace, 30.0, tau_decay_s=0.5, s_min=0.3)
    ev = result.events[np.isfinite(result.events)]
    assert ev.max() > 0.3 and not ((ev > 0) & (ev < 0.3)).any()
