import numpy as np
import torch
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from calcium_dynamics.models.lfads import model_from_dict
from tests.kedro_project import copy_project

TINY = {
    "lorenz_simulation": {
        "n_conditions": 2,
        "n_trials_per_condition": 5,
        "n_neurons": 12,
        "n_bins": 24,
    },
    "calcium_lorenz_simulation": {"n_trials": 15, "n_bins": 20, "n_neurons": 6},
    "lfads": {"trainer": {"max_epochs": 1, "enable_progress_bar": False}},
}


def test_lfads_pipelines_run_end_to_end(project_root, tmp_path, monkeypatch):
    project = copy_project(project_root, tmp_path / "project")
    monkeypatch.chdir(project)
    bootstrap_project(project)
    for name in ("latent_dynamics", "evaluation"):
        with KedroSession.create(project_path=project, runtime_params=TINY) as session:
            session.run(pipeline_names=[name], tags=["lfads"])
    out = project / "data"
    rad = np.load(out / "07_model_output" / "lfads_radical_output.npz")
    assert rad["rates"].shape == (10, 24, 12) and np.isfinite(rad["rates"]).all()
    auto = np.load(out / "07_model_output" / "lfads_autolfads_output.npz")
    assert auto["rates"].shape == (10, 8, 12)
    saved = torch.load(out / "06_models" / "lfads_radical.pt", weights_only=True)
    model = model_from_dict(saved)
    events = np.load(out / "05_model_input" / "lorenz_events.npz")["events"]
    np.testing.assert_allclose(model.infer(events)["rates"], rad["rates"], rtol=1e-5, atol=1e-6)
    assert (out / "08_reporting" / "lfads_lorenz_latent_r2.csv").exists()
    assert (out / "08_reporting" / "lfads_lorenz_trajectories.png").exists()
    assert (out / "08_reporting" / "lfads_calcium_latent_metrics.json").exists()
