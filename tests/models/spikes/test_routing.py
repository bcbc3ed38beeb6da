"""Routing: the zoo nearest the frame rate, ν at the model's rate, named per-cell warnings."""

import logging
import time

import numpy as np
import pytest

from calcium_dynamics import infer_spikes
from calcium_dynamics.models.spike_inference import infer_rates, predict_model_rate
from calcium_dynamics.models.spikes.api import model_set
from calcium_dynamics.models.spikes.routing import Limits, suggested_sigma_ms
from calcium_dynamics.signal import noise_level_nu, resample_trace
from tests.models.spikes.conftest import LEVELS, tiny_zoo


@pytest.mark.parametrize(
    ("rate", "expected"),
    [(7.5, 7.5), (9.8, 7.5), (11.0, 15.0), (20.0, 15.0), (22.0, 30.0), (60.0, 30.0), (2, 7.5)],
)
def test_zoo_nearest_frame_rate_on_a_log_scale(zoo_project, rate, expected):
    models = model_set("auto", project_path=zoo_project)
    assert models.choose(rate).frame_rate_hz == expected


def test_nu_is_measured_at_the_models_rate():
    """A 7.5 Hz recording through a 30 Hz zoo: white noise of s.d. 0.1 has ν 3.5 at 7.5 Hz but
    0.55 once Fourier-upsampled to 30 Hz, where the zoo's levels are defined. The old routing
    (ν at the recording's rate) sent it to level 4; it belongs at 0.5."""
    zoo = tiny_zoo(30.0)
    x = np.random.default_rng(0).normal(0, 0.1, 3000)
    nu_native = noise_level_nu(x, 7.5)
    up, fr = resample_trace(x, 7.5, 30.0)
    nu_model = noise_level_nu(up, fr)
    assert nu_native == pytest.approx(3.50, abs=0.05) and nu_model == pytest.approx(0.55, abs=0.05)
    pred = infer_rates(zoo, x, 7.5)
    assert pred.noise_level_nu == pytest.approx(nu_model, rel=1e-9)
    np.testing.assert_allclose(pred.model_rate, predict_model_rate(zoo, up, 0.5), rtol=1e-6)
    old = predict_model_rate(zoo, up, nu_native)  # the level-4 ensemble: a different output
    assert np.abs(old - pred.model_rate).max() > 0.01
    result = infer_spikes(x, 7.5, model=zoo, events=False)
    assert result.routing.loc[0, "model_noise_level"] == 0.5
    assert result.routing.loc[0, "noise_level_nu"] == pytest.approx(nu_model, rel=1e-9)


def test_each_cell_goes_to_its_nearest_level(zoo_project):
    rng = np.random.default_rng(1)
    sds = [0.04, 0.2, 0.4, 0.8]  # ν at 30 Hz ≈ 0.954·s/√30·100: 0.70, 3.5, 7.0, 13.9
    dff = np.stack([rng.normal(0, s, 1800) for s in sds])
    result = infer_spikes(dff, 30.0, project_path=zoo_project, events=False)
    r = result.routing
    assert r["model"].eq("cascade-30hz-excitatory").all() and r["model_version"].eq("v1.0.0").all()
    expected_nu = noise_level_nu(dff, 30.0)  # no resampling at the zoo's own rate
    np.testing.assert_allclose(r["noise_level_nu"], expected_nu, rtol=1e-6)  # float32 trace
    nearest = [min(LEVELS, key=lambda lv: (abs(lv - nu), lv)) for nu in expected_nu]
    assert list(r["model_noise_level"]) == nearest == [0.5, 4.0, 4.0, 4.0]
    # ν 7.0 and 13.9 are above the largest level + 0.5: named, not silent
    assert list(r["warnings"]) == ["", "", "nu_above_range", "nu_above_range"]


def test_warnings_are_named_per_cell_and_summarised(zoo_project, caplog):
    rng = np.random.default_rng(2)
    n = 600  # 61 s at 9.8 Hz
    dff = rng.normal(0, 0.01, (4, n))
    dff[1, : n // 2] = np.nan  # half NaN
    dff[2, :] = np.nan
    dff[3, 100] = 1e9  # one outlier frame
    with caplog.at_level(logging.WARNING):
        start = time.perf_counter()
        result = infer_spikes(dff, 9.8, project_path=zoo_project)
        seconds = time.perf_counter() - start
    assert seconds < 20
    w = list(result.routing["warnings"])
    assert w[0] == "frame_rate_far"
    assert w[1] == "frame_rate_far;nan_fraction_high"
    assert w[2] == "frame_rate_far;nan_fraction_high;all_nan"
    assert w[3] == "frame_rate_far;dff_implausible"
    assert np.isnan(result.rates_hz[2]).all() and np.isnan(result.rates_hz[3]).all()
    assert result.events_s[3].size == 0
    assert np.isfinite(result.rates_hz[0]).all() and result.rates_hz[0].min() >= 0
    assert result.routing["model"].eq("cascade-7p5hz-excitatory").all()
    line = [r.message for r in caplog.records if "warnings" in r.message][-1]
    assert "4 of 4 cell(s)" in line and "4 × frame_rate_far" in line
    assert "--frame-rate 9.8 --sigma-ms 155" in line and "1 × dff_implausible" in line


def test_short_trace_is_padded_and_flagged(zoo_project):
    result = infer_spikes(
        np.random.default_rng(3).normal(0, 0.01, 40), 30.0, project_path=zoo_project, events=False
    )
    assert result.routing.loc[0, "warnings"] == "too_short"
    assert result.rates_hz.shape == (1, 40) and np.isfinite(result.rates_hz).all()


def test_suggested_sigma_follows_the_zoo_pairs():
    assert [suggested_sigma_ms(f) for f in (7.5, 15, 30, 60, 9.8, 2)] == [
        200,
        100,
        50,
        25,
        155,
        200,
    ]


def test_limits_refuse_frame_rates_out_of_range(zoo_project):
    x = np.zeros(100)
    with pytest.raises(ValueError, match=r"frame rate 0\.01 Hz is outside .*0\.5–1000 Hz"):
        infer_spikes(x, 0.01, project_path=zoo_project)
    with pytest.raises(
        ValueError,
        match=r"frame_rate_hz=0\.0 for infer_spikes, trace 0 must be .* > 0",
    ):
        infer_spikes(x, 0, project_path=zoo_project)
    with pytest.raises(ValueError, match=r"frame_rate_hz is required"):
        infer_spikes(x, None, project_path=zoo_project)
    with pytest.raises(ValueError, match=r"unknown plausibility limit\(s\) \['max_dff'\]"):
        Limits.from_params({"max_dff": 3})
    relaxed = Limits(min_frame_rate_hz=0.001)
    out = infer_spikes(
        np.random.default_rng(0).normal(0, 0.01, 100),
        0.01,
        model=tiny_zoo(30.0),
        limits=relaxed,
        events=False,
    )
    assert "frame_rate_far" in out.routing.loc[0, "warnings"]


def test_implausible_cells_can_stop_the_run(zoo_project):
    dff = np.random.default_rng(0).normal(0, 0.01, (2, 300))
    dff[1, 7] = 1e9
    with pytest.raises(ValueError, match=r"trace 1: dff_implausible .* on_implausible: mask"):
        infer_spikes(dff, 30.0, project_path=zoo_project, limits=Limits(on_implausible="raise"))
    with pytest.raises(ValueError, match=r"on_implausible must be 'mask' or 'raise'"):
        Limits.from_params({"on_implausible": "ignore"})
