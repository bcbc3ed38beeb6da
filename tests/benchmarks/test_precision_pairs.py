"""The paired bf16-against-fp32 accuracy summary: intervals, the decision rule, file merging."""

import json

import numpy as np
import pytest
from scipy import stats


def test_t_interval_matches_scipy(precision_pairs):
    d = np.array([-0.02, 0.01, -0.005, 0.0, 0.012, -0.03, 0.004, -0.001])
    lo, hi = precision_pairs.t_interval(d)
    ref = stats.t.interval(0.95, d.size - 1, loc=d.mean(), scale=stats.sem(d))
    assert lo == pytest.approx(ref[0], abs=1e-12) and hi == pytest.approx(ref[1], abs=1e-12)


def test_verdicts(precision_pairs):
    m = precision_pairs.MARGIN
    assert precision_pairs.verdict([[-m / 2, m / 2], [-m / 3, m / 4]]) == "equal"
    assert precision_pairs.verdict([[-3 * m, -m / 10], [-m / 2, m / 2]]) == "lower"
    assert precision_pairs.verdict([[m / 10, 2 * m], [-m / 2, m / 2]]) == "higher"
    assert precision_pairs.verdict([[-2 * m, m], [-m / 2, m / 2]]) == (
        "no difference detected, equality not shown"
    )


def _result(z, seed_key):
    return {seed_key: {"radical": {"r2_xyz": [0.8, 0.6, z]}}}


def test_files_are_paired_by_seed_and_summarised(precision_pairs, tmp_path):
    fp32 = {0: 0.50, 1: 0.40, 2: 0.45, 3: 0.52}
    shift = {0: -0.01, 1: 0.004, 2: -0.002, 3: 0.003}
    paths = {}
    for name, values in (("fp32", fp32), ("bf16", {s: v + shift[s] for s, v in fp32.items()})):
        for part, seeds in (("a", [0, 1]), ("b", [2, 3])):
            doc = {}
            for s in seeds:
                doc.update(_result(values[s], f"lorenz_10hz_seed{s}"))
            doc["provenance"] = {"command": "x"}
            path = tmp_path / f"{name}_{part}.json"
            path.write_text(json.dumps(doc))
            paths.setdefault(name, []).append(path)
    out = tmp_path / "pairs.json"
    precision_pairs.main(
        ["--baseline", *map(str, paths["fp32"]), "--candidate", *map(str, paths["bf16"]),
         "--models", "radical", "--out", str(out)]
    )  # fmt: skip
    res = json.loads(out.read_text())["radical_10hz"]
    assert res["seeds"] == [0, 1, 2, 3]
    assert res["z"]["difference_bf16_minus_fp32"] == [-0.01, 0.004, -0.002, 0.003]
    assert res["z"]["mean_difference"] == pytest.approx(-0.00125, abs=1e-4)
    assert res["z"]["seeds_bf16_lower"] == 2
    assert res["verdict"] == "equal"


def test_a_seed_in_two_files_is_refused(precision_pairs, tmp_path):
    for name in ("a", "b"):
        (tmp_path / f"{name}.json").write_text(json.dumps(_result(0.5, "lorenz_10hz_seed0")))
    with pytest.raises(ValueError, match="seed 0"):
        precision_pairs.per_seed([tmp_path / "a.json", tmp_path / "b.json"])


def test_calcium_lorenz_seeds_are_paired_and_identical_runs_are_equal(precision_pairs, tmp_path):
    """The calcium-LFADS data set's keys pair like the speeds'; seeds that trained to the same
    numbers give zero differences (Wilcoxon p 1) and the verdict 'equal'."""
    doc = {f"calcium_lorenz_seed{s}": {"calcium_lfads": {"r2_xyz": [0.99, 0.98, z]}}
           for s, z in enumerate([0.97, 0.975, 0.98])}  # fmt: skip
    assert set(precision_pairs.per_seed([_write(tmp_path / "a.json", doc)])) == {"calcium_lorenz"}
    out = tmp_path / "pairs.json"
    precision_pairs.main(
        ["--baseline", str(tmp_path / "a.json"), "--candidate", str(tmp_path / "a.json"),
         "--names", "before", "after", "--models", "calcium_lfads", "--out", str(out)]
    )  # fmt: skip
    res = json.loads(out.read_text())["calcium_lfads_calcium_lorenz"]
    assert res["seeds"] == [0, 1, 2]
    assert res["z"]["difference_after_minus_before"] == [0.0, 0.0, 0.0]
    assert res["z"]["wilcoxon_p"] == 1.0
    assert res["verdict"] == "equal"


def _write(path, doc):
    path.write_text(json.dumps(doc))
    return path
