"""Run the Kedro project in a throw-away copy, so tests never write into the working tree."""

from __future__ import annotations

import shutil
from pathlib import Path

from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

COPIED = ("pyproject.toml", "conf", "src", ".telemetry")


def copy_project(root: Path, dest: Path) -> Path:
    """A copy of the project with its configuration and the embedded raw data, no outputs."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        src = root / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.exists():
            shutil.copy2(src, dest / name)
    (dest / "conf" / "local").mkdir(exist_ok=True)
    shutil.copytree(root / "data" / "01_raw", dest / "data" / "01_raw")
    shipped = root / "data" / "06_models" / "shipped"  # the pretrained models a clone has
    if shipped.is_dir():
        shutil.copytree(shipped, dest / "data" / "06_models" / "shipped")
    for layer in (
        "02_intermediate",
        "03_primary",
        "04_feature",
        "05_model_input",
        "06_models",
        "07_model_output",
        "08_reporting",
    ):
        (dest / "data" / layer).mkdir(parents=True, exist_ok=True)
    return dest


def run_pipeline(
    project: Path,
    pipeline: str,
    env: str | None = None,
    params: dict | None = None,
    monkeypatch=None,
    tags: list[str] | None = None,
) -> None:
    """``kedro run --pipeline PIPELINE [--env ENV] [--params ...] [--tags ...]`` in ``project``."""
    if monkeypatch is not None:
        monkeypatch.chdir(project)
    bootstrap_project(project)
    with KedroSession.create(project_path=project, env=env, runtime_params=params or {}) as s:
        s.run(pipeline_names=[pipeline], tags=tags)
