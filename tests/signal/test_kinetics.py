import numpy as np
import pytest

from calcium_dynamics.signal.kinetics import (
    default_lags,
    fit_spike_kernel,
    isolated_spike_average,
)

from .kernel_traces import kernel_recording, time_to_peak


@pytest.mark.parametrize(("tau_on", "tau_off", "rate"), [(0.05, 0.4, 30.0), (0.02, 0.15, 60.0)])
def test_kernel_time_constants_are_recovered(tau_on, tau_off, rate):
    dff, spikes = kernel_recording(tau_on, tau_off, rate, gap_s=(3.5, 4.5))
    lags = default_lags()
    response, n = isolated_spike_average(dff, rate, spikes, lags_s=lags)
    assert n > 190  # every spike is ≥ 3.5 s from its neighbours; edges drop a few
    kernel = fit_spike_kernel(lags, response)
    assert kernel.tau_on_s == pytest.approx(tau_on, rel=0.1)
    assert kernel.tau_off_s == pytest.approx(tau_off, rel=0.05)
    assert kernel.time_to_peak_s == pytest.approx(time_to_peak(tau_on, tau_off), abs=0.01)
    assert kernel.peak == pytest.approx(0.2, rel=0.05)
    assert abs(kernel.onset_s) < 0.01
    assert kernel.rmse < 0.005
    fitted = kernel.response(lags)
    assert np.nanmax(np.abs(fitted - response)) < 0.05
    assert fitted.max() == pytest.approx(kernel.peak, rel=0.02)


def test_only_isolated_spikes_are_averaged():
    rate = 30.0
    dff, spikes = kernel_recording(0.05, 0.4, rate, gap_s=(3.5, 4.5), seed=1)
    close = np.sort(np.concatenate([spikes, spikes[::2] + 0.3]))  # every other spike doubled
    _, n_all = isolated_spike_average(dff, rate, spikes)
    _, n_close = isolated_spike_average(dff, rate, close)
    # the doubled spikes and their partners drop out, the others (odd indices) stay
    assert abs(n_close - (n_all - len(spikes[::2]))) <= 2


def test_nan_frames_drop_the_spikes_that_touch_them():
    rate = 30.0
    dff, spikes = kernel_recording(0.05, 0.4, rate, gap_s=(3.5, 4.5), seed=2)
    _, n = isolated_spike_average(dff, rate, spikes)
    dff[int(spikes[10] * rate)] = np.nan
    _, n_nan = isolated_spike_average(dff, rate, spikes)
    assert n_nan == n - 1


def test_no_isolated_spike_gives_nan_and_a_clear_fit_error():
    dff = np.zeros(300)
    response, n = isolated_spike_average(dff, 30.0, np.array([3.0, 3.2, 3.4]))
    assert n == 0 and np.isnan(response).all()
    with pytest.raises(ValueError, match="too few isolated spikes"):
        fit_spike_kernel(default_lags(), response)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"frame_rate_hz": 0.0}, "frame_rate_hz"),
        ({"frame_rate_hz": None}, "frame_rate_hz"),
        ({"lags_s": np.arange(0.0, 1.0, 0.1)}, "negative"),
        ({"dff": np.zeros((2, 100))}, "dff must be 1-D"),
    ],
)
def test_bad_arguments_are_refused_by_name(kwargs, match):
    args = {"dff": np.zeros(300), "frame_rate_hz": 30.0, "spike_times_s": np.array([5.0])}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        isolated_spike_average(**args)


def test_fit_refuses_a_flat_response():
    with pytest.raises(ValueError, match="positive peak"):
        fit_spike_kernel(default_lags(), np.zeros(default_lags().size))
