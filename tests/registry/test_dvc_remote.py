"""Sharing data through a DVC remote (here a local folder): push, wipe the cache and every
output, pull, and the files are back bit for bit — in the same workspace and in a teammate's
`git clone`. Nothing contacts an outside host (analytics off, no remote but the folder).
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
import yaml

from tests.registry.conftest import DVC, sh

pytestmark = pytest.mark.slow  # uses the reproduced fresh clone (about a minute to build)


def _outputs(project: Path) -> dict[str, str]:
    """SHA-256 of every file of every output recorded in ``dvc.lock``."""
    lock = yaml.safe_load((project / "dvc.lock").read_text())["stages"]
    digests = {}
    for stage in lock.values():
        for out in stage.get("outs") or []:
            path = project / out["path"]
            files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
            assert files, f"{out['path']} is missing"
            for f in files:
                digests[f.relative_to(project).as_posix()] = hashlib.sha256(
                    f.read_bytes()
                ).hexdigest()
    return digests


def test_push_wipe_pull_round_trip(reproduced_clone, tmp_path: Path) -> None:
    source, _, _ = reproduced_clone
    project = tmp_path / "project"
    shutil.copytree(source, project, symlinks=True)
    remote = tmp_path / "dvc-remote"
    sh(project, DVC, "config", "core.analytics", "false")
    sh(project, DVC, "remote", "add", "-d", "team", str(remote))
    assert sh(project, DVC, "remote", "list").split()[:2] == ["team", str(remote)]
    before = _outputs(project)
    assert any(p.startswith("data/06_models/") for p in before)
    assert any(p.startswith("data/08_reporting/training_logs/") for p in before)

    sh(project, DVC, "push", "--with-deps", "evaluation_spike_inference")
    assert any(remote.rglob("*")), "nothing reached the remote"
    shutil.rmtree(project / ".dvc" / "cache")
    for rel in before:
        (project / rel).unlink()
    sh(project, DVC, "pull", "--with-deps", "evaluation_spike_inference")
    assert _outputs(project) == before

    # A teammate: a `git clone` of the committed state, then `dvc pull` from the remote.
    sh(project, "git", "add", "dvc.lock", ".dvc/config")
    sh(project, "git", "commit", "--quiet", "-m", "Reproduced; team remote")
    teammate = tmp_path / "teammate"
    sh(tmp_path, "git", "clone", "--quiet", str(project), str(teammate))
    assert not (teammate / "data/06_models/ens2.pt").exists()
    sh(teammate, DVC, "pull", "--with-deps", "evaluation_spike_inference")
    assert _outputs(teammate) == before
