import numpy as np
import pytest
from scipy import signal
from scipy.integrate import solve_ivp

from calcium_dynamics.simulate.calcium import (
    ar1_calcium_traces,
    ar2_coefficients,
    ar_calcium,
    gcamp6f_fluorescence,
    hill_saturation,
)
from calcium_dynamics.simulate.line_scan import (
    apply_sampling,
    deconvolve_sampled,
    discretise_events,
    line_scan_sampling,
    to_frames,
)
from calcium_dynamics.simulate.lorenz import (
    integrate_lorenz,
    lorenz_latents,
    lorenz_poisson_population,
)


def test_rk4_matches_scipy_and_keeps_fixed_point():
    x0 = np.array([[1.0, 1.0, 20.0]])
    ours = integrate_lorenz(x0, 50, dt=0.001)[0, -1]

    def lorenz(t, x):
        return [
            10 * (x[1] - x[0]),
            x[0] * (28 - x[2]) - x[1],
            x[0] * x[1] - 8 / 3 * x[2],
        ]

    ref = solve_ivp(lorenz, (0, 0.05), x0[0], rtol=1e-11, atol=1e-11).y[:, -1]
    np.testing.assert_allclose(ours, ref, rtol=1e-8)
    c = np.sqrt(8 / 3 * 27)
    fixed = np.array([[c, c, 27.0]])
    np.testing.assert_allclose(integrate_lorenz(fixed, 100)[0, -1], fixed[0], atol=1e-9)


def test_latents_are_normalised_and_speed_follows_downsampling():
    z = lorenz_latents(2, 100, 7, burn_in_steps=200, seed=0)
    flat = z.reshape(-1, 3)
    np.testing.assert_allclose(flat.mean(0), 0, atol=1e-9)
    np.testing.assert_allclose(flat.std(0), 1, atol=1e-9)
    peaks = []
    for factor in (3, 7, 11):
        zz = lorenz_latents(1, 600, factor, burn_in_steps=200, seed=1)[0, :, 2]
        f, p = signal.welch(zz, fs=100.0, nperseg=256)
        peaks.append(f[np.argmax(p[1:]) + 1])
    assert peaks[0] < peaks[1] < peaks[2]
    assert 7.0 < peaks[1] < 13.0  # paper: factor 7 ≈ 10 Hz


def test_poisson_population_baseline_and_shapes():
    latents = np.zeros((2, 10, 3))
    pop = lorenz_poisson_population(latents, 3, 5, bin_s=0.01, baseline_rate_hz=3.0, seed=0)
    np.testing.assert_allclose(pop.rates, 0.03)
    assert pop.spikes.shape == (6, 10, 5) and pop.condition.tolist() == [0, 0, 0, 1, 1, 1]
    pop2 = lorenz_poisson_population(
        lorenz_latents(4, 50, 5), 1, 30, bin_s=1.0, mean_spikes_per_bin=0.42
    )
    assert pop2.rates.mean() == pytest.approx(0.42)


def test_calcium_kernels():
    g1, g2 = ar2_coefficients(0.02, 0.4, 0.01)
    d, r = np.exp(-0.01 / 0.4), np.exp(-0.01 / 0.02)
    assert (g1, g2) == pytest.approx((d + r, -d * r))
    spike = np.zeros((1, 200, 1))
    spike[0, 5] = 1
    c = ar_calcium(spike, np.array([g1, g2]), unit_peak=True)
    assert c.max() == pytest.approx(1.0)
    alpha = np.array([[0.5, 0.9]])
    two = np.zeros((1, 4, 2))
    two[0, 0] = 1
    np.testing.assert_allclose(ar_calcium(two, alpha)[0, :, 1], 0.9 ** np.arange(4))
    assert hill_saturation(np.array([1.0]), 5.0, 1.0)[0] == pytest.approx(1.0)
    assert hill_saturation(np.array([1e6]), 5.0, 1.0)[0] == pytest.approx(6.0, rel=1e-4)


def test_gcamp_and_ar1_traces():
    spikes = np.random.default_rng(0).poisson(0.05, (4, 60, 6))
    tr = gcamp6f_fluorescence(spikes, bin_s=0.01, seed=1)
    assert tr.fluorescence.shape == spikes.shape and (tr.noise_sd >= 0.06).all()
    ar = ar1_calcium_traces(spikes, seed=0)
    assert ((ar.alpha >= 0.8) & (ar.alpha <= 0.95)).all()
    assert np.std(ar.dff - ar.calcium) == pytest.approx(0.2, rel=0.1)


def test_line_scan_sampling_is_staggered():
    s = line_scan_sampling(6, 12, 8, frame_bins=3, seed=0)
    assert (s.mask.sum(axis=1) == 4).all()  # every third bin
    first = s.mask.argmax(axis=1)  # (trials, neurons)
    rel = (first - first[:, :1]) % 3
    assert (rel == rel[0]).all()  # relative phases fixed across trials
    np.testing.assert_array_equal(first[:, 0], (s.phase[0] + s.shift) % 3)
    x = np.arange(6 * 12 * 8, dtype=float).reshape(6, 12, 8)
    sampled = apply_sampling(x, s.mask)
    assert np.isnan(sampled[~s.mask]).all()
    frames = to_frames(sampled, s.mask, 3)
    assert frames.shape == (6, 4, 8) and np.isfinite(frames).all()
    assert (np.diff(frames, axis=1) > 0).all()  # time order kept
    with pytest.raises(ValueError, match="multiple of frame_bins"):
        line_scan_sampling(2, 10, 3)


def test_discretise_rule():
    e = np.array([0.0, 0.3, 2.0, 2.7, 5.1, np.nan])
    np.testing.assert_array_equal(discretise_events(e)[:5], [0, 1, 1, 2, 5])
    assert np.isnan(discretise_events(e)[5])


def test_deconvolution_places_events_at_sample_bins():
    rng = np.random.default_rng(0)
    spikes = rng.poisson(0.05, (10, 30, 3))
    tr = gcamp6f_fluorescence(spikes, bin_s=0.01, seed=0)
    s = line_scan_sampling(10, 30, 3, seed=0)
    sampled = apply_sampling(tr.fluorescence, s.mask)
    ev = deconvolve_sampled(sampled, 100 / 3, s_min=0.1, progress=False)
    assert np.isnan(ev[~s.mask]).all() and np.isfinite(ev[s.mask]).all()
    nz = ev[s.mask][ev[s.mask] > 0]
    assert (nz >= 0.1).all()
    sampled[:, :, 1] = np.nan
    with pytest.raises(ValueError, match=r"neurons \[1\] have no sampled values"):
        deconvolve_sampled(sampled, 100 / 3, progress=False)
