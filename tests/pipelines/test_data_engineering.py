import logging

import numpy as np
import pandas as pd
import pytest

from calcium_dynamics.io.ground_truth import validate_recordings
from calcium_dynamics.models.spikes.training_tables import (
    SUMMARY_COLUMNS,
    training_table,
)
from calcium_dynamics.signal import noise_level_nu
from tests.kedro_project import copy_project, run_pipeline


def _recordings(n=3, rate=30.0, frames=3000, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        spikes = np.sort(rng.uniform(0, frames / rate, 40))
        rows.append(
            {
                "dataset": "DS09-GCaMP6f-m-V1",
                "neuron": f"n{i}",
                "recording": 0,
                "inhibitory": False,
                "frame_rate_hz": rate,
                "t0_s": 0.0,
                "dff": rng.normal(0, 0.01, frames).astype(np.float32),
                "spike_times_s": spikes,
            }
        )
    return pd.DataFrame(rows)


def test_all_nan_recordings_are_dropped_with_a_warning(caplog):
    raw = _recordings(2)
    raw["dff"] = [raw["dff"][0], np.full(100, np.nan, np.float32)]
    raw["valid"], raw["issue"], raw["file"] = True, "", ["a.mat", "b.mat"]
    for col in ("indicator", "species", "region", "cell_type"):
        raw[col] = "x"
    with caplog.at_level(logging.WARNING):
        recordings, rejected = validate_recordings(raw)
    assert recordings["neuron"].tolist() == ["n0"]
    assert rejected["file"].tolist() == ["b.mat"]
    assert "NaN in every frame" in rejected["issue"][0]
    assert "b.mat" in caplog.text


def test_training_table_resamples_and_keeps_every_spike():
    recs = _recordings()
    table = training_table(recs, frame_rate_hz=60.0, sigma_s=0.025, trim_s=0.0)
    for row, rec in zip(table.itertuples(), recs.itertuples()):
        assert row.frame_rate_hz == pytest.approx(60.0)
        assert row.dff.size == 6000 and row.target_rate.size == 6000
        assert row.spike_counts.sum() == len(rec.spike_times_s)
        assert row.target_rate.sum() == pytest.approx(row.spike_counts.sum(), rel=1e-4)


def test_training_table_trims_the_edges():
    table = training_table(_recordings(1), frame_rate_hz=60.0, sigma_s=0.025, trim_s=0.5)
    assert table.iloc[0]["dff"].size == 6000 - 60
    assert table.iloc[0]["t0_s"] == pytest.approx(0.5)


def test_training_table_noise_matching():
    table = training_table(
        _recordings(2),
        frame_rate_hz=30.0,
        sigma_s=0.05,
        target_noise_level_nu=3.0,
        max_noise_replicas=3,
        seed=1,
    )
    # own ν ≈ 0.954 · 0.01 / √30 · 100 ≈ 0.17 → ⌈1.2 · (3 / 0.17)²⌉ replicas, capped at 3
    assert len(table) == 6 and sorted(set(table["replica"])) == [0, 1, 2]
    for row in table.itertuples():
        assert noise_level_nu(row.dff, row.frame_rate_hz) == pytest.approx(3.0, rel=0.05)
    first, second = table.iloc[0]["dff"], table.iloc[1]["dff"]
    assert not np.allclose(first, second)  # each replica its own noise draw
    again = training_table(
        _recordings(2),
        frame_rate_hz=30.0,
        sigma_s=0.05,
        target_noise_level_nu=3.0,
        max_noise_replicas=3,
        seed=1,
    )
    np.testing.assert_array_equal(again.iloc[0]["dff"], first)  # same seed, same numbers


def test_kedro_run_data_engineering_on_the_embedded_subset(project_root, tmp_path, monkeypatch):
    project = copy_project(project_root, tmp_path / "project")
    run_pipeline(project, "data_engineering", monkeypatch=monkeypatch)
    report = project / "data" / "08_reporting"
    summary = pd.read_csv(report / "ground_truth_summary.csv")
    assert list(summary.columns) == ["dataset", "neuron", *SUMMARY_COLUMNS[2:]]
    assert summary["dataset"].nunique() >= 4 and summary["dataset"].str.contains("DS22").any()
    assert (summary["n_spikes"] > 0).all() and (summary["noise_level_nu"] > 0).all()
    assert (report / "ground_truth_overview.png").stat().st_size > 10_000
    ens2 = pd.read_parquet(project / "data" / "05_model_input" / "ens2_training_table.parquet")
    assert np.allclose(ens2["frame_rate_hz"], 60.0, rtol=0.05)
    assert isinstance(ens2.iloc[0]["dff"], np.ndarray) and ens2.iloc[0]["dff"].dtype == np.float32
