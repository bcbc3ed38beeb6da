"""Gaussian GPFA EM in the even / odd time basis: the basis change, and the whole fit against the
log-likelihood trace of the earlier dense implementation (full (qT)² posterior per iteration)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import toeplitz

from calcium_dynamics.classical.gpfa import (
    GPFA,
    _from_parity,
    _parity_blocks,
    _to_parity,
    _toeplitz_parity_blocks,
    se_covariance,
)
from calcium_dynamics.classical.gpfa_events import deconvolve_gpfa_events


@pytest.mark.parametrize("n_time", [1, 2, 7, 10])
def test_parity_basis_is_orthogonal_and_splits_toeplitz_matrices(n_time):
    rng = np.random.default_rng(n_time)
    x = rng.normal(size=(3, n_time))
    np.testing.assert_allclose(_from_parity(_to_parity(x)), x, atol=1e-14)
    q = _to_parity(np.eye(n_time), axis=0)  # Qᵀ as a matrix
    np.testing.assert_allclose(q @ q.T, np.eye(n_time), atol=1e-14)
    first_row = rng.normal(size=n_time)
    rotated = q @ toeplitz(first_row) @ q.T
    n_even = n_time - n_time // 2
    np.testing.assert_allclose(rotated[:n_even, n_even:], 0.0, atol=1e-13)  # block-diagonal
    even, odd = _toeplitz_parity_blocks(first_row)
    np.testing.assert_allclose(even, rotated[:n_even, :n_even], atol=1e-13)
    np.testing.assert_allclose(odd, rotated[n_even:, n_even:], atol=1e-13)
    dense_even, dense_odd = _parity_blocks(toeplitz(first_row))
    np.testing.assert_allclose(dense_even, even, atol=1e-13)
    np.testing.assert_allclose(dense_odd, odd, atol=1e-13)


# log p(y) per EM iteration, length scales and three posterior means of the dense implementation
# (potrf / potri of the whole (qT, qT) precision, length scales in the time domain) on the data
# of `_small_problem`; the segments are 32 and 33 bins long (both parities)
DENSE_TRACE = [
    -1178.9022758553383,
    -1149.473616997328,
    -1139.9084299129474,
    -1136.499402567954,
    -1135.1085438350567,
    -1134.429119563843,
    -1134.0289935925161,
    -1133.7507469036202,
    -1133.5307866891328,
    -1133.3410795929374,
    -1133.16841149156,
    -1133.0062370483565,
]
DENSE_LENGTH_SCALES = [12.667808420707772, 5.668142637523407]
DENSE_LATENTS = [
    [0.42084806821662096, 2.511794399145526],
    [-0.15583492208041708, -0.8608300951955966],
    [1.3601249489358365, 0.02813606271617508],
]


def _small_problem():
    rng = np.random.default_rng(3)
    n_time, n = 161, 9
    x = np.stack(
        [
            np.linalg.cholesky(se_covariance(n_time, ell, 1e-4).numpy()) @ rng.normal(size=n_time)
            for ell in (6.0, 12.0)
        ],
        axis=1,
    )
    return x @ rng.normal(size=(n, 2)).T + 0.5 * rng.normal(size=(n_time, n))


def test_em_trace_equals_the_dense_implementation():
    y = _small_problem()
    model = GPFA(
        n_latents=2,
        observations="gaussian",
        segment_length=40,
        length_scale_init=9.0,
        n_iter=12,
        tol=0.0,
    ).fit(y)
    np.testing.assert_allclose(model.history_, DENSE_TRACE, rtol=1e-8)
    np.testing.assert_allclose(model.length_scales_, DENSE_LENGTH_SCALES, rtol=1e-6)
    np.testing.assert_allclose(model.train_latents_[0][[0, 50, 160]], DENSE_LATENTS, atol=1e-6)
    # score is the exact log p(y) of the final parameters, and EM did not lower it
    assert model.score(y) >= DENSE_TRACE[-1]


def test_deconvolved_counts_need_no_spike_amplitude():
    """Counts by the rule of the deconvolved-event baselines: 0 → 0, (0, 2] → 1, > 2 → floor."""
    rng = np.random.default_rng(0)
    n_time = 400
    spikes = np.zeros((n_time, 2))
    spikes[[50, 150, 250], 0] = [1, 3, 6]
    spikes[[100, 300], 1] = [2, 1]
    kernel = 0.85 ** np.arange(60)
    calcium = np.stack([np.convolve(spikes[:, n], kernel)[:n_time] for n in range(2)], axis=1)
    calcium += 0.01 * rng.normal(size=calcium.shape)
    cfg = {"bin_rate_hz": 30.0, "ar_order": 1, "penalty": 1, "s_min": 0.1}
    out = deconvolve_gpfa_events(
        {"calcium": calcium}, {"deconvolution": {**cfg, "count_rule": "discretise"}}
    )
    counts = out["oasis_counts"]
    assert set(np.unique(counts)) <= {0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0}
    expected = np.where(out["events"] > 2, np.floor(out["events"]), (out["events"] > 0) * 1.0)
    np.testing.assert_array_equal(counts, expected)
    # the big events are found where the spikes are; small noise events are dropped by s_min
    assert out["events"][250, 0] > 2 and counts[250, 0] == np.floor(out["events"][250, 0])
    found = [counts[t - 3 : t + 4, n].sum() for t, n in ((150, 0), (100, 1), (300, 1))]
    assert min(found) >= 1  # the events are found within a few bins of the spikes
    assert counts.sum() <= spikes.sum()  # no spurious noise events survive s_min
    rounded = deconvolve_gpfa_events(
        {"calcium": calcium}, {"deconvolution": {**cfg, "event_unit": 1.0}}
    )["oasis_counts"]
    np.testing.assert_array_equal(rounded, np.round(out["events"]))
    with pytest.raises(ValueError, match="count_rule"):
        deconvolve_gpfa_events({"calcium": calcium}, {"deconvolution": {**cfg, "count_rule": "x"}})
