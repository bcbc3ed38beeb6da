"""The full database reproduces Table 1 of the CASCADE paper (Rupprecht et al. 2021)."""

import re

import pandas as pd
import pytest

from tests.kedro_project import copy_project, run_pipeline

# Table 1: dataset number → (frame rate in Hz, mean noise level ν in %·Hz^-½, # of neurons)
TABLE_1 = {
    1: (11.3, 0.7, 11),
    2: (15.6, 0.5, 16),
    3: (500.0, 0.3, 8),
    4: (7.7, 1.0, 15),
    5: (7.8, 2.0, 5),
    6: (30.0, 1.3, 8),
    7: (30.0, 0.6, 10),
    8: (30.0, 0.8, 9),
    9: (60.1, 0.4, 11),
    10: (160.1, 0.5, 23),
    11: (158.3, 0.5, 25),
    12: (151.6, 0.8, 6),
    13: (157.5, 0.5, 26),
    14: (60.1, 0.5, 7),
    15: (59.1, 0.7, 9),
    16: (59.1, 0.9, 9),
    17: (50.0, 0.5, 9),
    18: (20.0, 1.6, 4),
    19: (15.0, 0.6, 9),
    20: (15.0, 1.3, 10),
    21: (29.8, 1.0, 11),
    22: (15.6, 0.6, 5),
    23: (15.6, 0.6, 7),
    24: (26.6, 0.5, 13),
    25: (26.6, 0.6, 17),
    26: (26.6, 2.1, 11),
    27: (30.0, 2.8, 4),
}


@pytest.fixture(scope="module")
def dataset_table(full_ground_truth, project_root, tmp_path_factory):
    project = copy_project(project_root, tmp_path_factory.mktemp("full") / "project")
    mp = pytest.MonkeyPatch()
    try:
        run_pipeline(
            project,
            "data_engineering",
            params={"ground_truth_dir": str(full_ground_truth)},
            monkeypatch=mp,
        )
    finally:
        mp.undo()
    return pd.read_csv(project / "data" / "08_reporting" / "ground_truth_datasets.csv")


def test_frame_rates_and_noise_levels_match_table_1(dataset_table):
    assert len(dataset_table) >= 15
    compared = 0
    for row in dataset_table.itertuples():
        number = int(re.match(r"DS(\d+)", row.dataset).group(1))
        rate, nu, n_neurons = TABLE_1[number]
        assert row.noise_level_nu_mean == pytest.approx(nu, rel=0.20), row.dataset
        if abs(row.n_neurons - n_neurons) > 2:
            # The public DS01 holds 21 neurons where the paper's table counted 11: its mean
            # frame rate describes other recordings, so only a loose match can be asked for.
            assert row.frame_rate_hz == pytest.approx(rate, rel=0.02), row.dataset
            continue
        assert row.frame_rate_hz == pytest.approx(rate, rel=0.01), row.dataset
        compared += 1
    assert compared >= len(dataset_table) - 1
