"""The production ENS² model from the registry, used by spike inference in a fresh clone.

The model `dvc repro` trained is registered (its `dvc.lock` entry), promoted to production, and
the catalog entry ``ens2_registered_model`` feeds it to the inference node: the rates equal those
the stage computed with the freshly trained file.
"""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
import yaml

from calcium_dynamics import registry
from tests.registry.conftest import sh

pytestmark = pytest.mark.slow  # uses the reproduced fresh clone (about a minute to build)


def test_production_model_feeds_spike_inference(reproduced_clone, tmp_path, monkeypatch) -> None:
    from kedro.framework.project import pipelines
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project
    from kedro.runner import SequentialRunner

    from calcium_dynamics.pipelines.spike_inference import create_registered_inference_pipeline

    source, _, _ = reproduced_clone
    project = tmp_path / "project"
    shutil.copytree(source, project, symlinks=True)
    params = yaml.safe_load((project / "conf/base/parameters_spike_inference.yml").read_text())
    summary = pd.read_csv(project / "data/08_reporting/spike_metrics_summary.csv")
    registered = registry.register(
        "ens2",
        "data/06_models/ens2.pt",
        description="ENS2 U-Net trained by dvc repro",
        labels=["spike-inference", "ens2", "60hz"],
        params=params["spike_inference"]["ens2"],
        metrics={"n_rows": len(summary)},
        training_data="data/05_model_input/ens2_train_recordings.parquet",
        version="v1.0.0",
        project_path=project,
    )
    assert registered.meta["training_data"][0]["source"] == "dvc"  # the hash dvc.lock recorded
    registry.promote("ens2", "v1.0.0", "production", project_path=project)
    # the registry commits the files it changes (dvc.yaml, dvc.lock) itself
    assert sh(project, "git", "status", "--porcelain", "--untracked-files=no") == ""

    monkeypatch.chdir(project)
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    bootstrap_project(project)
    with KedroSession.create(
        project_path=project, runtime_params={"registered_model": "ens2"}
    ) as session:
        if "spike_inference_registered" in pipelines:
            session.run(pipeline_names=["spike_inference_registered"])
        else:
            catalog = session.load_context().catalog
            SequentialRunner().run(create_registered_inference_pipeline(), catalog)
    got = pd.read_parquet(project / "data/07_model_output/ens2_registered_spikes.parquet")
    fresh = pd.read_parquet(project / "data/07_model_output/ens2_spikes.parquet")
    assert list(got["trace_id"]) == list(fresh["trace_id"]) and len(got) > 0
    for a, b in zip(got["rate_hz"], fresh["rate_hz"]):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)
    for a, b in zip(got["spike_times_s"], fresh["spike_times_s"]):
        np.testing.assert_allclose(a, b)

    # A model file altered in the cache is refused with the registry's message.
    md5 = registered.meta["md5"]
    cached = project / ".dvc/cache/files/md5" / md5[:2] / md5[2:]
    cached.chmod(0o644)
    cached.write_bytes(cached.read_bytes()[:-8] + b"tampered")
    (project / "data/06_models/ens2.pt").unlink()
    with pytest.raises(registry.ChecksumError, match="refusing to load"):
        registry.load("ens2", stage="production", project_path=project)
