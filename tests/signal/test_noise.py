import numpy as np
import pytest

from calcium_dynamics.signal import noise_level_nu, pooled_noise_level_nu


@pytest.mark.parametrize(("std", "rate"), [(0.01, 30.0), (0.05, 7.5), (0.002, 160.0)])
def test_white_noise_gives_analytic_nu(std, rate):
    rng = np.random.default_rng(1)
    trace = rng.normal(0.0, std, 200_000)
    expected = 0.954 * std / np.sqrt(rate) * 100
    assert noise_level_nu(trace, rate) == pytest.approx(expected, rel=0.02)


def test_nans_are_ignored_and_rows_are_independent():
    rng = np.random.default_rng(2)
    traces = rng.normal(0.0, [[0.01], [0.04]], (2, 50_000))
    with_gaps = traces.copy()
    with_gaps[0, 1000:2000] = np.nan
    nu = noise_level_nu(with_gaps, 10.0)
    assert nu.shape == (2,)
    assert nu[0] == pytest.approx(0.954 * 0.01 / np.sqrt(10) * 100, rel=0.03)
    assert nu[1] == pytest.approx(4 * nu[0], rel=0.05)
    assert np.isnan(noise_level_nu(np.full(10, np.nan), 10.0))


def test_pooled_nu_equals_single_trace_nu_when_rates_agree():
    rng = np.random.default_rng(3)
    a, b = rng.normal(0, 0.02, 40_000), rng.normal(0, 0.02, 40_000)
    pooled = pooled_noise_level_nu([a, b], [20.0, 20.0])
    assert pooled == pytest.approx(noise_level_nu(np.concatenate([a, b]), 20.0), rel=0.01)


@pytest.mark.parametrize("rate", [None, 0, -5, float("nan"), "fast"])
def test_bad_frame_rate_is_refused(rate):
    with pytest.raises(ValueError, match="frame_rate_hz"):
        noise_level_nu(np.zeros(10), rate)
