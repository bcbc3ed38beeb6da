import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calcium_dynamics.signal import rebin_spike_times, resample_trace


def test_fourier_resampling_reproduces_a_band_limited_signal():
    rate, target = 30.0, 60.0
    t = np.arange(900) / rate
    trace = 0.3 * np.sin(2 * np.pi * 0.7 * t) + 0.1 * np.cos(2 * np.pi * 2.3 * t) + 0.05 * t
    out, new_rate = resample_trace(trace, rate, target)
    assert new_rate == pytest.approx(target)
    assert out.shape == (1800,)
    t_new = np.arange(out.size) / new_rate
    truth = 0.3 * np.sin(2 * np.pi * 0.7 * t_new) + 0.1 * np.cos(2 * np.pi * 2.3 * t_new)
    truth += 0.05 * t_new
    inner = slice(30, -30)  # a linear trend is not periodic: allow edge effects of 0.5 s
    assert np.max(np.abs(out[inner] - truth[inner])) < 5e-3


def test_resampling_is_skipped_within_five_percent():
    trace = np.arange(100, dtype=float)
    out, rate = resample_trace(trace, 59.1, 60.0)
    assert rate == 59.1
    np.testing.assert_array_equal(out, trace.astype(np.float32))


def test_nan_gaps_stay_masked_after_resampling():
    rng = np.random.default_rng(0)
    trace = rng.normal(0, 0.01, 600)
    trace[200:260] = np.nan
    out, rate = resample_trace(trace, 20.0, 60.0)
    assert rate == pytest.approx(60.0)
    gap = np.isnan(out)
    assert gap.any()
    times = np.arange(out.size) / rate
    assert times[gap].min() >= 199.5 / 20 and times[gap].max() <= 259.5 / 20
    assert np.isfinite(out[~gap]).all()


@settings(max_examples=60, deadline=None)
@given(
    spikes=st.lists(st.floats(0.0, 100.0, allow_nan=False), max_size=300),
    rate=st.floats(3.0, 200.0),
)
def test_rebinning_preserves_every_spike_inside_the_frames(spikes, rate):
    spikes = np.array(spikes)
    n_frames = int(100.0 * rate) + 1
    counts = rebin_spike_times(spikes, n_frames, rate, t0_s=0.0)
    inside = (spikes >= -0.5 / rate) & (spikes < (n_frames - 0.5) / rate)
    assert counts.sum() == inside.sum()
    # each spike lands in the frame whose centre is nearest
    for s in spikes[inside][:20]:
        assert counts[int(np.floor(s * rate + 0.5))] >= 1


def test_rebinning_places_spikes_at_the_nearest_frame_centre():
    counts = rebin_spike_times([0.0, 0.049, 0.051, 0.2, 0.2], 4, 10.0, t0_s=0.0)
    np.testing.assert_array_equal(counts, [2, 1, 2, 0])
