import numpy as np
import pytest

from calcium_dynamics.signal import extract_windows


@pytest.mark.parametrize("window", [5, 64, 96])
def test_window_i_is_centred_on_sample_i(window):
    trace = np.arange(1, 201, dtype=float)
    w = extract_windows(trace, window)
    assert w.shape == (200, window)
    centre = window // 2
    np.testing.assert_array_equal(w[:, centre], trace)
    # zero padding at the start and the end
    assert np.all(w[0, :centre] == 0)
    assert np.all(w[-1, centre + 1 :] == 0)
    np.testing.assert_array_equal(w[100], trace[100 - centre : 100 - centre + window])


def test_stride_and_batches():
    traces = np.arange(2 * 50, dtype=float).reshape(2, 50)
    w = extract_windows(traces, 8, stride=4)
    assert w.shape == (2, 13, 8)
    np.testing.assert_array_equal(w[1, :, 4], traces[1, ::4])


def test_bad_arguments():
    with pytest.raises(ValueError, match="stride"):
        extract_windows(np.zeros(10), 4, stride=0)
    with pytest.raises(ValueError, match="window"):
        extract_windows(np.zeros(10), 0)
