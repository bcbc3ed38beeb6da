"""The model registry's whole life cycle in a throw-away git + DVC repository.

Register v1, promote it to production, register v2 with other weights, resolve and load each by
stage and by version; a tampered file is refused; a clone of the repository with a local-folder
DVC remote gets the production model.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import yaml

from calcium_dynamics import registry
from calcium_dynamics.models.ens2 import UNet1d
from calcium_dynamics.models.spike_models import SpikeModel

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

DVC = str(Path(sys.executable).with_name("dvc"))
MODEL = "data/06_models/ens2.pt"
CONFIG = {"frame_rate_hz": 60, "sigma_s": 0.025, "window": 96, "base_channels": 2}


def _sh(cwd: Path, *args: str) -> str:
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"{' '.join(args)}: {proc.stderr}{proc.stdout}"
    return proc.stdout


def _tiny_model(seed: int) -> SpikeModel:
    torch.manual_seed(seed)
    net = UNet1d(2)
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0.0, 0.1)
    return SpikeModel("ens2", dict(CONFIG), {float("nan"): [net.eval()]}, {"seed": seed})


def _weights(model: SpikeModel) -> torch.Tensor:
    (members,) = model.ensembles.values()
    return torch.cat([p.detach().flatten() for p in members[0].parameters()])


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A committed git + DVC project with tracked training data and a local-folder remote."""
    base = tmp_path_factory.mktemp("registry")
    root = base / "project"
    root.mkdir()
    _sh(root, "git", "init", "--quiet", "--initial-branch", "main")
    _sh(root, "git", "config", "user.name", "Registry Test")
    _sh(root, "git", "config", "user.email", "registry@example.org")
    _sh(root, "git", "config", "commit.gpgsign", "false")
    _sh(root, "git", "config", "tag.gpgsign", "false")
    _sh(root, DVC, "init", "--quiet")
    _sh(root, DVC, "config", "core.autostage", "false")
    _sh(root, DVC, "remote", "add", "-d", "local", str(base / "dvc-remote"))
    (root / "data" / "05_model_input").mkdir(parents=True)
    (root / "data" / "05_model_input" / "train.csv").write_text("neuron,rate\n0,1.5\n1,2.0\n")
    _sh(root, DVC, "add", "--quiet", "data/05_model_input/train.csv")
    (root / "dvc.yaml").write_text("# stages and registered models\nstages: {}\n")
    _sh(root, "git", "add", "-A")
    _sh(root, "git", "commit", "--quiet", "-m", "Initial project")
    return root


