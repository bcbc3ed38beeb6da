"""Headless Chromium for tests: screenshots and rendered DOMs of local HTML files, offline.

Every run is cut off from the network: host names resolve to nothing
(``--host-resolver-rules``), HTTP(S) proxies point at a closed local port, ``HOME`` is a
throw-away folder and the profile lives in the caller's ``profile_dir``. ``CHROMIUM`` is
``None`` where the browser is not installed; tests using these helpers skip on it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

CHROMIUM: str | None = shutil.which("chromium") or (
    "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None
)

OFFLINE_FLAGS: tuple[str, ...] = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
    "--host-resolver-rules=MAP * ~NOTFOUND",
)
_CLOSED_PROXY = "http://127.0.0.1:9"


def _offline_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DO_NOT_TRACK="1",
        HTTP_PROXY=_CLOSED_PROXY,
        HTTPS_PROXY=_CLOSED_PROXY,
        http_proxy=_CLOSED_PROXY,
        https_proxy=_CLOSED_PROXY,
        NO_PROXY="",
        no_proxy="",
        HOME=str(home),
    )
    return env


def run_chromium(
    args: list[str],
    profile_dir: Path,
    timeout: float = 60,
    virtual_time_ms: int = 3000,
) -> subprocess.CompletedProcess:
    """Run headless Chromium offline with ``args`` (URL last) and the profile ``profile_dir``."""
    if CHROMIUM is None:
        raise RuntimeError("chromium is not installed")
    profile = Path(profile_dir)
    profile.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="chromium-home-") as home:
        return subprocess.run(
            [
                CHROMIUM,
                *OFFLINE_FLAGS,
                f"--virtual-time-budget={virtual_time_ms}",
                f"--user-data-dir={profile}",
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=_offline_env(Path(home)),
            check=False,
        )


def screenshot(
    html_path: Path,
    png_path: Path,
    profile_dir: Path,
    window: tuple[int, int] = (1400, 2400),
    timeout: float = 60,
) -> subprocess.CompletedProcess:
    """Screenshot of the local page ``html_path`` into ``png_path``; ``window``: (width, height)."""
    width, height = window
    return run_chromium(
        [
            f"--window-size={width},{height}",
            f"--screenshot={Path(png_path).resolve()}",
            Path(html_path).resolve().as_uri(),
        ],
        profile_dir,
        timeout=timeout,
    )


def dump_dom(html_path: Path, profile_dir: Path, timeout: float = 60) -> str:
    """The DOM of the local page ``html_path`` after Chromium rendered it, serialised as HTML."""
    result = run_chromium(
        ["--dump-dom", Path(html_path).resolve().as_uri()], profile_dir, timeout=timeout
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"chromium --dump-dom failed ({result.returncode}): {result.stderr[-2000:]}"
        )
    return result.stdout
