"""The leave-one-dataset-out protocol: a fold never trains on its test dataset, early stopping
uses training datasets only, and noise-matched test replicas never enter training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from calcium_dynamics.io import GroundTruthDataset
from calcium_dynamics.io.ground_truth import validate_recordings
from calcium_dynamics.models.spike_data import split_by_neuron
from calcium_dynamics.models.spikes.lodo import lodo_folds
from calcium_dynamics.models.spikes.training_tables import training_table

EMBEDDED = Path(__file__).resolve().parents[3] / "data" / "01_raw" / "ground_truth"


@pytest.fixture(scope="module")
def pools() -> tuple[pd.DataFrame, pd.DataFrame]:
    recordings, _ = validate_recordings(GroundTruthDataset(str(EMBEDDED)).load())
    settings = {"frame_rate_hz": 7.5, "sigma_s": 0.2, "trim_s": 0.5, "min_duration_s": 2.0}
    train_pool = training_table(recordings, **settings)
    train_pool["row_id"] = np.arange(len(train_pool))
    noised = training_table(
        recordings, **settings, target_noise_level_nu=8.0, max_noise_replicas=1, seed=0
    )
    noised["row_id"] = np.arange(len(noised)) + len(train_pool)
    return train_pool, noised


def test_no_fold_trains_on_its_test_dataset_or_test_replicas(pools):
    train_pool, test_pool = pools
    datasets = sorted(train_pool["dataset"].unique())
    assert len(datasets) >= 5 and len(test_pool) > 0
    seen = set()
    for name, train, test in lodo_folds(train_pool, test_pool, datasets):
        assert name not in set(train["dataset"])
        assert set(test["dataset"]) <= {name}
        assert not set(train["row_id"]) & set(test_pool["row_id"])  # no replica in training
        assert set(train["dataset"]) == set(datasets) - {name}
        _, validation = split_by_neuron(train, validation_fraction=0.2, seed=0)
        assert name not in set(validation["dataset"])  # early stopping on training datasets
        seen |= set(test["row_id"])
    assert seen == set(test_pool["row_id"])  # every replica is tested once


def test_the_guard_refuses_a_leaking_fold(pools):
    train_pool, _ = pools
    name = train_pool["dataset"].iloc[0]
    with pytest.raises(ValueError, match="training rows include test"):
        next(lodo_folds(train_pool, train_pool.assign(dataset="other"), ["other"]))
    assert next(lodo_folds(train_pool, train_pool, [name]))[0] == name
