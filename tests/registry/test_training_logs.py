"""DVCLive training logs from the shared trainer builder, drawn by `dvc plots show`.

A tiny ENS² training logs into a folder of a throw-away git + DVC project: its losses and learning
rate are checked against what the trainer itself reports, `dvc plots show --json` returns the
same curves, and nothing is sent anywhere (no DVC experiment, no DVC Studio call).
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from calcium_dynamics.models import fit
from calcium_dynamics.models.spike_training import train_ens2

DVC = str(Path(sys.executable).with_name("dvc"))
LOGS = "data/08_reporting/training_logs"


def _table(n_neurons: int = 4, rate: float = 60.0, seconds: float = 40.0) -> pd.DataFrame:
    """Calcium-like traces of Poisson spikes through an exponential kernel, with targets."""
    rng = np.random.default_rng(0)
    n = int(seconds * rate)
    kernel = np.exp(-np.arange(int(rate)) / (0.5 * rate))
    rows = []
    for i in range(n_neurons):
        counts = rng.poisson(1.0 / rate, n).astype(float)
        rows.append(
            {
                "dataset": f"DS9{i % 2}",
                "neuron": f"n{i}",
                "recording": 0,
                "frame_rate_hz": rate,
                "dff": (np.convolve(counts, 0.3 * kernel)[:n] + rng.normal(0, 0.02, n)).astype(
                    np.float32
                ),
                "target_rate": counts * rate,
            }
        )
    return pd.DataFrame(rows)


def _params(logger) -> dict:
    return {
        "sigma_s": 0.025,
        "seed": 0,
        "model": {"base_channels": 2, "learning_rate": 2.0e-3},
        "data": {"batch_size": 16, "validation_fraction": 0.25, "n_val_batches": 1},
        "trainer": {
            "max_steps": 8,
            "val_check_interval": 4,
            "log_every_n_steps": 2,
            "enable_progress_bar": False,
            "logger": logger,
        },
    }


def _tsv(path: Path) -> list[dict[str, float]]:
    with open(path) as fh:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(fh, delimiter="\t")]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A committed git + DVC project (the working folder of the test) with a dvc.yaml plot."""
    root = tmp_path / "project"
    root.mkdir()
    monkeypatch.chdir(root)
    for key in ("DVC_STUDIO_TOKEN", "DVC_STUDIO_OFFLINE", "DVC_STUDIO_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    run = {"cwd": root, "check": True, "capture_output": True, "timeout": 60}
    subprocess.run(["git", "init", "--quiet"], **run)
    subprocess.run(["git", "config", "user.email", "t@example.org"], **run)
    subprocess.run(["git", "config", "user.name", "T"], **run)
    subprocess.run([DVC, "init", "--quiet"], **run)
    subprocess.run([DVC, "config", "core.analytics", "false"], **run)
    (root / "dvc.yaml").write_text(
        "plots:\n"
        "  - ens2_losses:\n"
        "      x: step\n"
        "      y:\n"
        f"        {LOGS}/ens2/plots/metrics/train/loss.tsv: loss\n"
        f"        {LOGS}/ens2/plots/metrics/val/loss.tsv: loss\n"
        f"  - {LOGS}/ens2/plots/metrics:\n"
        "      x: step\n"
    )
    subprocess.run(["git", "add", "-A"], **run)
    subprocess.run(["git", "commit", "--quiet", "-m", "init"], **run)
    return root


def test_training_curves_are_logged_and_plotted(project: Path, monkeypatch) -> None:
    posted = []
    monkeypatch.setattr("dvclive.studio.post_live_metrics", lambda *a, **k: posted.append(a))
    # A configured Studio token must not lead to any upload.
    monkeypatch.setenv("DVC_STUDIO_TOKEN", "not-a-token")
    monkeypatch.setenv("DVC_STUDIO_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("DVC_STUDIO_OFFLINE", "false")
    model = train_ens2(_table(), _params(f"{LOGS}/ens2"))
    info = model.metadata["training"]
    assert os.environ["DVC_STUDIO_OFFLINE"] == "true" and posted == []

    logs = project / LOGS / "ens2"
    train = _tsv(logs / "plots/metrics/train/loss.tsv")
    val = _tsv(logs / "plots/metrics/val/loss.tsv")
    lr = _tsv(logs / "plots/metrics/lr-Adam.tsv")
    assert [r["step"] for r in train] == [1, 3, 5, 7]  # every 2nd of 8 steps
    assert [r["step"] for r in val] == [3, 7]  # a validation check every 4 steps
    assert all(np.isfinite(r["loss"]) and r["loss"] > 0 for r in train)
    assert val[-1]["loss"] == pytest.approx(info["val_loss"], rel=1e-6)  # Lightning's own value
    assert {r["lr-Adam"] for r in lr} == {2.0e-3}  # the learning-rate monitor
    summary = json.loads((logs / "metrics.json").read_text())
    assert summary["step"] == info["steps"] - 1 and summary["val"]["loss"] == val[-1]["loss"]
    assert (
        not (logs / "dvc.yaml").exists() and "artifacts" not in (project / "dvc.yaml").read_text()
    )
    refs = subprocess.run(["git", "for-each-ref"], capture_output=True, text=True, check=True)
    assert "refs/exps" not in refs.stdout  # no DVC experiment was saved

    proc = subprocess.run(
        [DVC, "plots", "show", "--json"], capture_output=True, text=True, timeout=120, check=True
    )
    shown = json.loads(proc.stdout)
    assert not shown.get("errors")
    values = shown["data"]["ens2_losses"][0]["content"]["data"]["values"]
    drawn = {(v["filename"], int(v["step"])): float(v["loss"]) for v in values}
    expected = {("train/loss.tsv", int(r["step"])): r["loss"] for r in train}
    expected |= {("val/loss.tsv", int(r["step"])): r["loss"] for r in val}
    assert drawn == pytest.approx(expected)
    assert f"{LOGS}/ens2/plots/metrics/lr-Adam.tsv" in shown["data"]


def test_logger_off_and_repeated_folders(project: Path) -> None:
    assert fit.training_logger(False) is False and fit.training_logger(None) is False
    trainer = fit.build_trainer({"max_steps": 1, "logger": False})
    assert trainer.logger is None and not any(
        type(cb).__name__ == "LearningRateMonitor" for cb in trainer.callbacks
    )
    with pytest.raises(ValueError, match="trainer parameter 'logger'"):
        fit.training_logger(True)
    # Members of an ensemble trained one after another never share (and erase) a folder.
    first = fit.build_trainer({"max_steps": 1, "logger": f"{LOGS}/zoo_test/zoo"})
    second = fit.build_trainer({"max_steps": 1, "logger": f"{LOGS}/zoo_test/zoo"})
    named = fit.build_trainer({"max_steps": 1, "logger": f"{LOGS}/zoo_test"}, run_name="nu_2")
    dirs = [Path(t.logger.experiment.dir).as_posix() for t in (first, second, named)]
    assert dirs == [f"{LOGS}/zoo_test/zoo", f"{LOGS}/zoo_test/zoo_2", f"{LOGS}/zoo_test/nu_2"]
    assert any(type(cb).__name__ == "LearningRateMonitor" for cb in first.callbacks)
