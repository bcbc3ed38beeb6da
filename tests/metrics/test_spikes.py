import numpy as np
import pytest

from calcium_dynamics.metrics.spikes import (
    bias,
    correlation,
    error,
    error_rate,
    match_events,
    median_with_ci,
    van_rossum_distance,
    van_rossum_distance_per_frame,
    victor_purpura_distance,
)


def test_rate_metrics_on_hand_computed_cases():
    gt = np.array([0.0, 1.0, 2.0, 1.0])
    pd = np.array([1.0, 1.0, 1.0, 1.0])
    assert error(gt, pd) == pytest.approx((1 + 0 + 1 + 0) / 4)
    assert bias(gt, pd) == pytest.approx(0.0)
    assert bias(gt, 2 * gt) == pytest.approx(1.0) and bias(gt, 0 * gt) == -1.0
    assert correlation(gt, 3 * gt + 1) == pytest.approx(1.0)
    assert np.isnan(correlation(gt, pd))  # constant prediction
    assert correlation([0, 1, np.nan, 2], [0, 2, 5, 4]) == pytest.approx(1.0)  # NaN ignored


def test_van_rossum_distance_of_one_missed_spike():
    fr, tau = 1000.0, 0.025
    t = np.arange(-0.5, 0.5, 1 / fr)
    gt = np.exp(-0.5 * (t / tau) ** 2) / (np.sqrt(2 * np.pi) * tau)  # one spike, Hz
    assert van_rossum_distance(gt, 0 * gt, fr, 1, tau) == pytest.approx(
        np.sqrt(1 / (2 * np.sqrt(np.pi))), rel=1e-3
    )
    assert van_rossum_distance(gt, gt, fr, 1, tau) == 0.0


def test_victor_purpura_distance_hand_cases():
    assert victor_purpura_distance([1.0], [1.3], q_per_s=1.0) == pytest.approx(0.3)
    assert victor_purpura_distance([1.0], [4.0], q_per_s=1.0) == pytest.approx(2.0)  # del + ins
    assert victor_purpura_distance([1.0, 2.0], [], 1.0) == 2.0
    assert victor_purpura_distance([], [5.0], 1.0) == 1.0
    assert victor_purpura_distance([1.0, 2.0, 3.0], [1.1, 2.2, 9.0], 1.0) == pytest.approx(
        0.1 + 0.2 + 2.0
    )


def test_victor_purpura_matches_the_textbook_recursion():
    rng = np.random.default_rng(0)
    a, b = np.sort(rng.uniform(0, 10, 12)), np.sort(rng.uniform(0, 10, 9))
    d = np.zeros((a.size + 1, b.size + 1))
    d[:, 0], d[0, :] = np.arange(a.size + 1), np.arange(b.size + 1)
    for i in range(1, a.size + 1):
        for j in range(1, b.size + 1):
            d[i, j] = min(
                d[i - 1, j] + 1, d[i, j - 1] + 1, d[i - 1, j - 1] + 0.7 * abs(a[i - 1] - b[j - 1])
            )
    assert victor_purpura_distance(a, b, 0.7) == pytest.approx(d[-1, -1])


def test_error_rate_with_a_50_ms_window():
    gt = [1.0, 2.0, 3.0, 4.0]
    pd = [1.03, 2.06, 3.0, 7.0, 8.0]
    assert match_events(gt, pd, 0.05) == 2  # 2.06 is 60 ms off
    f1 = 2 * 2 / (4 + 5)
    assert error_rate(gt, pd, 0.05) == pytest.approx(1 - f1)
    assert error_rate(gt, gt) == 0.0 and error_rate(gt, []) == 1.0 and error_rate([], []) == 0.0


def test_median_with_bootstrap_ci():
    med, lo, hi = median_with_ci(np.arange(101.0))
    assert med == 50.0 and lo < 50.0 < hi


@pytest.mark.parametrize("fr", [7.5, 30.0, 60.0])
def test_the_per_frame_van_rossum_form_is_the_hz_form_over_tau_sqrt_f(fr):
    rng = np.random.default_rng(0)
    gt_frame = np.abs(rng.normal(0, 0.1, 500))
    pd_frame = np.abs(rng.normal(0, 0.1, 500))
    tau = 0.025
    hz = van_rossum_distance(gt_frame * fr, pd_frame * fr, fr, 7, tau)
    per_frame = van_rossum_distance_per_frame(gt_frame, pd_frame, 7, tau)
    assert per_frame == pytest.approx(hz / (tau * np.sqrt(fr)), rel=1e-12)


def test_one_missed_spike_is_about_2p7_in_the_per_frame_form_at_60_hz():
    fr, tau = 60.0, 0.025
    t = np.arange(-60, 61) / fr
    gt = np.exp(-0.5 * (t / tau) ** 2)
    gt /= gt.sum()  # one spike, spikes per frame
    assert van_rossum_distance_per_frame(gt, 0 * gt, 1, tau) == pytest.approx(2.74, abs=0.02)
