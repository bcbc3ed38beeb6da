"""Data-parallel training of the Lightning models from trainer parameters (2-process DDP on CPU).

A tiny ENS² (``train_ens2``) and a tiny LFADS (``train_lfads``) are trained twice with the same
parameters except the trainer's ``strategy`` / ``devices`` and the batch size, which Lightning
counts per process and is halved to keep the global batch: once in one process and once with
``strategy: ddp, devices: 2`` on the CPU (gloo over the loopback interface). Lightning's ``ddp``
launcher starts rank 1 by running the training script again, which pytest cannot be, so each run
is a small script in its own process. The losses come from the DVCLive training logs that rank 0
writes; each rank saves its final weights. Both runs must lower the loss with curves of the same
shape, and the two ranks must end with the same weights.
"""

from __future__ import annotations

import csv
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from calcium_dynamics.models.fit import build_trainer
from calcium_dynamics.models.lfads import make_trainer

ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_S = 240

#: the script each run executes (rank 1 of a DDP run executes it again, with LOCAL_RANK=1)
SCRIPT = """\
import importlib.util, sys
spec = importlib.util.spec_from_file_location("ddp_case", {path!r})
case = importlib.util.module_from_spec(spec)
spec.loader.exec_module(case)
case.train_and_record(sys.argv[1], sys.argv[2], int(sys.argv[3]))
"""


