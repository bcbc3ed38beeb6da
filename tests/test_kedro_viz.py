"""Kedro-Viz end to end: build the static site and render it in headless Chromium.

The site must list the five pipelines and draw every one of their nodes; a screenshot is kept
in the test's temporary folder. Needs the ``chromium`` package (skipped, with the reason,
without it).
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from calcium_dynamics.pipeline_registry import PIPELINE_NAMES
from tests.kedro_project import copy_project

CHROMIUM = shutil.which("chromium")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--allow-file-access-from-files",  # the site reads its api/ JSON files next to it
    "--host-resolver-rules=MAP * ~NOTFOUND",  # no outside hosts (the page links web fonts)
    "--window-size=1600,1000",
    "--virtual-time-budget=15000",
)


def _offline_env(home: Path) -> dict[str, str]:
    """No telemetry, and every HTTP(S) request goes to a closed local port: the build's
    version check cannot reach outside hosts."""
    env = dict(os.environ)
    env.update(
        DO_NOT_TRACK="1",
        HTTP_PROXY="http://127.0.0.1:9",
        HTTPS_PROXY="http://127.0.0.1:9",
        http_proxy="http://127.0.0.1:9",
        https_proxy="http://127.0.0.1:9",
        NO_PROXY="",
        no_proxy="",
        OMP_NUM_THREADS="1",
        HOME=str(home),
    )
    return env


def _chromium(args: list[str], profile: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    profile.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_viz_site_renders_all_pipelines(project_root: Path, tmp_path: Path) -> None:
    project = copy_project(project_root, tmp_path / "project")
    env = _offline_env(tmp_path / "home")
    (tmp_path / "home").mkdir()
    kedro = str(Path(sys.executable).with_name("kedro"))
    build = subprocess.run(
        [kedro, "viz", "build"], cwd=project, capture_output=True, text=True, timeout=300, env=env
    )
    assert build.returncode == 0, build.stdout + build.stderr
    site = project / "build"
    index = site / "index.html"
    assert index.is_file(), f"no index.html in {site}"

    # What the site should show: each pipeline's task nodes, from the build's own API files.
    expected: dict[str, set[str]] = {}
    for name in PIPELINE_NAMES:
        api = json.loads((site / "api" / "pipelines" / name).read_text())
        assert api["selected_pipeline"] == name
        expected[name] = {n["name"] for n in api["nodes"] if n["type"] == "task"}
        assert expected[name], f"pipeline {name} has no nodes in the built site"

    url = index.as_uri()
    dom = _chromium(["--dump-dom", url], tmp_path / "profile-dom", env)
    assert dom.returncode == 0, dom.stderr[-2000:]
    page = dom.stdout
    menu = set(re.findall(r'class="menu-option__content" title="([^"]+)"', page))
    assert set(PIPELINE_NAMES) <= menu, f"pipeline menu lists {sorted(menu)}"
    drawn = {html.unescape(t) for t in re.findall(r"pipeline-node__text[^>]*>([^<]*)<", page)}
    for name, nodes in expected.items():
        missing = nodes - drawn
        assert not missing, f"pipeline {name}: nodes not drawn: {sorted(missing)}"

    shot = tmp_path / "kedro_viz.png"
    snap = _chromium([f"--screenshot={shot}", url], tmp_path / "profile-shot", env)
    assert snap.returncode == 0, snap.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000, "the screenshot is (nearly) blank"
