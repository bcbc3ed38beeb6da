"""Per-recording work on Ray: a lab's archive (hundreds of recordings) on an existing cluster.

With ``recordings.ray.enabled: true`` (a local Ray on this machine, ``num_cpus`` CPUs) or an
``address`` (``auto``, ``ray://HEAD:10001``: an existing cluster), the recordings pipeline
submits each recording's spike inference and latent-model fits as Ray tasks, all at once, and
collects their results as the outputs are written; otherwise the work runs here, one recording
at a time. Results do not depend on where a task runs (every random choice is seeded per
recording), so a Ray run writes the same outputs as a sequential one.

Every machine of the cluster needs this package installed (the same version) and the input
files at the same paths (a shared file system).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")


def ray_requested(settings: dict[str, Any] | None) -> bool:
    """Whether the parameters ask for Ray (``enabled`` or an ``address``)."""
    settings = settings or {}
    return bool(settings.get("enabled") or settings.get("address"))


def _start(settings: dict[str, Any]) -> None:
    import ray

    if ray.is_initialized():
        return
    if settings.get("address"):
        ray.init(address=settings["address"], log_to_driver=False)
    else:
        ray.init(
            num_cpus=settings.get("num_cpus"),
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )


def _call(fn: Callable[[], T]) -> T:
    return fn()


def _fetch(ref: Any) -> Any:
    import ray

    return ray.get(ref)


def submit(work: dict[str, Callable[[], T]], settings: dict[str, Any] | None) -> dict[str, Any]:
    """Start every callable of ``work`` as a Ray task when Ray is requested.

    Returns:
        The same keys with callables giving each result (``ray.get`` of its task); ``work``
        itself when Ray is not requested (each callable then runs when it is called).
    """
    if not ray_requested(settings) or not work:
        return work
    import ray

    _start(settings)
    cpus = float(settings.get("cpus_per_recording", 1))
    remote = ray.remote(num_cpus=cpus)(_call)
    refs = {key: remote.remote(fn) for key, fn in work.items()}
    logger.info("%d recording task(s) submitted to Ray (%g CPU each)", len(refs), cpus)
    return {key: partial(_fetch, ref) for key, ref in refs.items()}