def _ens2_params(logs: Path, strategy: str, devices: int) -> dict:
    return {
        "sigma_s": 0.025,
        "seed": 0,
        "model": {"base_channels": 4, "learning_rate": 3.0e-3},
        "data": {"batch_size": 32 // devices, "validation_fraction": 0.2, "n_val_batches": 1},
        "trainer": {
            "max_steps": 40,
            "val_check_interval": 20,
            "log_every_n_steps": 1,
            "enable_progress_bar": False,
            "accelerator": "cpu",
            "devices": devices,
            "num_nodes": 1,
            "strategy": strategy,
            "logger": str(logs / "ens2"),
        },
    }


def _lfads_params(logs: Path, strategy: str, devices: int) -> tuple[dict, dict]:
    from tests.models.test_lfads import SMALL

    model = {**SMALL, "co_dim": 0, "lr": 2.0e-2}
    trainer = {
        "max_epochs": 20,
        "batch_size": 16 // devices,
        "enable_progress_bar": False,
        "log_every_n_steps": 1,
        "accelerator": "cpu",
        "devices": devices,
        "num_nodes": 1,
        "strategy": strategy,
        "logger": str(logs / "lfads"),
    }
    return model, trainer


def train_and_record(out: str, strategy: str, devices: int) -> None:
    """Train the tiny ENS² and LFADS; every rank saves its final weights to ``out``.

    Runs in the script's process (and, under DDP, in the process Lightning starts for rank 1).
    """
    import torch.distributed as dist

    from calcium_dynamics.models.lfads import model_to_dict, train_lfads
    from calcium_dynamics.models.spike_training import train_ens2
    from tests.models.test_lfads import _trial_latent_data
    from tests.models.test_spike_models import _synthetic_table

    torch.set_num_threads(1)
    folder = Path(out)
    table = _synthetic_table(n_neurons=5, seconds=60.0)
    ens2 = train_ens2(table, _ens2_params(folder / "logs", strategy, devices))
    spikes, _ = _trial_latent_data(n_trials=80, n_bins=20, n_neurons=20)
    model_p, trainer_p = _lfads_params(folder / "logs", strategy, devices)
    lfads, _ = train_lfads(spikes, "autolfads", model_p, trainer_p, seed=0)

    rank = dist.get_rank() if dist.is_initialized() else 0
    world = dist.get_world_size() if dist.is_initialized() else 1
    net = ens2.ensembles[ens2.noise_levels[0]][0]
    torch.save(
        {
            "world_size": world,
            "ens2": {k: v.detach().clone() for k, v in net.state_dict().items()},
            "lfads": model_to_dict(lfads)["state_dict"],
        },
        folder / f"weights_rank{rank}.pt",
    )
    if dist.is_initialized():
        dist.barrier()  # every rank's file is complete before rank 0 returns
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _loopback_interface() -> str | None:
    names = [name for _, name in socket.if_nameindex()] if hasattr(socket, "if_nameindex") else []
    return next((n for n in names if n.startswith("lo")), None)


def _run(tmp_path: Path, name: str, strategy: str, devices: int) -> Path:
    """Run the training script in a fresh process (group); return its output folder."""
    out = tmp_path / name
    out.mkdir()
    script = tmp_path / f"train_{name}.py"
    script.write_text(SCRIPT.format(path=str(Path(__file__).resolve())))
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"LOCAL_RANK", "NODE_RANK", "GROUP_RANK", "RANK", "WORLD_SIZE"}
        and not k.startswith(("SLURM_", "TORCHELASTIC_", "PL_", "DVC_STUDIO_"))
    }
    env |= {
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(_free_port()),
        "DO_NOT_TRACK": "1",
        "DVC_NO_ANALYTICS": "1",
        "DVC_STUDIO_OFFLINE": "true",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
    }
    loopback = _loopback_interface()
    if loopback and "GLOO_SOCKET_IFNAME" not in env:
        env["GLOO_SOCKET_IFNAME"] = loopback  # gloo talks over the loopback interface only
    proc = subprocess.Popen(
        [sys.executable, str(script), str(out), strategy, str(devices)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # rank 1 joins this group: a timeout ends both ranks
    )
    try:
        log, _ = proc.communicate(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        log, _ = proc.communicate()
        pytest.fail(f"{name} training ran past {RUN_TIMEOUT_S} s:\n{log[-4000:]}")
    if proc.returncode != 0:
        pytest.fail(f"{name} training failed ({proc.returncode}):\n{log[-4000:]}")
    return out


def _losses(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Steps and training losses of a DVCLive metric file (TSV: timestamp, step, loss)."""
    with open(path) as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return np.array([int(r["step"]) for r in rows]), np.array([float(r["loss"]) for r in rows])


def _relative_fall(loss: np.ndarray, k: int) -> float:
    """Mean of the last ``k`` losses over the mean of the first ``k``."""
    return float(loss[-k:].mean() / loss[:k].mean())


def _max_abs_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k].double() - b[k].double()).abs().max()) for k in a if a[k].numel())


def _assert_same_shape(curves: dict[str, np.ndarray], k: int, max_ratio: float) -> None:
    """Both curves fall by a clear margin, mostly monotonically, by similar amounts, together."""
    falls = {name: _relative_fall(loss, k) for name, loss in curves.items()}
    assert max(falls.values()) < max_ratio, falls
    for name, loss in curves.items():
        trend = spearmanr(np.arange(len(loss)), loss).statistic
        assert trend < -0.6, (name, trend, loss)  # monotonic-ish decrease
    drop_single, drop_ddp = 1 - falls["single"], 1 - falls["ddp"]
    assert 1 / 1.5 < drop_ddp / drop_single < 1.5, falls
    assert np.corrcoef(curves["single"], curves["ddp"])[0, 1] > 0.7


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("ddp")
    return {"single": _run(tmp, "single", "auto", 1), "ddp": _run(tmp, "ddp", "ddp", 2)}


def test_both_ranks_end_with_the_same_weights(runs):
    single = torch.load(runs["single"] / "weights_rank0.pt", weights_only=True)
    assert single["world_size"] == 1 and not (runs["single"] / "weights_rank1.pt").exists()
    rank0 = torch.load(runs["ddp"] / "weights_rank0.pt", weights_only=True)
    rank1 = torch.load(runs["ddp"] / "weights_rank1.pt", weights_only=True)
    assert rank0["world_size"] == rank1["world_size"] == 2
    for model in ("ens2", "lfads"):
        assert _max_abs_diff(rank0[model], rank1[model]) < 1e-6, model
        assert _max_abs_diff(rank0[model], single[model]) > 1e-4, model  # its own trajectory


def test_ens2_loss_falls_alike_in_one_and_two_processes(runs):
    curves = {}
    for name, folder in runs.items():
        _, loss = _losses(folder / "logs/ens2/plots/metrics/train/loss.tsv")
        assert len(loss) == 40 and np.isfinite(loss).all(), name  # one point per step
        curves[name] = loss
    _assert_same_shape(curves, k=8, max_ratio=0.5)


def test_lfads_loss_falls_alike_in_one_and_two_processes(runs):
    curves, steps_per_epoch = {}, {}
    for name, folder in runs.items():
        steps, loss = _losses(folder / "logs/lfads/autolfads/plots/metrics/train/loss.tsv")
        assert len(loss) == 20 and np.isfinite(loss).all(), name  # one point per epoch
        steps_per_epoch[name] = set(np.diff(steps).tolist())
        curves[name] = loss
    # 64 training trials, 16 a step: 4 steps an epoch in one process; under DDP each rank draws
    # 8 of its own 32 trials a step, so also 4 (without the split it would be 8)
    assert steps_per_epoch == {"single": {4}, "ddp": {4}}
    _assert_same_shape(curves, k=3, max_ratio=0.9)


def test_distribution_settings_come_from_parameters():
    params = {"max_steps": 1, "strategy": "ddp", "devices": 2, "num_nodes": 1, "logger": False}
    trainer = build_trainer({**params, "accelerator": "cpu"})
    assert type(trainer.strategy).__name__ == "DDPStrategy"
    assert trainer.num_devices == 2 and trainer.num_nodes == 1
    lfads = make_trainer(
        {"max_epochs": 1, "accelerator": "cpu", "strategy": "ddp", "devices": 2, "num_nodes": 1}
    )
    assert type(lfads.strategy).__name__ == "DDPStrategy"
    assert lfads.num_devices == 2 and lfads.num_nodes == 1
    with pytest.raises(ValueError, match=r"unknown trainer parameter\(s\) \['nodes'\]"):
        build_trainer({"max_steps": 1, "nodes": 2})
    with pytest.raises(ValueError, match=r"unknown LFADS trainer parameter\(s\) \['nodes'\]"):
        make_trainer({"max_epochs": 1, "nodes": 2})
