"""The project's parameters outside a Kedro run, merged exactly as ``kedro run --env ENV``.

Benchmarks and notebooks call :func:`project_parameters` instead of reading YAML files and
merging them by hand, so they see the same settings the pipelines do (``conf/base``, then the
keys ``conf/<env>`` changes, merged key by key as ``settings.CONFIG_LOADER_ARGS`` says).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.config import OmegaConfigLoader

from calcium_dynamics.settings import CONFIG_LOADER_ARGS

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def project_parameters(
    env: str | None = None, *, project_path: str | Path | None = None
) -> dict[str, Any]:
    """All parameters of ``conf/base`` overlaid with ``conf/<env>`` (``None``: base only).

    Args:
        env: a configuration environment under ``conf/`` (e.g. ``"paper"``).
        project_path: the project root (default: this checkout).

    Raises:
        FileNotFoundError: if ``conf/<env>`` does not exist (naming it).
    """
    conf = Path(project_path or PROJECT_ROOT) / "conf"
    if env is not None and not (conf / env).is_dir():
        raise FileNotFoundError(f"no configuration environment {conf / env}")
    args = {k: v for k, v in CONFIG_LOADER_ARGS.items() if k != "default_run_env"}
    loader = OmegaConfigLoader(
        conf_source=str(conf), env=env or "base", default_run_env=env or "base", **args
    )
    return dict(loader["parameters"])