@pytest.fixture
def repo(template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the template project for one test."""
    root = tmp_path / "project"
    shutil.copytree(template, root, symlinks=True)
    return root


def test_register_promote_resolve_load(repo: Path, tmp_path: Path) -> None:
    v1_model, v2_model = _tiny_model(1), _tiny_model(2)
    v1_model.save(repo / MODEL)
    train_md5 = hashlib.md5((repo / "data/05_model_input/train.csv").read_bytes()).hexdigest()
    r1 = registry.register(
        "ens2-60hz",
        MODEL,
        description="ENS2 U-Net, 60 Hz",
        labels=["spike-inference", "ens2", "60hz"],
        params={"epochs": 1, "lr": 1e-3},
        metrics={"pearson_r": 0.5},
        training_data="data/05_model_input/train.csv",
        version="v1.0.0",
        project_path=repo,
    )
    assert r1.version == "v1.0.0" and r1.path == MODEL
    assert r1.meta["sha256"] == hashlib.sha256((repo / MODEL).read_bytes()).hexdigest()
    assert r1.meta["training_data"] == [
        {"path": "data/05_model_input/train.csv", "md5": train_md5, "source": "dvc"}
    ]
    entry = yaml.safe_load((repo / "dvc.yaml").read_text())["artifacts"]["ens2-60hz"]
    assert entry["type"] == "model" and entry["labels"] == ["spike-inference", "ens2", "60hz"]
    assert entry["meta"]["params"] == {"epochs": 1, "lr": 1e-3}
    assert (repo / f"{MODEL}.dvc").is_file()
    assert MODEL not in _sh(repo, "git", "ls-files").splitlines()  # DVC holds the weights

    promoted = registry.promote("ens2-60hz", "v1.0.0", "production", project_path=repo)
    assert promoted.rev == r1.rev and promoted.stage == "production"
    with pytest.raises(registry.RegistryError, match="unknown stage 'prod'"):
        registry.promote("ens2-60hz", "v1.0.0", "prod", project_path=repo)

    v2_model.save(repo / MODEL)
    r2 = registry.register(
        "ens2-60hz", MODEL, labels=["ens2"], metrics={"pearson_r": 0.6}, project_path=repo
    )
    assert r2.version == "v1.1.0" and r2.rev != r1.rev
    assert "ens2-60hz@v1.1.0" in _sh(repo, "git", "tag", "--list")

    by_stage = registry.resolve("ens2-60hz", stage="production", project_path=repo)
    assert (by_stage.version, by_stage.rev) == ("v1.0.0", r1.rev)
    assert registry.resolve("ens2-60hz", version="v1.1.0", project_path=repo).rev == r2.rev
    assert registry.resolve("ens2-60hz", project_path=repo).version == "v1.1.0"
    assert registry.resolve("ens2-60hz", version="v1.0.0", project_path=repo).meta["metrics"] == {
        "pearson_r": 0.5
    }
    with pytest.raises(registry.RegistryError, match=r"no version 'v9\.0\.0'"):
        registry.resolve("ens2-60hz", version="v9.0.0", project_path=repo)
    with pytest.raises(registry.RegistryError, match="in stage 'staging'"):
        registry.resolve("ens2-60hz", stage="staging", project_path=repo)

    prod = registry.load("ens2-60hz", stage="production", project_path=repo)
    new = registry.load("ens2-60hz", version="v1.1.0", project_path=repo)
    assert isinstance(prod, SpikeModel) and prod.config == CONFIG
    assert torch.equal(_weights(prod), _weights(v1_model))
    assert torch.equal(_weights(new), _weights(v2_model))
    assert not torch.equal(_weights(prod), _weights(new))

    listed = {row["name"]: row for row in registry.list_models(project_path=repo)}
    assert listed["ens2-60hz"]["latest"] == "v1.1.0"
    assert listed["ens2-60hz"]["stages"] == {"production": "v1.0.0"}

    # A teammate clones the repository and gets the production model from the DVC remote.
    _sh(repo, DVC, "push", "--quiet", "--all-tags")
    clone = tmp_path / "clone"
    _sh(tmp_path, "git", "clone", "--quiet", str(repo), str(clone))
    assert not (clone / MODEL).exists()
    theirs = registry.load("ens2-60hz", stage="production", project_path=clone)
    assert torch.equal(_weights(theirs), _weights(v1_model))
    _sh(clone, DVC, "pull", "--quiet")  # the checked-out (latest) version into the workspace
    assert torch.equal(_weights(SpikeModel.load(clone / MODEL)), _weights(v2_model))
    _sh(
        tmp_path,
        DVC,
        "artifacts",
        "get",
        str(repo),
        "ens2-60hz",
        "--stage",
        "production",
        "-o",
        str(tmp_path / "fetched.pt"),
    )
    assert (tmp_path / "fetched.pt").read_bytes() == (
        registry.read_bytes(by_stage, project_path=repo)
    )

    # A model file altered after registration is refused.
    cached = repo / ".dvc" / "cache" / "files" / "md5" / r1.meta["md5"][:2] / r1.meta["md5"][2:]
    assert cached.is_file()
    cached.chmod(0o644)
    tampered = bytearray(cached.read_bytes())
    tampered[-10] ^= 0xFF
    cached.write_bytes(bytes(tampered))
    with pytest.raises(registry.ChecksumError, match=r"sha256 .* refusing to load"):
        registry.load("ens2-60hz", stage="production", project_path=repo)


def test_register_rejects_bad_input(repo: Path) -> None:
    with pytest.raises(registry.RegistryError, match="does not exist"):
        registry.register("ens2-60hz", MODEL, project_path=repo)
    (repo / "elsewhere.pt").write_bytes(b"x")
    with pytest.raises(registry.RegistryError, match="must lie under data/06_models"):
        registry.register("ens2-60hz", "elsewhere.pt", project_path=repo)
    with pytest.raises(registry.RegistryError, match="not valid"):
        registry.register("ENS2 model", MODEL, project_path=repo)
    with pytest.raises(registry.RegistryError, match="not registered"):
        registry.resolve("missing", project_path=repo)


def test_cli_and_catalog_dataset(repo: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner
    from kedro.io import DataCatalog, DatasetError

    from calcium_dynamics.io.registered_model import RegisteredModelDataset
    from calcium_dynamics.registry.cli import commands
    from calcium_dynamics.registry.cli import registry as cli

    model = _tiny_model(3)
    model.save(repo / MODEL)
    runner = CliRunner()
    where = ["--project-path", str(repo)]
    result = runner.invoke(
        cli,
        ["register", "ens2-60hz", MODEL, "--version", "v0.1.0", "-l", "ens2", "--param",
         "epochs=2", "--metric", "pearson_r=0.7", *where],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "registered ens2-60hz v0.1.0" in result.output
    result = runner.invoke(cli, ["promote", "ens2-60hz", "v0.1.0", "staging", *where])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["list", *where])
    assert "ens2-60hz" in result.output and "staging=v0.1.0" in result.output
    # As a Kedro plugin the group sits under `commands`; Kedro hands over its project metadata.
    result = runner.invoke(commands, ["models", "list"], obj=SimpleNamespace(project_path=repo))
    assert result.exit_code == 0 and "staging=v0.1.0" in result.output, result.output
    result = runner.invoke(cli, ["show", "ens2-60hz", "--stage", "staging", *where])
    shown = yaml.safe_load(result.output)
    assert shown["meta"]["params"] == {"epochs": 2} and shown["meta"]["metrics"]["pearson_r"] == 0.7
    result = runner.invoke(cli, ["promote", "ens2-60hz", "v7.0.0", "production", *where])
    assert result.exit_code != 0 and "no version 'v7.0.0'" in result.output

    catalog = DataCatalog(
        {
            "model": RegisteredModelDataset(
                name="ens2-60hz", stage="staging", project_path=str(repo)
            ),
            "missing": RegisteredModelDataset(
                name="ens2-60hz", stage="production", project_path=str(repo)
            ),
        }
    )
    loaded = catalog.load("model")
    assert torch.equal(_weights(loaded), _weights(model))
    assert catalog.exists("model") and not catalog.exists("missing")
    with pytest.raises(DatasetError, match="read-only"):
        catalog.save("model", model)
    with pytest.raises(DatasetError, match="unknown stage 'prod'"):
        RegisteredModelDataset(name="ens2-60hz", stage="prod")


def test_register_stage_output(repo: Path) -> None:
    """A model a DVC stage writes is registered from its ``dvc.lock`` entry, once reproduced."""
    _tiny_model(4).save(repo / "trained.pt")
    (repo / "dvc.yaml").write_text(
        "stages:\n  train:\n    cmd: cp trained.pt data/06_models/staged.pt\n"
        "    deps:\n      - trained.pt\n    outs:\n      - data/06_models/staged.pt\n"
    )
    (repo / "data" / "06_models").mkdir(parents=True)
    _sh(repo, DVC, "repro", "--quiet")
    resolved = registry.register(
        "ens2-staged", "data/06_models/staged.pt", version="v1.0.0", project_path=repo
    )
    assert not (repo / "data/06_models/staged.pt.dvc").exists()  # the stage tracks it
    assert "dvc.lock" in _sh(repo, "git", "show", "--name-only", "--format=", resolved.rev)
    loaded = registry.load("ens2-staged", version="v1.0.0", project_path=repo)
    assert torch.equal(_weights(loaded), _weights(_tiny_model(4)))

    _tiny_model(5).save(repo / "data/06_models/staged.pt")  # not reproduced: lock is stale
    with pytest.raises(registry.RegistryError, match=r"differs from dvc\.lock"):
        registry.register("ens2-staged", "data/06_models/staged.pt", project_path=repo)


def test_registered_inference_pipeline(repo: Path) -> None:
    """The spike-inference pipeline infers traces with the production model from the registry."""
    import numpy as np
    import pandas as pd
    from kedro.io import DataCatalog, MemoryDataset
    from kedro.runner import SequentialRunner

    from calcium_dynamics.io.registered_model import RegisteredModelDataset
    from calcium_dynamics.pipelines.spike_inference import create_registered_inference_pipeline
    from calcium_dynamics.pipelines.spike_inference.nodes import infer_spikes

    production, newer = _tiny_model(6), _tiny_model(7)
    production.save(repo / MODEL)
    registry.register("ens2", MODEL, version="v1.0.0", project_path=repo)
    registry.promote("ens2", "v1.0.0", "production", project_path=repo)
    newer.save(repo / MODEL)
    registry.register("ens2", MODEL, version="v1.1.0", project_path=repo)  # not promoted

    rng = np.random.default_rng(0)
    traces = pd.DataFrame(
        {
            "trace_id": ["a", "b"],
            "frame_rate_hz": [60.0, 30.0],
            "dff": [rng.normal(0, 0.1, 600).astype(np.float32) for _ in range(2)],
        }
    )
    params = {"stride": 8, "events": True, "seed": 0}
    catalog = DataCatalog(
        {
            "ens2_registered_model": RegisteredModelDataset(
                name="ens2", stage="production", project_path=str(repo)
            ),
            "traces_to_infer": MemoryDataset(traces),
            "params:spike_inference.inference": MemoryDataset(params),
            "ens2_registered_spikes": MemoryDataset(),
        }
    )
    SequentialRunner().run(create_registered_inference_pipeline(), catalog)
    spikes = catalog.load("ens2_registered_spikes")
    assert list(spikes["trace_id"]) == ["a", "b"]
    expected = infer_spikes(production, traces, params)  # the production weights, directly
    other = infer_spikes(newer, traces, params)
    for got, want, not_want in zip(spikes["rate_hz"], expected["rate_hz"], other["rate_hz"]):
        assert len(got) == 600 and np.allclose(got, want)
        assert not np.allclose(got, not_want)


def test_an_lfads_model_from_the_search_registers_and_loads_by_name(repo: Path) -> None:
    """The search's best model file (state dict + config) is registered and loaded like any."""
    from calcium_dynamics.models.lfads import model_from_dict
    from calcium_dynamics.models.lfads.model import LFADS
    from calcium_dynamics.models.lfads.training import model_to_dict

    torch.manual_seed(0)
    model = LFADS(
        n_neurons=5,
        n_steps=12,
        observation="zig",
        sbtt=True,
        ic_enc_dim=4,
        ci_enc_dim=4,
        con_dim=4,
        co_dim=1,
        ic_dim=4,
        gen_dim=8,
        fac_dim=3,
        lr=2.5e-3,
        observation_kwargs={"sig_prior": 3.0},
    )
    path = "data/06_models/lfads_search_best.pt"
    (repo / path).parent.mkdir(parents=True, exist_ok=True)
    torch.save(model_to_dict(model), repo / path)
    entry = registry.register(
        "lfads-radical-pbt", path, labels=["lfads", "radical"], project_path=repo
    )
    assert entry.version == "v0.1.0"
    registry.promote("lfads-radical-pbt", entry.version, "staging", project_path=repo)
    loaded = model_from_dict(registry.load("lfads-radical-pbt", stage="staging", project_path=repo))
    assert loaded.hparams["lr"] == 2.5e-3
    assert loaded.hparams["observation_kwargs"] == {"sig_prior": 3.0}
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name


def test_on_demand_zoo_is_trained_registered_and_used(repo: Path, project_root: Path) -> None:
    """One command trains a zoo at a rate no shipped zoo has, registers and promotes it; the
    API uses it by name at once."""
    import numpy as np

    from calcium_dynamics import infer_spikes
    from calcium_dynamics.models.spikes.zoo_training import main as train_main

    code = train_main(
        [
            "--ground-truth",
            str(project_root / "data/01_raw/ground_truth"),
            "--name",
            "cascade-9p8hz-excitatory",
            "--frame-rate",
            "9.8",
            "--sigma-ms",
            "155",
            "--noise-levels",
            "2",
            "4",
            "--members",
            "1",
            "--steps",
            "3",
            "--batch-size",
            "32",
            "--out",
            str(repo / "data/06_models/zoo"),
            "--register",
            "--stage",
            "production",
            "--project-path",
            str(repo),
        ]
    )
    assert code == 0
    found = registry.resolve("cascade-9p8hz-excitatory", stage="production", project_path=repo)
    assert found.version == "v0.1.0" and not found.shipped
    assert found.meta["params"]["frame_rate_hz"] == 9.8
    assert (repo / "data/06_models/zoo/cascade-9p8hz-excitatory.training.json").is_file()
    x = np.random.default_rng(0).normal(0, 0.02, (2, 500))
    out = infer_spikes(x, 9.8, model="cascade-9p8hz-excitatory", project_path=repo, events=False)
    assert out.routing["model"].eq("cascade-9p8hz-excitatory").all()
    assert out.routing["model_version"].eq("v0.1.0").all() and out.routing["warnings"].eq("").all()
