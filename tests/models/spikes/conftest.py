"""A throw-away project with tiny shipped models (random weights, valid files): routing, the
API and the registry index are tested on them; accuracy is the benchmarks' business."""

import pytest
import torch

from calcium_dynamics.models.cascade import CascadeNet
from calcium_dynamics.models.ens2 import UNet1d
from calcium_dynamics.models.spike_models import SpikeModel
from calcium_dynamics.models.spikes.ship import ship
from calcium_dynamics.registry import shipped

LEVELS = [0.5, 1.0, 2.0, 4.0]
RATES = {"7p5": 7.5, "15": 15.0, "30": 30.0}


def tiny_zoo(rate_hz: float, cell_class: str = "excitatory", seed: int = 0) -> SpikeModel:
    torch.manual_seed(seed)
    ensembles = {}
    for k, level in enumerate(LEVELS):
        net = CascadeNet().eval()
        with torch.no_grad():  # a distinct constant output per level: routing is visible
            net.out.bias.fill_(0.01 * (k + 1))
        ensembles[level] = [net]
    config = {"frame_rate_hz": rate_hz, "sigma_s": 1.5 / rate_hz, "window": 64}
    meta = {"cell_class": cell_class, "training_datasets": [], "command": "train it"}
    return SpikeModel("cascade", config, ensembles, meta)


def tiny_ens2() -> SpikeModel:
    torch.manual_seed(0)
    config = {"frame_rate_hz": 60.0, "sigma_s": 0.025, "window": 96, "base_channels": 2}
    return SpikeModel("ens2", config, {float("nan"): [UNet1d(2).eval()]}, {"command": "x"})


@pytest.fixture(scope="session")
def zoo_project(tmp_path_factory):
    """A project folder (``.dvc`` present) shipping cascade zoos at 7.5 / 15 / 30 Hz, an
    inhibitory 30 Hz zoo and an ENS²."""
    root = tmp_path_factory.mktemp("zoo_project")
    (root / ".dvc").mkdir()
    folder = root / shipped.SHIPPED_DIR
    for tag, rate in RATES.items():
        tiny_zoo(rate).save(folder / f"cascade-{tag}hz-excitatory.pt")
        ship(f"cascade-{tag}hz-excitatory", root=root)
    tiny_zoo(30.0, "inhibitory", seed=1).save(folder / "cascade-30hz-inhibitory.pt")
    ship("cascade-30hz-inhibitory", root=root)
    tiny_ens2().save(folder / "ens2-60hz-excitatory.pt")
    ship("ens2-60hz-excitatory", root=root)
    return root
