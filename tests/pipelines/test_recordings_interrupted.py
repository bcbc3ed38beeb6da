"""An interrupted run of the recordings pipeline never leaves outputs that look complete.

`kedro run --pipeline recordings` runs in a subprocess of a project copy: first to the end on
one Suite2p folder, then on another folder, stopped with SIGINT (Ctrl-C) in the middle. No
output of the first folder survives the second run's start; the run manifest says the second
run did not finish, so a node reading its outputs refuses them; a rerun recomputes all.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from calcium_dynamics.simulate.suite2p_example import write_example_suite2p
from tests.kedro_project import copy_project
from tests.pipelines.test_recordings_pipeline import save_tiny_models

KEDRO = str(Path(sys.executable).with_name("kedro"))
OUTPUTS = (
    "03_primary/recording_dff",
    "07_model_output/recording_spikes",
    "05_model_input/recording_trials",
    "08_reporting/recording_nmf",
)


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


#: no trials tables (the shipped example's would match these planes' names): no latent models,
#: which this test of the run manifest does not need
NO_TRIALS = "/nonexistent/trials"


def _kedro(project: Path, *args: str) -> subprocess.Popen:
    """``kedro run --pipeline recordings ARGS`` in ``project``; its log goes to a file (a pipe
    nobody reads while the run goes on would fill up and stall it)."""
    env = {**os.environ, "DO_NOT_TRACK": "1", "KEDRO_DISABLE_TELEMETRY": "true"}
    log = open(project / f"run-{time.monotonic_ns()}.log", "w+")  # noqa: SIM115 - closed in _finish
    proc = subprocess.Popen(
        [KEDRO, "run", "--pipeline", "recordings", *args],
        cwd=project,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        # a shell without job control starts background jobs with SIGINT ignored, and Python
        # then never raises KeyboardInterrupt: give the run Ctrl-C's usual meaning
        preexec_fn=_default_sigint,
    )
    proc.log = log
    return proc


def _finish(proc: subprocess.Popen, timeout: float = 300) -> tuple[int, str]:
    proc.wait(timeout=timeout)
    proc.log.seek(0)
    out = proc.log.read()
    proc.log.close()
    return proc.returncode, out


def _manifest(project: Path) -> dict:
    path = project / "data/08_reporting/recording_run.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _ids(project: Path) -> set[str]:
    """Recording ids of every per-recording output file."""
    ids = set()
    for folder in OUTPUTS:
        for path in (project / "data" / folder).glob("*.*"):
            ids.add(path.name.split(".")[0])
    return ids


def _names_now(project) -> set[str]:
    """Output ids present now; a folder the running pipeline is replacing may vanish between
    listing and reading, which counts as holding nothing."""
    names: set[str] = set()
    for folder in OUTPUTS:
        try:
            names |= {p.name.split(".")[0] for p in (project / "data" / folder).glob("*.*")}
        except FileNotFoundError:
            continue
    return names


def test_sigint_mid_run_leaves_nothing_that_looks_current(project_root, tmp_path):
    project = copy_project(project_root, tmp_path / "project")
    save_tiny_models(project / "data/06_models", rate_bias=0.3)
    first, second = tmp_path / "first", tmp_path / "second"
    write_example_suite2p(first, n_planes=2, n_rois=4, n_noncells=0, n_frames=600)
    write_example_suite2p(second, n_planes=4, n_rois=6, n_noncells=0, n_frames=3000, seed=1)

    code, out = _finish(
        _kedro(project, "--params", f"recording_path={first},trials_path={NO_TRIALS}")
    )
    assert code == 0, out[-3000:]
    run1 = _manifest(project)
    assert run1["status"] == "complete" and run1["finished"]
    first_ids = _ids(project)
    assert {i.rsplit("-", 1)[0] for i in first_ids} == {"plane0", "plane1"}
    assert len(run1["inputs"]) == 2
    assert all(v["files"]["F.npy"]["size_bytes"] > 0 for v in run1["inputs"].values())

    proc = _kedro(project, "--params", f"recording_path={second},trials_path={NO_TRIALS}")
    spikes = project / "data/07_model_output/recording_spikes"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        started = _manifest(project).get("run_id") not in (None, run1["run_id"])
        written = _names_now(project)
        if started and written - first_ids:
            break  # the second run has written its first outputs: interrupt it now
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    code, out = _finish(proc)
    assert code != 0, out[-3000:]

    run2 = _manifest(project)
    # unfinished: still "running", or "failed" when Kedro reported the interrupt to the hooks
    assert run2["run_id"] != run1["run_id"] and run2["status"] in ("running", "failed")
    assert first_ids & _ids(project) == set(), "outputs of the first folder survived"
    qc = project / "data/08_reporting/recording_qc.csv"
    if qc.exists():  # written by the second run before the interrupt, or not at all
        assert set(pd.read_csv(qc)["recording"]) <= set(run2["inputs"])
    assert not (project / "data/07_model_output/recording_nmf_components.parquet").exists()
    # a node that reads the interrupted run's outputs refuses them
    code, out = _finish(
        _kedro(
            project,
            "--params",
            f"recording_path={second},trials_path={NO_TRIALS}",
            "--nodes",
            "recording_collect_qc",
        )
    )
    assert code != 0 and "did not finish" in out, out[-3000:]

    code, out = _finish(
        _kedro(project, "--params", f"recording_path={second},trials_path={NO_TRIALS}"), timeout=600
    )
    assert code == 0, out[-3000:]
    run3 = _manifest(project)
    assert run3["status"] == "complete" and len(run3["inputs"]) == 4
    ids = _ids(project)
    assert {i.rsplit("-", 1)[0] for i in ids} == {f"plane{p}" for p in range(4)}
    assert ids == set(run3["inputs"])
    assert len(list(spikes.glob("*.parquet"))) == 4
