"""ΔF/F numerics against traces with a known baseline and known transients."""

import numpy as np
import pytest

from calcium_dynamics.signal.dff import (
    check_fluorescence,
    delta_f_over_f,
    dff_quality,
    running_baseline,
    subtract_neuropil,
)
from calcium_dynamics.simulate.suite2p_example import simulate_plane

RATE = 20.0


def _known_traces(n_frames=3000, noise=0.0, seed=0):
    """Baseline with slow bleaching, sparse exponential transients of known amplitude."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_frames) / RATE
    base = np.stack([200 * (1 - 0.1 * t / t[-1]), 120 * (1 + 0.05 * t / t[-1])])
    dff = np.zeros_like(base)
    onsets = [(0, 10.0, 0.8), (0, 70.0, 0.4), (1, 30.0, 1.5), (1, 100.0, 0.6)]
    for cell, onset, amp in onsets:
        after = t >= onset
        dff[cell, after] += amp * np.exp(-(t[after] - onset) / 0.5)
    fneu = 60 + 10 * np.sin(2 * np.pi * t / 7.0)[None, :] + rng.normal(0, 3, base.shape)
    f = base * (1 + dff) + 0.7 * fneu + noise * base * rng.standard_normal(base.shape)
    return f, fneu, base, dff, onsets, t


def test_noise_free_dff_is_recovered_exactly():
    f, fneu, base, dff, onsets, t = _known_traces()
    out, f0 = delta_f_over_f(f, fneu, RATE, window_s=20.0, percentile=5.0)
    np.testing.assert_allclose(f0, base, rtol=0.01)  # bleaching drift followed
    np.testing.assert_allclose(out, dff, atol=0.015)
    for cell, onset, amp in onsets:  # transient peaks within 2 % of their amplitude
        assert out[cell, np.searchsorted(t, onset)] == pytest.approx(amp, rel=0.02, abs=0.01)


def test_noisy_dff_with_smoothed_baseline():
    f, fneu, base, dff, _, _ = _known_traces(noise=0.03, seed=1)
    out, f0 = delta_f_over_f(f, fneu, RATE, window_s=20.0, percentile=8.0, smooth_s=0.5)
    assert np.median(np.abs(f0 / base - 1)) < 0.01
    err = out - dff
    assert abs(np.median(err)) < 0.01  # baseline bias
    assert np.std(err) == pytest.approx(0.03, rel=0.15)  # what is left is the added noise


def test_wrong_coefficient_leaves_neuropil_in_dff():
    f, fneu, base, dff, _, _ = _known_traces()
    out, _ = delta_f_over_f(f, fneu, RATE, neuropil_coefficient=0.0, window_s=20.0)
    assert np.abs(out - dff).max() > 0.05
    np.testing.assert_allclose(subtract_neuropil(f, fneu, 0.7), base * (1 + dff), rtol=1e-9)


def test_subsampled_baseline_matches_the_full_filter():
    f, _, _, _, _, _ = _known_traces(noise=0.02, seed=2)
    full = running_baseline(f, RATE, window_s=30.0, max_window_frames=10_000)
    fast = running_baseline(f, RATE, window_s=30.0, max_window_frames=101)
    np.testing.assert_allclose(fast, full, rtol=0.02)


def test_simulated_suite2p_plane_is_recovered():
    plane = simulate_plane(n_rois=4, n_noncells=0, n_frames=900, frame_rate_hz=15.0, seed=3)
    out, _ = delta_f_over_f(plane.F, plane.Fneu, 15.0, window_s=20.0, smooth_s=0.5)
    err = out - plane.dff
    assert np.all(np.abs(np.median(err, axis=1)) < 0.02)
    # the noise (3 % of baseline) plus baseline errors where a burst fills a window's edge
    assert np.median(np.std(err, axis=1)) < 0.05


def test_quality_numbers():
    rng = np.random.default_rng(0)
    s = 0.05
    dff = rng.normal(0, s, (3, 20_000))
    dff[1, :100] = np.nan
    qc = dff_quality(dff, np.full_like(dff, 100.0), RATE)
    np.testing.assert_allclose(qc["noise_level_nu"], 0.954 * s / np.sqrt(RATE) * 100, rtol=0.03)
    np.testing.assert_allclose(qc["nan_fraction"], [0, 100 / 20_000, 0])
    np.testing.assert_allclose(qc["baseline_median"], 100.0)
    assert np.all(qc["dff_min"] < qc["dff_p01"]) and np.all(qc["dff_p99"] < qc["dff_max"])


def test_nan_frames_stay_nan():
    f, fneu, _, dff, _, _ = _known_traces()
    f[0, 500:510] = np.nan
    out, f0 = delta_f_over_f(f, fneu, RATE, window_s=20.0)
    assert np.isnan(out[0, 500:510]).all() and np.isfinite(f0).all()
    np.testing.assert_allclose(out[:, :400], dff[:, :400], atol=0.015)


def test_bad_input_is_refused_naming_the_cell():
    f, fneu, *_ = _known_traces(n_frames=400)
    with pytest.raises(ValueError, match=r"F has shape \(2, 400\) but Fneu has shape \(2, 399\)"):
        delta_f_over_f(f, fneu[:, :-1], RATE)
    zero = f.copy()
    zero[1] = 0.0
    with pytest.raises(ValueError, match=r"roi_b is zero in every frame"):
        delta_f_over_f(zero, fneu, RATE, names=["roi_a", "roi_b"])
    holes = f.copy()
    holes[0, :300] = np.nan
    with pytest.raises(ValueError, match=r"roi_a is NaN in 75% of its frames"):
        check_fluorescence(holes, names=["roi_a", "roi_b"])
    with pytest.raises(ValueError, match=r"baseline F0 of cell 0 falls to"):
        delta_f_over_f(f, fneu * 10, RATE, neuropil_coefficient=1.0)
    with pytest.raises(ValueError, match=r"neuropil_coefficient=1\.5"):
        subtract_neuropil(f, fneu, 1.5)
    with pytest.raises(ValueError, match=r"frame_rate_hz is missing"):
        running_baseline(f, None)
    with pytest.raises(ValueError, match=r"baseline_percentile=100"):
        running_baseline(f, RATE, percentile=100)
