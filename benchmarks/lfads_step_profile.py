"""Where one LFADS training step spends its time, at the RADICaL paper sizes (one thread).

For each variant and recurrence (``fused`` / ``autograd``): the CPU seconds of a training step
(forward, backward, Adam; batch 128 of the timing data of ``latent_lorenz.py``), and a torch
profile of three steps split into matrix products, full-size element-wise operations (on
tensors of ≥ 1 M entries), the rest (small operations and Python), with the largest operations.
Also the two encoders alone (forward and backward), as ``nn.GRU`` and as the fused recurrence.

    OMP_NUM_THREADS=1 python benchmarks/lfads_step_profile.py --variants autolfads calcium_lfads

Profiler times are inflated by its own bookkeeping (most for small operations): read the
shares, not the absolute milliseconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parent))
import latent_lorenz as ll  # the timing data and model settings

from calcium_dynamics.models.allocator import keep_freed_memory
from calcium_dynamics.models.lfads.recurrence import bidirectional_grus
from calcium_dynamics.provenance import command_line, run_record

OUT = Path("benchmarks/results/latent_lorenz/lfads_step_profile.json")
GEMMS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "aten::addmm_", "aten::baddbmm_")
BIG = 1_000_000


def _largest_numel(shapes) -> int:
    sizes = [int(np.prod(s)) for s in shapes or [] if isinstance(s, list) and s]
    sizes = [s for s in sizes if s > 0]
    return max(sizes, default=0)


def _model(variant: str, recurrence: str, x: np.ndarray):
    params = ll.paper_parameters()
    settings = {**ll.variant_model_params(params["lfads"], variant), "recurrence": recurrence}
    torch.manual_seed(0)
    model = ll.build_model(x, variant, settings)
    model.initialise_from_data(x[:384])
    return model


def profile_step(variant: str, recurrence: str, n_steps: int = 5) -> dict:
    """Step CPU seconds and a categorised profile of three steps."""
    x = ll._timing_data(variant, np.random.default_rng(0))
    model = _model(variant, recurrence, x)
    opt = model.configure_optimizers()  # the optimiser training uses
    batch = torch.as_tensor(x[:128])

    def step():
        opt.zero_grad()
        model.compute_loss(batch, training=True)["loss"].backward()
        opt.step()

    step()
    cpu = []
    for _ in range(n_steps):
        t = time.process_time()
        step()
        cpu.append(time.process_time() - t)
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        for _ in range(3):
            step()
    events = prof.key_averages(group_by_input_shape=True)
    categories: dict[str, float] = defaultdict(float)
    top = []
    for e in events:
        ms = e.self_cpu_time_total / 1e3 / 3
        numel = _largest_numel(e.input_shapes)
        if e.key in GEMMS:
            cat = "matrix_products"
        elif numel >= BIG:
            cat = "full_size_elementwise"
        else:
            cat = "other_small_ops_and_python"
        categories[cat] += ms
        top.append((ms, e.key, str(e.input_shapes)[:120], cat))
    total = sum(categories.values())
    top.sort(reverse=True)
    return {
        "step_cpu_s_median": float(np.median(cpu)),
        "profile_ms_per_step": {k: round(v, 1) for k, v in categories.items()},
        "profile_share": {k: round(v / total, 3) for k, v in categories.items()},
        "largest_ops_ms_per_step": [
            {"ms": round(ms, 2), "op": key, "shapes": shapes, "category": cat}
            for ms, key, shapes, cat in top[:15]
        ],
    }


def encoders_alone(n_runs: int = 5) -> dict:
    """Forward + backward of the two paper-size encoders: nn.GRU against the fused path."""
    torch.manual_seed(0)
    x = torch.poisson(torch.full((128, 90, 278), 0.1))
    encoders = [torch.nn.GRU(278, 64, batch_first=True, bidirectional=True) for _ in range(2)]
    probe_out, probe_h = torch.randn(128, 90, 128), torch.randn(2, 128, 64)

    def run(fused: bool):
        pairs = bidirectional_grus(x, encoders) if fused else [enc(x) for enc in encoders]
        loss = sum((out * probe_out).sum() + (h * probe_h).sum() for out, h in pairs)
        loss.backward()

    res = {}
    for name, fused in (("nn_gru", False), ("fused", True)) * 2:
        run(fused)
        cpu = []
        for _ in range(n_runs):
            t = time.process_time()
            run(fused)
            cpu.append(time.process_time() - t)
        res.setdefault(name, []).append(float(np.median(cpu)))
    out = {f"{k}_cpu_s_median": float(np.median(v)) for k, v in res.items()}
    out["speedup"] = round(out["nn_gru_cpu_s_median"] / out["fused_cpu_s_median"], 3)
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--variants", nargs="+", default=["autolfads"])
    ap.add_argument("--recurrences", nargs="+", default=["autograd", "fused"])
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    keep_freed_memory()
    results = {
        "provenance": run_record(command_line(argv=argv), seeds=[0], threads=1),
        "encoders_alone": encoders_alone(),
        "steps": {},
    }
    print("encoders alone:", results["encoders_alone"], flush=True)
    for variant in args.variants:
        for recurrence in args.recurrences:
            res = profile_step(variant, recurrence)
            results["steps"][f"{variant}_{recurrence}"] = res
            print(variant, recurrence, res["step_cpu_s_median"], res["profile_share"], flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
