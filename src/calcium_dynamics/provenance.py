"""Where a result came from: the command, the code's commit, the date, the machine.

Every results file and trained model records :func:`run_record`, so each number can be traced
to the committed command that wrote it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path


def git_commit(cwd: str | Path = ".") -> str | None:
    """The checked-out commit of the repository at ``cwd`` (None outside a git checkout)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip() or None


def git_dirty(cwd: str | Path = ".") -> bool | None:
    """Whether tracked files differ from the commit (None outside a git checkout)."""
    try:
        out = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return bool(out.stdout.strip())


def command_line(script: str | Path | None = None, argv: list[str] | None = None) -> str:
    """The command as a user would type it: ``python SCRIPT ARGS`` (relative script path)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if script is None:
        script = sys.argv[0]
    script = Path(script)
    with contextlib.suppress(ValueError):
        script = script.resolve().relative_to(Path.cwd())
    return shlex.join(["python", script.as_posix(), *args])


def processor() -> dict:
    """The CPU's model name and its bfloat16 instruction sets (speed ratios can change between
    CPU generations; bfloat16 settings only pay where these exist). Read from
    ``/proc/cpuinfo`` on Linux, ``platform.processor()`` elsewhere."""
    name, flags = platform.processor() or None, set()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and name in (None, "", platform.machine()):
                name = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
                break
    bf16 = sorted(f for f in flags if f in ("avx512_bf16", "amx_bf16"))
    return {"model": name, "bfloat16_instructions": bf16}


def run_record(
    command: str,
    *,
    seeds: list[int] | int | None = None,
    threads: int | None = None,
    cwd: str | Path = ".",
) -> dict:
    """Provenance of one run: command, commit (and whether the tree was dirty), date, machine."""
    if isinstance(seeds, int):
        seeds = [seeds]
    return {
        "command": command,
        "git_commit": git_commit(cwd),
        "git_dirty": git_dirty(cwd),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "seeds": seeds,
        "threads": threads,
        "machine": {
            "cores": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "processor": processor(),
        },
    }
