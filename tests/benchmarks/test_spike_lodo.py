"""The LODO benchmark's test-set noise matching (CASCADE protocol), on the embedded subset."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from calcium_dynamics.signal import noise_level_nu

ROOT = Path(__file__).resolve().parents[2]
GROUND_TRUTH = ROOT / "data" / "01_raw" / "ground_truth"


CASCADE_SETTING = ["--frame-rate", "7.5", "--sigma-ms", "200"]


def test_test_recordings_are_brought_to_the_noise_level_and_noisier_ones_left_out(spike_lodo):
    args = spike_lodo.parse_args(
        ["--ground-truth", str(GROUND_TRUTH), "--model", "oasis", *CASCADE_SETTING]
    )
    recordings = spike_lodo.load_recordings(args)
    clean = spike_lodo.load_table(args, recordings)
    noisy = spike_lodo.load_table(args, recordings, noise_level=2.0)
    measured = [noise_level_nu(r.dff, r.frame_rate_hz) for r in noisy.itertuples()]
    np.testing.assert_allclose(measured, 2.0, rtol=1e-3)
    # exactly the recordings whose own ν is above 2 are gone, the rest keep their targets
    assert len(noisy) == int((clean.noise_level_nu <= 2.0).sum()) < len(clean)
    keys = ["dataset", "neuron", "recording"]
    pairs = clean.merge(noisy, on=keys, suffixes=("_clean", "_noisy"))
    assert len(pairs) == len(noisy)
    for a, b in zip(pairs.target_rate_clean, pairs.target_rate_noisy):
        np.testing.assert_array_equal(a, b)
    assert all(not np.array_equal(a, b) for a, b in zip(pairs.dff_clean, pairs.dff_noisy))


def test_lodo_run_at_the_cascade_setting_scores_only_the_noise_matched_neurons(
    spike_lodo, tmp_path
):
    test_set = "DS06-GCaMP6f-zf-aDp"  # one of its two neurons is noisier than ν = 2
    argv = ["--ground-truth", str(GROUND_TRUTH), "--model", "oasis", *CASCADE_SETTING]
    argv += ["--test-datasets", test_set, "--out", str(tmp_path)]
    assert spike_lodo.main([*argv, "--test-noise-level", "2", "--tag", "noised"]) == 0
    noised = pd.read_csv(tmp_path / "spike_lodo_noised.csv")
    summary = json.loads((tmp_path / "spike_lodo_noised.json").read_text())
    assert (summary["test_noise_level_nu"], summary["frame_rate_hz"]) == (2.0, 7.5)
    # the neurons scored are those with at least one recording at ν <= 2, all now at ν = 2
    args = spike_lodo.parse_args(argv)
    table = spike_lodo.load_table(args, spike_lodo.load_recordings(args))
    quiet = table[(table.dataset == test_set) & (table.noise_level_nu <= 2.0)]
    assert sorted(noised.neuron) == sorted(quiet.neuron.unique())
    assert len(noised) == 1 < table[table.dataset == test_set].neuron.nunique()
    np.testing.assert_array_equal(noised.noise_level_nu, 2.0)


def test_native_rate_oasis_events_land_on_the_evaluation_grid(spike_lodo, monkeypatch):
    """One event of mass 2 at native frame 100 (t = 10.0 s at 10 Hz) of a recording starting at
    t = 0 lands, at 60 Hz after the 0.5 s trim, on evaluation frame (10.0 − 0.5) · 60 = 570."""
    from types import SimpleNamespace

    from calcium_dynamics.models.spikes.training_tables import training_table

    rng = np.random.default_rng(0)
    recordings = pd.DataFrame(
        {
            "dataset": ["DSX"],
            "neuron": ["n0"],
            "recording": [0],
            "inhibitory": [False],
            "frame_rate_hz": [10.0],
            "t0_s": [0.0],
            "dff": [rng.normal(0, 0.05, 300).astype(np.float32)],
            "spike_times_s": [np.array([10.0])],
        }
    )
    table = training_table(recordings, frame_rate_hz=60.0, sigma_s=0.005, trim_s=0.5)

    def fake_oasis(dff, rate, **_):
        ev = np.zeros(len(dff))
        ev[100] = 2.0
        return SimpleNamespace(events=ev)

    monkeypatch.setattr(spike_lodo, "deconvolve_oasis", fake_oasis)
    (rate,) = spike_lodo.native_oasis_rates(table, recordings, 0.005, "point")
    assert rate.shape == table.target_rate.iloc[0].shape
    assert int(np.argmax(rate)) == 570 == int(np.argmax(table.target_rate.iloc[0]))
    np.testing.assert_allclose(rate.sum(), 2.0, rtol=1e-4)
    # spread over its native frame [9.95, 10.05) s, six 60 Hz frames long; frame k spans
    # 0.5 + (k ± ½) / 60 s, so 568 … 572 lie inside (2/6 each) and 567, 573 half inside
    (spread,) = spike_lodo.native_oasis_rates(table, recordings, 1e-4, "frame")
    np.testing.assert_allclose(
        spread[566:575], [0, 1, 2, 2, 2, 2, 2, 1, 0] / np.float32(6), atol=1e-5
    )
    np.testing.assert_allclose(spread.sum(), 2.0, rtol=1e-4)


def test_inference_settings_are_scored_per_neuron_on_the_concatenated_recordings(
    spike_lodo, monkeypatch
):
    """Each (stride, precision) setting predicts every recording of a neuron; its Corr is the
    correlation of the concatenated predictions with the concatenated targets."""
    rng = np.random.default_rng(0)
    rows = [
        {
            "dataset": f"DS{d}",
            "neuron": n,
            "dff": rng.normal(size=40),
            "routing_nu": 1.0,
            "target_rate": rng.normal(size=40),
        }
        for d in range(2)
        for n in range(3)
        for _ in range(2)
    ]
    test = pd.DataFrame(rows)

    def fake_predict(model, dff, nu, stride, precision):
        return dff + (0.5 if precision == "bf16" else 0.0) * dff**2 + 0.1 * stride

    monkeypatch.setattr(spike_lodo, "predict_model_rate", fake_predict)
    settings = {"stride4": (4, "fp32"), "bf16": (1, "bf16")}
    got = spike_lodo.corr_rows_by_setting(test, None, settings)
    assert sorted(got) == [(f"DS{d}", n) for d in range(2) for n in range(3)]
    for (dataset, neuron), by_label in got.items():
        grp = test[(test.dataset == dataset) & (test.neuron == neuron)]
        target = np.concatenate(grp.target_rate.to_list())
        for label, (stride, precision) in settings.items():
            pred = np.concatenate([fake_predict(None, x, 1.0, stride, precision) for x in grp.dff])
            assert by_label[label] == pytest.approx(np.corrcoef(target, pred)[0, 1], abs=1e-12)


def test_paired_setting_summary_gives_the_change_against_the_runs_own_setting(spike_lodo):
    """A column lower than ``corr`` by exactly 0.02 for every neuron: median change −0.02 with
    a zero-width interval, and its median Corr is the run's median minus 0.02."""
    rng = np.random.default_rng(1)
    corr = rng.uniform(0.3, 0.9, size=30)
    per_neuron = pd.DataFrame(
        {"dataset": np.repeat(["a", "b", "c"], 10), "corr": corr, "corr_bf16": corr - 0.02}
    )
    out = spike_lodo.paired_setting_summary(per_neuron, {"bf16": "corr_bf16"}, "fp32")
    assert out["bf16"]["change_vs_fp32_median"] == pytest.approx(-0.02, abs=1e-12)
    assert out["bf16"]["change_vs_fp32_ci95_hierarchical"] == pytest.approx([-0.02, -0.02])
    base = spike_lodo.paired_setting_summary(
        per_neuron.assign(corr_same=corr), {"same": "corr_same"}, "fp32"
    )
    assert out["bf16"]["corr_median"] == pytest.approx(base["same"]["corr_median"] - 0.02)


