"""How fast can CASCADE rates be on one thread? Arithmetic count against this core's peak.

The shipped 30 Hz zoo runs 5 members per noise level. Each member costs a fixed number of
multiply-accumulates (MACs) per output frame (counted from the layer shapes below), so the
rates of ``--neurons`` cells x ``--minutes`` at 30 Hz need a known number of MACs. Dividing by the
single-thread fp32 matrix-multiply throughput measured here in the same run (the best rate this
core reaches on dense arithmetic) gives a floor no float32 implementation can beat. The script
also times the whole-trace call against the tiled call the project uses, interleaved, on the same
trace (ratio measured in the same run), and bf16 matmul throughput for reference.

    python benchmarks/cascade_compute_floor.py

Writes ``benchmarks/results/cascade_compute_floor/cascade_compute_floor.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from calcium_dynamics.models.cascade import CascadeNet
from calcium_dynamics.models.spike_kinds import _predict_every_frame
from calcium_dynamics.models.spike_models import SpikeModel
from calcium_dynamics.provenance import command_line, run_record

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "cascade_compute_floor" / "cascade_compute_floor.json"


def macs_per_frame(net: CascadeNet) -> int:
    """MACs per output frame of ``forward_trace``: each conv costs out x in x kernel per frame."""
    total = 0
    for layer in (net.conv1, net.conv2, net.conv3):
        out_ch, in_ch, k = layer.weight.shape
        total += out_ch * in_ch * k
    total += net.dense.weight.numel() + net.out.weight.numel()
    return int(total)


def matmul_gmacs(dtype: torch.dtype, size: int = 2048, reps: int = 5) -> float:
    """Best-of-``reps`` single-thread throughput of a size^3 matrix product (GMAC/s)."""
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=gen).to(dtype)
    b = torch.randn(size, size, generator=gen).to(dtype)
    a @ b
    best = np.inf
    for _ in range(reps):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return size**3 / best / 1e9


@torch.inference_mode()
def whole_trace(members, x: np.ndarray) -> np.ndarray:
    padded = torch.from_numpy(np.pad(x, (32, 31)))[None]
    return torch.stack([m.forward_trace(padded)[0] for m in members]).mean(0).numpy()


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="data/06_models/shipped/cascade-30hz-excitatory.pt")
    parser.add_argument("--neurons", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--reps", type=int, default=5, help="interleaved timing repetitions")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    record = run_record(command_line(__file__, argv), seeds=[0], threads=1)

    model = SpikeModel.load(ROOT / args.model)
    members = model.members_for(1.0)
    rate = float(model.frame_rate_hz)
    frames = int(round(args.minutes * 60 * rate))
    per_frame = macs_per_frame(members[0])
    total_macs = per_frame * len(members) * frames * args.neurons

    x = np.random.default_rng(0).normal(0, 0.05, frames).astype(np.float32)
    whole, tiled = [], []
    for _ in range(args.reps):  # interleaved A/B on the same trace
        t0 = time.perf_counter()
        a = whole_trace(members, x)
        whole.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        b = _predict_every_frame(members, x, CascadeNet.window)
        tiled.append(time.perf_counter() - t0)
    fp32 = matmul_gmacs(torch.float32)
    bf16 = matmul_gmacs(torch.bfloat16)
    tiled_s = float(np.median(tiled)) * args.neurons
    result = {
        "provenance": record,
        "model": args.model,
        "members_per_level": len(members),
        "frame_rate_hz": rate,
        "frames_per_neuron": frames,
        "neurons": args.neurons,
        "macs_per_frame_per_member": per_frame,
        "total_gmacs": total_macs / 1e9,
        "fp32_matmul_gmacs_per_s": round(fp32, 1),
        "bf16_matmul_gmacs_per_s": round(bf16, 1),
        "fp32_floor_s": round(total_macs / (fp32 * 1e9), 1),
        "whole_trace_s_per_neuron_median": round(float(np.median(whole)), 4),
        "tiled_s_per_neuron_median": round(float(np.median(tiled)), 4),
        "tiled_speedup_median_of_ratios": round(
            float(np.median(np.array(whole) / np.array(tiled))), 2
        ),
        "tiled_rates_s_for_all_neurons": round(tiled_s, 1),
        "tiled_achieved_gmacs_per_s": round(total_macs / tiled_s / 1e9, 1),
        "tiled_max_abs_difference": float(np.max(np.abs(a - b))),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "provenance"}, indent=2))
    return result


if __name__ == "__main__":
    main()
