"""A fresh clone of the project in which `dvc repro` has run the spike-inference chain.

The clone holds the project's files as git sees them (tracked and new, not ignored), committed in
a new repository, nothing else: no outputs, no DVC cache. The spike-inference parameters are
shrunk to a few training steps so that ``dvc repro evaluation_spike_inference`` (data
engineering → spike inference → its evaluation) takes about a minute on one core.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

BIN = Path(sys.executable).parent
DVC = str(BIN / "dvc")

#: shrunk spike-inference settings (merged into conf/base/parameters_spike_inference.yml)
TINY_SPIKE_PARAMS = {
    "ens2": {
        "model": {"base_channels": 2},
        "data": {"batch_size": 32, "n_val_batches": 1},
        "trainer": {"max_steps": 12, "val_check_interval": 6, "log_every_n_steps": 2},
    },
    "cascade": {
        "noise_levels": [2],
        "n_members": 2,
        "max_noise_replicas": 1,
        "data": {"batch_size": 32, "n_val_batches": 1, "max_samples": 20000},
        "trainer": {"max_steps": 8, "val_check_interval": 4, "log_every_n_steps": 2},
    },
    "inference": {"stride": 16},
}


def offline_env(project: Path) -> dict[str, str]:
    """Environment for `dvc` / `kedro` in ``project``: this interpreter's tools, the project's
    own source first on the path, one thread, and nothing that reports to an outside host."""
    env = dict(os.environ)
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        PYTHONPATH=str(project / "src"),
        DO_NOT_TRACK="1",
        KEDRO_DISABLE_TELEMETRY="true",
        DVC_NO_ANALYTICS="1",
        DVC_STUDIO_OFFLINE="true",
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        GIT_AUTHOR_NAME="Test",
        GIT_AUTHOR_EMAIL="test@example.org",
        GIT_COMMITTER_NAME="Test",
        GIT_COMMITTER_EMAIL="test@example.org",
    )
    env.pop("DVC_STUDIO_TOKEN", None)
    return env


def sh(cwd: Path, *args: str, timeout: float = 300) -> str:
    """Run a command in ``cwd`` with :func:`offline_env`; fail the test with its output."""
    proc = subprocess.run(
        args, cwd=cwd, env=offline_env(cwd), capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, (
        f"`{' '.join(args)}` failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    )
    return proc.stdout


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out.get(key, {}), value) if isinstance(value, dict) else value
    return out


def fresh_clone(project_root: Path, dest: Path) -> Path:
    """The project's git-visible files (tracked and untracked, not ignored) in a new repository
    with one commit: what `git clone` of the working tree would give."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=project_root,
        capture_output=True,
        check=True,
    ).stdout.decode()
    dest.mkdir(parents=True)
    for rel in filter(None, listed.split("\0")):
        src = project_root / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    sh(dest, "git", "init", "--quiet", "--initial-branch", "main")
    for key, value in (("commit.gpgsign", "false"), ("tag.gpgsign", "false")):
        sh(dest, "git", "config", key, value)
    sh(dest, "git", "config", "user.name", "Test")
    sh(dest, "git", "config", "user.email", "test@example.org")
    sh(dest, "git", "add", "-A")
    sh(dest, "git", "commit", "--quiet", "-m", "Fresh clone")
    sh(dest, DVC, "config", "core.analytics", "false")
    return dest


def shrink_spike_params(project: Path) -> None:
    path = project / "conf" / "base" / "parameters_spike_inference.yml"
    params = yaml.safe_load(path.read_text())
    params["spike_inference"] = _merge(params["spike_inference"], TINY_SPIKE_PARAMS)
    path.write_text(yaml.safe_dump(params, sort_keys=False))


@pytest.fixture(scope="session")
def reproduced_clone(project_root: Path, tmp_path_factory: pytest.TempPathFactory):
    """A fresh clone after ``dvc repro evaluation_spike_inference`` (tiny parameters), the
    parameter change committed, with the seconds the reproduction took."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    clone = fresh_clone(project_root, tmp_path_factory.mktemp("fresh") / "project")
    shrink_spike_params(clone)
    sh(clone, "git", "commit", "--quiet", "-am", "Tiny spike-inference settings")
    start = time.perf_counter()
    log = sh(clone, DVC, "repro", "evaluation_spike_inference", timeout=600)
    seconds = time.perf_counter() - start
    return clone, seconds, log
