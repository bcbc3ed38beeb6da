import numpy as np
import pytest

from calcium_dynamics.signal import causal_kernel, gaussian_kernel, smooth_spike_counts


@pytest.mark.parametrize("causal", [False, True])
def test_smoothing_preserves_the_number_of_spikes(causal):
    rng = np.random.default_rng(0)
    counts = rng.poisson(0.05, 3000).astype(float)
    counts[0] = counts[-1] = 3  # spikes right at both edges
    rate = smooth_spike_counts(counts, 60.0, 0.05, causal=causal)
    assert rate.sum() == pytest.approx(counts.sum(), rel=1e-5)


def test_gaussian_kernel_has_the_requested_width():
    k = gaussian_kernel(6.0)
    lags = np.arange(k.size) - k.size // 2
    assert k.sum() == pytest.approx(1.0)
    assert np.sqrt(np.sum(k * lags**2)) == pytest.approx(6.0, rel=0.01)


def test_smoothed_spike_is_centred_on_its_frame():
    counts = np.zeros(400)
    counts[200] = 1
    rate = smooth_spike_counts(counts, 60.0, 0.025)
    assert np.argmax(rate) == 200
    assert rate[199] == pytest.approx(rate[201])
    # sigma 25 ms at 60 Hz = 1.5 frames: peak of a unit Gaussian = 1 / (sqrt(2 pi) 1.5)
    assert rate[200] == pytest.approx(1 / (np.sqrt(2 * np.pi) * 1.5), rel=0.02)


def test_causal_kernel_never_precedes_the_spike():
    counts = np.zeros(300)
    counts[100] = 1
    rate = smooth_spike_counts(counts, 30.0, 0.1, causal=True)
    assert np.all(rate[:100] == 0)
    assert rate[100:].sum() == pytest.approx(1.0, rel=1e-6)
    k = causal_kernel(3.0)
    lags = np.arange(k.size)
    mean = np.sum(k * lags)
    assert mean == pytest.approx(6.0, abs=0.1)  # mean 2σ
    assert np.sqrt(np.sum(k * (lags - mean) ** 2)) == pytest.approx(3.0, rel=0.05)
