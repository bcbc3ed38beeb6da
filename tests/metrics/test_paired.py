"""Paired per-neuron comparison of two benchmark runs."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from calcium_dynamics.metrics.paired import pair_runs, paired_summary

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "spike_lodo_compare.py"


def _run(corr, er, bias, datasets=None):
    n = len(corr)
    return pd.DataFrame(
        {
            "dataset": datasets or ["DSA"] * n,
            "neuron": [f"cell{i}" for i in range(n)],
            "corr": corr,
            "er": er,
            "bias": bias,
        }
    )


def test_paired_summary_of_a_constant_shift_is_that_shift():
    base = _run([0.5, 0.6, 0.7, 0.8], [0.5, 0.4, 0.3, 0.2], [-0.4, 0.3, 0.1, -0.2])
    cand = _run([0.52, 0.62, 0.72, 0.82], [0.45, 0.35, 0.25, 0.15], [-0.2, 0.1, 0.2, -0.1])
    s = paired_summary(base, cand, ("corr", "er", "bias"), n_boot=200)
    corr, er, bias = (s["metrics"][m] for m in ("corr", "er", "bias"))
    assert s["n_neurons"] == 4
    assert corr["median_difference"] == pytest.approx(0.02)
    assert corr["ci95"] == pytest.approx([0.02, 0.02])
    assert corr["fraction_better"] == 1.0
    assert er["median_difference"] == pytest.approx(-0.05)
    assert er["fraction_better"] == 1.0  # a lower error rate is better
    # |bias| shrinks for 3 of 4 neurons (0.4→0.2, 0.3→0.1, 0.2→0.1) and grows for one (0.1→0.2)
    assert bias["fraction_better"] == 0.75
    assert corr["median_baseline"] == pytest.approx(0.65)
    assert corr["median_candidate"] == pytest.approx(0.67)


def test_paired_summary_matches_neurons_by_name_and_counts_datasets():
    base = _run([0.5, 0.6, 0.7], [0.3, 0.3, 0.3], [0, 0, 0], ["DSA", "DSA", "DSB"])
    # the candidate lists the neurons in another order and misses one; DSB gets worse
    cand = base.iloc[[2, 0]].copy()
    cand["corr"] = [0.6, 0.55]
    s = paired_summary(base, cand, ("corr",), n_boot=100)
    corr = s["metrics"]["corr"]
    assert (s["n_neurons"], s["only_in_baseline"], s["only_in_candidate"]) == (2, 1, 0)
    assert corr["per_dataset"]["DSA"]["median_difference"] == pytest.approx(0.05)
    assert corr["per_dataset"]["DSB"]["median_difference"] == pytest.approx(-0.1)
    assert corr["datasets_better"] == 1
    assert corr["fraction_better"] == 0.5


def test_paired_summary_drops_nan_neurons_per_metric():
    base = _run([0.5, np.nan, 0.7], [0.3, 0.2, 0.1], [0, 0, 0])
    cand = _run([0.6, 0.9, 0.8], [0.2, 0.1, np.nan], [0, 0, 0])
    s = paired_summary(base, cand, ("corr", "er"), n_boot=100)
    assert s["metrics"]["corr"]["n_neurons"] == 2
    assert s["metrics"]["corr"]["median_difference"] == pytest.approx(0.1)
    assert s["metrics"]["er"]["n_neurons"] == 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.drop(columns="corr"), "lacks column"),
        (lambda t: pd.concat([t, t.iloc[:1]]), "more than once"),
        (lambda t: t.assign(neuron=["x", "y", "z"]), "share no"),
    ],
)
def test_pair_runs_refuses_tables_it_cannot_pair(change, message):
    base = _run([0.5, 0.6, 0.7], [0.3, 0.3, 0.3], [0, 0, 0])
    with pytest.raises(ValueError, match=message):
        pair_runs(base, change(base.copy()), ("corr",))
    with pytest.raises(ValueError, match="unknown metric"):
        pair_runs(base, base, ("accuracy",))


def test_compare_script_writes_its_summary_and_names_a_missing_run(tmp_path):
    base = _run([0.5, 0.6, 0.7], [0.3, 0.3, 0.3], [0, 0, 0])
    base.to_csv(tmp_path / "spike_lodo_old.csv", index=False)
    base.assign(corr=base["corr"] + 0.03).to_csv(tmp_path / "spike_lodo_new.csv", index=False)
    cmd = [sys.executable, str(SCRIPT), "old", "new", "--results", str(tmp_path), "--n-boot", "50"]
    done = subprocess.run([*cmd, "--figure"], capture_output=True, text=True, check=True)
    assert "+0.0300" in done.stdout
    summary = json.loads((tmp_path / "spike_lodo_compare_new_vs_old.json").read_text())
    assert (tmp_path / "spike_lodo_compare_new_vs_old.png").stat().st_size > 0
    assert summary["metrics"]["corr"]["median_difference"] == pytest.approx(0.03)
    missing = subprocess.run(
        [*cmd[:2], "old", "absent", "--results", str(tmp_path)], capture_output=True, text=True
    )
    assert missing.returncode == 2
    assert "spike_lodo_absent.csv" in missing.stderr
