"""keep_freed_memory: same numbers, fewer page faults per LFADS training step, clear errors."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

from calcium_dynamics.models.allocator import MAX_MMAP_THRESHOLD_MIB, keep_freed_memory

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"

# three training steps of LFADS at the RADICaL paper's batch shape (128 trials × 90 bins × 278
# neurons, activations of 12.8 MB) in a fresh process; prints the loss, a checksum of every
# trained weight and the minor page faults of the last two steps
_STEPS = """
import json, resource, sys, torch
torch.set_num_threads(1)
if sys.argv[1] == "keep":
    from calcium_dynamics.models.allocator import keep_freed_memory
    keep_freed_memory()
from calcium_dynamics.models.lfads.model import LFADS
torch.manual_seed(0)
model = LFADS(n_neurons=278, n_steps=90, dropout=0.05)
x = torch.poisson(torch.full((128, 90, 278), 0.1))
opt = torch.optim.Adam(model.parameters())
def step():
    opt.zero_grad()
    loss = model.compute_loss(x, training=True)["loss"]
    loss.backward()
    opt.step()
    return loss.item()
step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
losses = [step(), step()]
faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 2
weights = [p.detach().double().sum().item() for p in model.parameters()]
print(json.dumps({"losses": losses, "weights": weights, "faults_per_step": faults}))
"""


def _run(mode: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _STEPS, mode],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not GLIBC, reason="the allocator settings are glibc's (Linux)")
def test_same_numbers_and_fewer_page_faults():
    default, keep = _run("default"), _run("keep")
    # where the memory comes from changes nothing computed
    assert keep["losses"] == default["losses"]
    assert keep["weights"] == default["weights"]
    # measured at these sizes: ≈ 30,000 against ≈ 6,700 faults per step
    assert keep["faults_per_step"] < default["faults_per_step"] / 2


@pytest.mark.skipif(not GLIBC, reason="the allocator settings are glibc's (Linux)")
def test_returns_the_settings_applied():
    assert keep_freed_memory(MAX_MMAP_THRESHOLD_MIB, 1024, 256) == {
        "mmap_threshold_mib": 32,
        "trim_threshold_mib": 1024,
        "top_pad_mib": 256,
    }


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"mmap_threshold_mib": 0}, "mmap_threshold_mib"),
        ({"mmap_threshold_mib": 33}, "mmap_threshold_mib"),
        ({"trim_threshold_mib": -1}, "trim_threshold_mib"),
        ({"top_pad_mib": 2048}, "top_pad_mib"),
    ],
)
def test_out_of_range_values_are_named(kwargs, name):
    with pytest.raises(ValueError, match=name):
        keep_freed_memory(**kwargs)