def test_setting_summaries_pair_every_extra_setting_with_the_runs_own(spike_lodo):
    """Extra stride 16 and bfloat16: three summaries (stride, arithmetic, both), each the
    change of its own column against ``corr``; without extra settings, none."""
    rng = np.random.default_rng(2)
    corr = rng.uniform(0.3, 0.9, size=20)
    per_neuron = pd.DataFrame(
        {
            "dataset": np.repeat(["a", "b"], 10),
            "corr": corr,
            "corr_stride16": corr - 0.003,
            "corr_bf16": corr + 0.0001,
            "corr_stride16_bf16": corr - 0.004,
        }
    )
    settings = {
        "stride": 1,
        "precision": "fp32",
        "extra_strides": [16],
        "extra_precisions": ["bf16"],
    }
    out = spike_lodo.setting_summaries(per_neuron, settings)
    assert out["strides"]["16"]["change_vs_stride1_median"] == pytest.approx(-0.003)
    assert out["precisions"]["bf16"]["change_vs_fp32_median"] == pytest.approx(0.0001)
    combined = out["strides_and_precisions"]["stride16_bf16"]
    assert combined["change_vs_stride1_fp32_median"] == pytest.approx(-0.004)
    assert spike_lodo.setting_summaries(per_neuron, {"stride": 1, "precision": "fp32"}) == {}
