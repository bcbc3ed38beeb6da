"""Project hooks: each run's id for its run manifests, and failed runs marked as failed."""

from __future__ import annotations

import logging
import os

from kedro.framework.hooks import hook_impl

from calcium_dynamics.io.run_manifest import RUN_ID_ENV, now

logger = logging.getLogger(__name__)

MANIFESTS = ("recording_run",)  # run manifests a failed run marks as failed


class RunManifestHooks:
    """Sets the run id (the Kedro session id) for the run's processes (a ParallelRunner's
    workers inherit it), so a manifest written by this run is told from one left by an
    interrupted run; marks this run's manifests ``failed`` when a node raises."""

    @hook_impl
    def before_pipeline_run(self, run_params, pipeline, catalog) -> None:
        os.environ[RUN_ID_ENV] = str(run_params.get("session_id") or run_params.get("run_id"))

    @hook_impl
    def after_pipeline_run(self, run_params, run_result, pipeline, catalog) -> None:
        os.environ.pop(RUN_ID_ENV, None)

    @hook_impl
    def on_pipeline_error(self, error, run_params, pipeline, catalog) -> None:
        run_id = os.environ.pop(RUN_ID_ENV, None)
        for name in MANIFESTS:
            if name not in pipeline.all_outputs():
                continue
            try:
                manifest = catalog.load(name)
            except Exception:
                continue
            if manifest.get("run_id") == run_id and manifest.get("status") == "running":
                manifest.update(status="failed", finished=now(), error=str(error)[:2000])
                catalog.save(name, manifest)
                logger.error("run marked failed in %s: %s", name, error)
