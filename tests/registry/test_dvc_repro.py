"""`dvc repro` in a fresh clone: the spike-inference chain runs, is recorded in `dvc.lock`, and
a parameter edit marks exactly the stages that read it as changed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.registry.conftest import DVC, sh

pytestmark = pytest.mark.slow  # about a minute: one `dvc repro` of three stages

CHAIN = ("data_engineering", "spike_inference", "evaluation_spike_inference")


def _declared_outs(clone: Path, stage: str) -> list[str]:
    spec = yaml.safe_load((clone / "dvc.yaml").read_text())["stages"][stage]
    return [
        next(iter(o)) if isinstance(o, dict) else o
        for key in ("outs", "metrics", "plots")
        for o in spec.get(key) or []
    ]


def test_repro_from_a_fresh_clone(reproduced_clone) -> None:
    clone, seconds, log = reproduced_clone
    print(f"dvc repro evaluation_spike_inference in a fresh clone: {seconds:.0f} s")
    for stage in CHAIN:
        assert f"Running stage '{stage}'" in log
    lock = yaml.safe_load((clone / "dvc.lock").read_text())["stages"]
    assert set(lock) == set(CHAIN)
    for stage in CHAIN:
        for out in _declared_outs(clone, stage):
            assert (clone / out).exists(), f"{stage} did not write {out}"
            recorded = {o["path"]: o for o in lock[stage]["outs"]}
            assert out in recorded and recorded[out]["md5"], f"dvc.lock lacks {out}"
    status = json.loads(
        sh(clone, DVC, "status", "--json", "--with-deps", "evaluation_spike_inference")
    )
    assert status == {}, status  # everything reproduced is up to date
    again = sh(clone, DVC, "repro", "evaluation_spike_inference")
    assert "Running stage" not in again  # nothing to do the second time


def test_parameter_edit_marks_the_dependent_stages(reproduced_clone) -> None:
    clone, _, _ = reproduced_clone
    path = clone / "conf/base/parameters_spike_inference.yml"
    original = path.read_text()
    params = yaml.safe_load(original)
    params["spike_inference"]["inference"]["stride"] = 8
    try:
        path.write_text(yaml.safe_dump(params, sort_keys=False))
        status = json.loads(
            sh(clone, DVC, "status", "--json", "--with-deps", "evaluation_spike_inference")
        )
    finally:
        path.write_text(original)
    # data_engineering is untouched; the evaluation reruns once the new outputs differ
    assert set(status) == {"spike_inference"}, status
    changed = status["spike_inference"][0]["changed deps"]
    assert changed == {"conf/base/parameters_spike_inference.yml": {"spike_inference": "modified"}}


def test_training_curves_in_dvc_plots(reproduced_clone, tmp_path: Path) -> None:
    clone, _, _ = reproduced_clone
    out = tmp_path / "plots"  # figures are copied there, not into the clone
    shown = json.loads(sh(clone, DVC, "plots", "show", "--json", "-o", str(out)))["data"]
    losses = shown["ens2_losses"][0]["content"]["data"]["values"]
    assert {v["filename"] for v in losses} == {"train/loss.tsv", "val/loss.tsv"}
    logs = "data/08_reporting/training_logs"
    for run in ("ens2", "cascade/zoo", "cascade/zoo_2"):  # the tiny zoo: one level, 2 members
        assert f"{logs}/{run}/plots/metrics/train/loss.tsv" in shown
        assert f"{logs}/{run}/plots/metrics/val/loss.tsv" in shown
    assert f"{logs}/cascade/zoo/plots/metrics/lr-Adagrad.tsv" in shown
    for figure in ("spike_example_predictions.png", "spike_metric_distributions.png"):
        assert shown[f"data/08_reporting/{figure}"][0]["type"] == "image"
