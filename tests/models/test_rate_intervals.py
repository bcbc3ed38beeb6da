"""Calibrated rate intervals: conformal coverage on a simulated population, the tables, the API."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from calcium_dynamics import infer_spikes
from calcium_dynamics.models.cascade import CascadeNet
from calcium_dynamics.models.spike_inference import predict_model_rate
from calcium_dynamics.models.spike_models import SpikeModel
from calcium_dynamics.models.spikes import calibration as cal
from calcium_dynamics.signal.noise import noise_level_nu


def simulated_dataset(rng, name: str, n: int = 20_000, n_members: int = 5) -> cal.Block:
    """A dataset whose errors scale with a per-frame difficulty the members' spread sees.

    True rate r ≥ 0; each frame has a difficulty σ_t (log-normal, times a dataset factor);
    the ensemble's shared error is σ_t·z and the members scatter around it by σ_t·z_k, so the
    spread is informative but noisy, and datasets differ in how hard they are.
    """
    r = rng.gamma(0.3, 0.2, n)
    sigma = rng.lognormal(-3, 0.7, n) * rng.uniform(0.7, 1.4)
    shared = sigma * rng.standard_normal(n)
    members = r + shared + sigma[None] * rng.standard_normal((n_members, n))
    return cal.Block(name, members, r, 30.0)


def test_nested_lodo_coverage_matches_the_nominal_level_on_a_simulated_population():
    rng = np.random.default_rng(0)
    blocks = [simulated_dataset(rng, f"DS{k:02d}") for k in range(12)]
    rows = cal.nested_coverage(blocks, 2.0, levels=(0.5, 0.8, 0.9, 0.95))
    for level in (0.5, 0.8, 0.9, 0.95):
        mean = np.mean([r[f"coverage_{level:g}"] for r in rows])
        assert abs(mean - level) < 0.02, (level, mean)
    # a dataset never sees its own scores: each row's table has 11 datasets
    assert len(rows) == 12 and all(r["width_hz_0.9"] > r["width_hz_0.5"] > 0 for r in rows)


def test_intervals_are_wider_where_the_members_disagree():
    rng = np.random.default_rng(1)
    table = cal.fit_level([simulated_dataset(rng, f"D{k}") for k in range(4)], 2.0)
    members = np.array([[1.0, 1.0], [1.0, 2.0], [1.0, 3.0]])  # frame 0: agree, 1: disagree
    centre, lo, hi = cal.interval(members, table, 0.9)
    np.testing.assert_allclose(centre, [1.0, 2.0])
    assert hi[1] - lo[1] > hi[0] - lo[0] > 0
    # half-width = q·(s.d. + floor), from the table's own numbers
    sd = np.std(members, 0, ddof=1)
    np.testing.assert_allclose(hi - centre, table.q(0.9) * (sd + table.floor), rtol=1e-12)
    assert (cal.interval(members * 0.0, table, 0.9)[1] >= 0).all()  # bounds never below 0


def test_weighted_quantiles_match_numpy_with_equal_weights():
    rng = np.random.default_rng(2)
    v = rng.standard_normal(1001)
    q = cal.weighted_quantiles(v, np.ones_like(v), [0.1, 0.5, 0.9])
    np.testing.assert_allclose(q, np.quantile(v, [0.1, 0.5, 0.9], method="inverted_cdf"))


def test_each_dataset_weighs_the_same_in_the_quantile():
    small = cal.Block("small", np.array([[0.0] * 10, [0.0] * 10]), np.full(10, 10.0), 30.0)
    big = cal.Block("big", np.zeros((2, 10_000)), np.zeros(10_000), 30.0)
    table = cal.fit_level([small, big], 2.0)
    # half of the weight has score 0, half a large one: q just above 0.5 jumps to the large
    assert table.q(0.4) == 0.0 and table.q(0.6) > 1e3


def test_level_checks_and_table_roundtrip():
    for bad in (0, 1, -0.1, 1.5, float("nan"), "x", None):
        with pytest.raises(ValueError, match="interval"):
            cal.check_level(bad)
    rng = np.random.default_rng(3)
    table = cal.fit_level([simulated_dataset(rng, f"D{k}", n=2000) for k in range(3)], 5.0)
    again = cal.LevelTable.from_dict(table.to_dict())
    assert again.q(0.9) == pytest.approx(table.q(0.9), rel=1e-5)
    tampered = table.to_dict()
    tampered["quantiles"] = tampered["quantiles"][::-1]
    with pytest.raises(cal.CalibrationError, match="non-decreasing"):
        cal.LevelTable.from_dict(tampered)


def random_zoo(n_members: int = 3, causal: bool = False) -> SpikeModel:
    torch.manual_seed(0)
    config = {"frame_rate_hz": 30.0, "sigma_s": 0.05, "window": 64}
    if causal:
        config["causal"] = True
    ensembles = {lv: [CascadeNet().eval() for _ in range(n_members)] for lv in (1.0, 4.0)}
    return SpikeModel("cascade", config, ensembles, {"name": "tiny"})


def calibrated(model: SpikeModel) -> SpikeModel:
    rng = np.random.default_rng(4)
    tables = {
        nu: cal.fit_level([simulated_dataset(rng, f"D{k}", 3000, 3) for k in range(3)], nu)
        for nu in (2.0, 5.0)
    }
    model.metadata["calibration"] = cal.Calibration(
        "tiny", 3, 30.0, tables, {2.0: 0.7, 5.0: 0.5}
    ).to_dict()
    return model


def test_infer_spikes_returns_the_conformal_interval_of_the_members():
    model = calibrated(random_zoo())
    dff = np.random.default_rng(5).normal(0, 0.05, (2, 600))
    dff[1, 100:110] = np.nan
    out = infer_spikes(dff, 30.0, model=model, interval=0.9, events=False)
    assert out.rates_lo_hz.shape == out.rates_hi_hz.shape == dff.shape
    ok = np.isfinite(dff)
    assert np.isnan(out.rates_lo_hz[~ok]).all()
    assert (out.rates_lo_hz[ok] <= out.rates_hz[ok] + 1e-6).all()
    assert (out.rates_hz[ok] <= out.rates_hi_hz[ok] + 1e-6).all()
    # the bounds are calibration.interval of the members' rates, in Hz
    nu = noise_level_nu(dff[0], 30.0)
    members = predict_model_rate(model, dff[0].astype(np.float32), nu, members=True)
    table = cal.Calibration.from_dict(model.metadata["calibration"]).table_for(nu)
    centre, lo, hi = cal.interval(members, table, 0.9)
    np.testing.assert_allclose(out.rates_lo_hz[0], lo * 30.0, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out.rates_hi_hz[0], hi * 30.0, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out.rates_hz[0], centre * 30.0, rtol=1e-5, atol=1e-5)
    # the rates themselves are those of the call without an interval
    plain = infer_spikes(dff, 30.0, model=model, events=False)
    np.testing.assert_allclose(out.rates_hz, plain.rates_hz, rtol=1e-5, atol=1e-6)
    # expected Corr at the cell's ν: interpolated between the measured levels, clamped
    row = out.routing.iloc[0]
    assert row["expected_corr_at_nu"] == pytest.approx(np.clip(row["noise_level_nu"], 2, 5))
    assert 0.5 <= row["expected_corr"] <= 0.7
    assert np.isfinite(out.routing["interval_width_hz"]).all()


def test_interval_bad_inputs_name_the_problem():
    dff = np.zeros((1, 300))
    with pytest.raises(cal.CalibrationError, match="'tiny' has no calibration tables"):
        infer_spikes(dff, 30.0, model=random_zoo(), interval=0.9)
    with pytest.raises(ValueError, match=r"interval must lie in \(0, 1\)"):
        infer_spikes(dff, 30.0, model=random_zoo(), interval=1.0)
    four = calibrated(random_zoo(n_members=4))
    four.metadata["calibration"]["n_members"] = 3
    with pytest.raises(cal.CalibrationError, match="3-member ensembles"):
        infer_spikes(dff, 30.0, model=four, interval=0.9)
