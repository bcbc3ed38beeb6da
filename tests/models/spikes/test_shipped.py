"""The pretrained models that ship in the repository: files, index, cards, a clone without tags,
and the training command."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from calcium_dynamics import infer_spikes, registry
from calcium_dynamics.models.spike_models import SpikeModel
from calcium_dynamics.models.spikes.zoo_training import (
    ZooSpec,
    load_ground_truth,
    parse_args,
    train_zoo,
)
from calcium_dynamics.registry import shipped

ROOT = Path(__file__).resolve().parents[3]
INDEX = shipped.read_index(ROOT)
INHIBITORY = ("SST", "PV", "VIP")


def test_the_day_one_models_are_shipped():
    assert {"cascade-30hz-excitatory", "cascade-7p5hz-excitatory"} <= set(INDEX)
    assert all(e["stages"] == ["production"] for e in INDEX.values())


@pytest.mark.parametrize("name", sorted(INDEX))
def test_file_index_and_card_agree(name):
    entry = INDEX[name]
    path = ROOT / entry["path"]
    assert shipped.sha256_of(path) == entry["sha256"]
    model = SpikeModel.load(path)
    card = json.loads((ROOT / shipped.SHIPPED_DIR / f"{name}.card.json").read_text())
    assert (ROOT / entry["card"]).read_text().startswith(f"# {name} {entry['version']}")
    assert model.frame_rate_hz == card["frame_rate_hz"] == entry["meta"]["frame_rate_hz"]
    assert float(model.config["sigma_s"]) == card["sigma_s"]
    assert len(next(iter(model.ensembles.values()))) == card["n_members"]
    datasets = [d["dataset"] for d in card["training"]["datasets"]]
    inhibitory = [any(k in d for k in INHIBITORY) for d in datasets]
    assert all(inhibitory) if card["cell_class"] == "inhibitory" else not any(inhibitory)
    assert card["training"]["n_neurons"] >= 40 and card["training"]["data_md5"]
    # the recorded command parses back to the model's settings
    cmd = card["retrain_command"].split()
    args = parse_args(cmd[cmd.index("--ground-truth") :])
    assert args.name == name and args.frame_rate == pytest.approx(model.frame_rate_hz, rel=1e-3)
    assert args.sigma_ms == pytest.approx(1000 * card["sigma_s"])
    if model.kind == "cascade":
        assert model.noise_levels[:9] == [float(v) for v in range(1, 10)]
    # every member trained (≥ one validation check) with a finite held-out loss
    records = model.metadata["training"]
    assert len(records) == sum(len(m) for m in model.ensembles.values())
    for record in records.values():
        assert record["steps"] >= 250 and np.isfinite(record["val_loss"])


def test_fresh_clone_without_tags_lists_and_loads_them(tmp_path):
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", "--no-tags", str(ROOT), str(clone)], check=True)
    assert subprocess.run(["git", "tag"], cwd=clone, capture_output=True, text=True).stdout == ""
    kedro = Path(sys.executable).with_name("kedro")
    out = subprocess.run(
        [str(kedro), "models", "list"],
        cwd=clone,
        capture_output=True,
        text=True,
        env={**os.environ, "DO_NOT_TRACK": "1", "KEDRO_DISABLE_TELEMETRY": "true"},
    )
    assert out.returncode == 0, out.stderr
    for name, entry in INDEX.items():
        line = next(x for x in out.stdout.splitlines() if x.startswith(name))
        assert f"production={entry['version']}" in line
    name = "cascade-7p5hz-excitatory"
    model = registry.load(name, stage="production", project_path=clone)
    assert isinstance(model, SpikeModel) and model.frame_rate_hz == pytest.approx(7.5, rel=1e-3)
    # tampering in the clone is caught
    path = clone / INDEX[name]["path"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(registry.ChecksumError):
        registry.load(name, stage="production", project_path=clone)
    shutil.rmtree(clone)


def test_a_recording_at_a_rate_no_zoo_has():
    """9.8 Hz goes to the 7.5 Hz zoo (nearest on a log scale) with frame_rate_far named."""
    rng = np.random.default_rng(0)
    t = np.arange(1200) / 9.8
    dff = 0.01 * rng.normal(size=(3, t.size))
    for i, spike in enumerate([10.0, 40.0, 80.0]):
        dff[i] += 0.5 * np.exp(-(t - spike) / 0.7) * (t >= spike)
    result = infer_spikes(dff, 9.8, events=False)
    assert result.routing["model"].eq("cascade-7p5hz-excitatory").all()
    assert result.routing["warnings"].eq("frame_rate_far").all()
    for i, spike in enumerate([10.0, 40.0, 80.0]):  # the rate peaks at the transient
        assert abs(t[np.argmax(result.rates_hz[i])] - spike) < 0.5


def test_zoo_training_is_deterministic(project_root):
    recordings = load_ground_truth(project_root / "data/01_raw/ground_truth")
    spec = ZooSpec(
        name="t",
        frame_rate_hz=30.0,
        sigma_s=0.05,
        noise_levels=[3.0],
        n_members=1,
        steps=3,
        batch_size=64,
    )
    a, b = train_zoo(recordings, spec), train_zoo(recordings, spec)
    for x, y in zip(
        a.ensembles[3.0][0].state_dict().values(), b.ensembles[3.0][0].state_dict().values()
    ):
        torch.testing.assert_close(x, y, rtol=0, atol=0)
    assert a.metadata["spec"]["steps"] == 3 and a.metadata["training_datasets"]


def test_zoo_trained_in_parts_and_merged_equals_one_training(project_root):
    from calcium_dynamics.models.spikes.zoo_training import _single_command, merge_zoos

    recordings = load_ground_truth(project_root / "data/01_raw/ground_truth")

    def spec(name, levels):
        return ZooSpec(
            name=name,
            frame_rate_hz=15.0,
            sigma_s=0.1,
            noise_levels=levels,
            n_members=2,
            steps=3,
            batch_size=32,
        )

    cmd = (
        "python -m calcium_dynamics.models.spikes.zoo_training --frame-rate 15 --name a "
        "--noise-levels 2"
    )
    parts = []
    for name, levels in (("a", [2.0]), ("b", [4.0])):
        part = train_zoo(recordings, spec(name, levels), command=cmd)
        parts.append(part)
    whole = train_zoo(recordings, spec("w", [2.0, 4.0]))
    merged = merge_zoos(parts, "w")
    assert merged.noise_levels == [2.0, 4.0] and merged.metadata["merged_from"] == ["a", "b"]
    for level in (2.0, 4.0):
        for m, w in zip(merged.ensembles[level], whole.ensembles[level]):
            for x, y in zip(m.state_dict().values(), w.state_dict().values()):
                torch.testing.assert_close(x, y, rtol=0, atol=0)
    assert merged.metadata["command"].endswith("--members 2 --name w --noise-levels 2 4")
    assert "--name a" not in merged.metadata["command"]
    assert _single_command(
        "x --high-noise --name q --noise-levels 1 2 --seed 0 --first-member 3 --members 2",
        "z",
        [1.0],
        5,
    ) == ("x --seed 0 --members 5 --name z --noise-levels 1")
    with pytest.raises(ValueError, match=r"share member 0 of noise level 2"):
        merge_zoos([parts[0], parts[0]], "w")

    # more members of the same levels, trained in another process, add up to the larger zoo
    extra = train_zoo(
        recordings,
        ZooSpec(
            name="c",
            frame_rate_hz=15.0,
            sigma_s=0.1,
            noise_levels=[2.0],
            n_members=1,
            first_member=2,
            steps=3,
            batch_size=32,
        ),
        command=cmd + " --first-member 2 --members 1",
    )
    whole3 = train_zoo(recordings, ZooSpec(**{**spec("w3", [2.0]).__dict__, "n_members": 3}))
    merged3 = merge_zoos([parts[0], extra], "w3")
    assert merged3.metadata["spec"]["n_members"] == 3 and len(merged3.ensembles[2.0]) == 3
    for m, w in zip(merged3.ensembles[2.0], whole3.ensembles[2.0]):
        for x, y in zip(m.state_dict().values(), w.state_dict().values()):
            torch.testing.assert_close(x, y, rtol=0, atol=0)
    assert merged3.metadata["command"].endswith("--members 3 --name w3 --noise-levels 2")
    with pytest.raises(ValueError, match="members 0 … n-1 at every level"):
        merge_zoos([parts[0], parts[1], extra], "bad")  # ν=2 has 3 members, ν=4 has 2
    with pytest.raises(ValueError, match="member indices must lie in 0 … 9"):
        ZooSpec(name="x", frame_rate_hz=15.0, sigma_s=0.1, n_members=5, first_member=6)
