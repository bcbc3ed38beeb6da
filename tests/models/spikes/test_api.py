"""The one-call API and the shipped-model index of the registry."""

import shutil

import numpy as np
import pandas as pd
import pytest

import calcium_dynamics
from calcium_dynamics import registry
from calcium_dynamics.models.spike_inference import infer_rates
from calcium_dynamics.models.spike_models import SpikeModel
from calcium_dynamics.models.spikes.api import ROUTING_COLUMNS, infer_spikes, model_set
from calcium_dynamics.registry import shipped


def test_import_stays_light():
    """``import calcium_dynamics`` loads no Kedro, DVC, Ray or torch (checked in a fresh
    interpreter); ``infer_spikes`` is imported on first use."""
    import subprocess
    import sys

    code = (
        "import sys, calcium_dynamics; "
        "print(sorted(m for m in ('kedro','dvc','ray','torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert calcium_dynamics.infer_spikes is infer_spikes


def test_rates_events_and_routing_shapes(zoo_project):
    rng = np.random.default_rng(0)
    dff = rng.normal(0, 0.05, (3, 900))
    dff[1, 10:20] = np.nan
    result = infer_spikes(dff, 30.0, project_path=zoo_project, seed=1)
    assert result.rates_hz.shape == (3, 900) and result.rates_hz.dtype == np.float32
    assert np.isnan(result.rates_hz[1, 10:20]).all() and np.isfinite(result.rates_hz[0]).all()
    assert len(result.events_s) == 3 and all(e.ndim == 1 for e in result.events_s)
    assert list(result.routing.columns) == ["neuron", *ROUTING_COLUMNS[1:]]
    assert list(result.routing["neuron"]) == [0, 1, 2]
    assert result.routing["sigma_s"].eq(0.05).all()
    # the same numbers as the model applied directly, trace by trace
    zoo = SpikeModel.load(zoo_project / shipped.SHIPPED_DIR / "cascade-30hz-excitatory.pt")
    for i in range(3):
        direct = infer_rates(zoo, dff[i], 30.0)
        np.testing.assert_array_equal(result.rates_hz[i], direct.rate_hz)
    # one 1-D trace is one neuron; events=False gives empty event arrays
    one = infer_spikes(dff[0], 30.0, project_path=zoo_project, events=False)
    assert one.rates_hz.shape == (1, 900) and one.events_s[0].size == 0
    np.testing.assert_array_equal(one.rates_hz[0], result.rates_hz[0])


def test_model_choices(zoo_project):
    x = np.random.default_rng(1).normal(0, 0.02, 1200)
    ens2 = infer_spikes(x, 30.0, model="ens2", project_path=zoo_project, events=False)
    assert ens2.routing.loc[0, "model"] == "ens2-60hz-excitatory"
    assert ens2.routing.loc[0, "model_frame_rate_hz"] == 60.0
    assert np.isnan(ens2.routing.loc[0, "model_noise_level"])
    inh = infer_spikes(x, 30.0, cell_class="inhibitory", project_path=zoo_project, events=False)
    assert inh.routing.loc[0, "model"] == "cascade-30hz-inhibitory"
    by_name = infer_spikes(
        x, 30.0, model="cascade-15hz-excitatory", project_path=zoo_project, events=False
    )
    assert by_name.routing.loc[0, "model"] == "cascade-15hz-excitatory"
    pinned = infer_spikes(
        x,
        30.0,
        model="registry:cascade-15hz-excitatory@v1.0.0",
        project_path=zoo_project,
        events=False,
    )
    np.testing.assert_array_equal(pinned.rates_hz, by_name.rates_hz)
    path = zoo_project / shipped.SHIPPED_DIR / "cascade-30hz-excitatory.pt"
    by_path = infer_spikes(x, 30.0, model=str(path), project_path=zoo_project, events=False)
    auto = infer_spikes(x, 30.0, project_path=zoo_project, events=False)
    np.testing.assert_array_equal(by_path.rates_hz, auto.rates_hz)


def test_bad_input_is_named(zoo_project):
    with pytest.raises(
        ValueError,
        match=r"unknown spike model 'cascade-99hz'.*Available: "
        r"cascade-15hz-excitatory, .*ens2-60hz-excitatory",
    ):
        infer_spikes(np.zeros(100), 30.0, model="cascade-99hz", project_path=zoo_project)
    with pytest.raises(ValueError, match=r"at least 2 frames"):
        infer_spikes(np.zeros(1), 30.0, project_path=zoo_project)
    with pytest.raises(ValueError, match=r"\(n_neurons, n_frames\) or \(n_frames,\)"):
        infer_spikes(np.zeros((2, 2, 2)), 30.0, project_path=zoo_project)
    with pytest.raises(ValueError, match=r"cell_class must be one of"):
        infer_spikes(np.zeros(100), 30.0, cell_class="glia", project_path=zoo_project)
    with pytest.raises(FileNotFoundError, match=r"nothing\.pt not found"):
        model_set("/no/such/nothing.pt", project_path=zoo_project)


def test_shipped_index_resolves_without_tags(zoo_project):
    found = registry.resolve(
        "cascade-30hz-excitatory", stage="production", project_path=zoo_project
    )
    assert found.shipped and found.version == "v1.0.0" and found.rev == shipped.SHIPPED_REV
    assert found.sha256 == shipped.sha256_of(zoo_project / found.path)
    assert (
        registry.resolve("cascade-30hz-excitatory", version="v1.0.0", project_path=zoo_project).path
        == found.path
    )
    model = registry.load("cascade-30hz-excitatory", stage="production", project_path=zoo_project)
    assert isinstance(model, SpikeModel) and model.frame_rate_hz == 30.0
    with pytest.raises(registry.RegistryError, match=r"v1\.0\.0, not 'v2\.0\.0'"):
        registry.resolve("cascade-30hz-excitatory", version="v2.0.0", project_path=zoo_project)
    with pytest.raises(registry.RegistryError, match=r"not 'staging'"):
        registry.resolve("cascade-30hz-excitatory", stage="staging", project_path=zoo_project)
    card = (zoo_project / shipped.SHIPPED_DIR / "cascade-30hz-excitatory.md").read_text()
    assert "# cascade-30hz-excitatory v1.0.0" in card and "Not measured" in card
    assert "Rupprecht" in card and "levels ν 0.5, 1, 2, 4" in card


def test_tampered_and_unpromoted_models_are_refused(zoo_project, tmp_path):
    proj = tmp_path / "p"
    shutil.copytree(zoo_project, proj)
    path = proj / shipped.SHIPPED_DIR / "cascade-15hz-excitatory.pt"
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(
        registry.ChecksumError,
        match=r"cascade-15hz-excitatory\.pt of model "
        r"cascade-15hz-excitatory v1\.0\.0: sha256 is .* refusing to load",
    ):
        registry.load("cascade-15hz-excitatory", stage="production", project_path=proj)
    with pytest.raises(registry.ChecksumError, match=r"sha256 is"):
        infer_spikes(np.zeros(300), 15.0, project_path=proj)
    index = shipped.read_index(proj)
    index["cascade-7p5hz-excitatory"]["stages"] = ["dev"]
    shipped.write_index(proj, index)
    with pytest.raises(registry.RegistryError, match=r"stage\(s\) dev, not 'production'"):
        registry.resolve("cascade-7p5hz-excitatory", stage="production", project_path=proj)
    # auto skips a zoo without a production version: 7.5 Hz traces go to the 15 Hz zoo
    routed = model_set("auto", project_path=proj).choose(7.5)
    assert routed.name == "cascade-15hz-excitatory"


def test_list_shows_shipped_models(zoo_project):
    pytest.importorskip("gto")
    import subprocess

    subprocess.run(["git", "init", "-q"], cwd=zoo_project, check=True)
    rows = {r["name"]: r for r in registry.list_models(zoo_project)}
    assert set(rows) == {
        "cascade-7p5hz-excitatory",
        "cascade-15hz-excitatory",
        "cascade-30hz-excitatory",
        "cascade-30hz-inhibitory",
        "ens2-60hz-excitatory",
    }
    assert rows["ens2-60hz-excitatory"]["stages"] == {"production": "v1.0.0"}
    assert isinstance(pd.DataFrame(list(rows.values())), pd.DataFrame)


def test_register_refuses_a_file_that_load_would_refuse(tmp_path):
    """A pickle with code in it, or a spike model whose config does not fit its weights, is
    refused at registration (before any git or DVC step)."""
    import os
    import pickle

    import torch

    from tests.models.spikes.conftest import tiny_zoo

    root = tmp_path
    (root / ".dvc").mkdir()
    folder = root / "data/06_models"
    folder.mkdir(parents=True)

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    (folder / "evil.pt").write_bytes(pickle.dumps({"x": Payload()}))
    with pytest.raises(registry.RegistryError, match=r"evil\.pt would be refused when loaded"):
        registry.register("evil", folder / "evil.pt", project_path=root)
    assert not (tmp_path / "pwned").exists()
    bad = tiny_zoo(30.0).to_dict()
    bad["config"]["window"] = 32
    bad["ensembles"][0]["members"][0]["conv1.weight"] = torch.zeros(3, 1, 31)
    torch.save(bad, folder / "mismatch.pt")
    with pytest.raises(
        registry.RegistryError,
        match=r"mismatch\.pt would be refused.*config "
        r"does not match the weights",
    ):
        registry.register("mismatch", folder / "mismatch.pt", project_path=root)
