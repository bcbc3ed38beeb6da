"""The reconstruction costs' hand-written gradients against their autograd expressions: LFADS
training steps at the RADICaL paper sizes, both in one process, interleaved (one thread).

Per variant, one model and one batch of 128 trials of the timing data of ``latent_lorenz.py``;
rounds alternate a block of steps (forward, backward; no optimiser update, so every step sees
the same weights) with the current costs and a block with the costs as before (the
``_previous`` baselines of ``latent_lorenz.py``: its ``_previous_nll``). Each round gives a
ratio of CPU seconds; the result is the median over rounds, with its spread. Finer than whole
epochs in separate processes, whose run-to-run spread on a shared machine (≈ 10 %) is larger
than the effect measured here.

    OMP_NUM_THREADS=1 python benchmarks/lfads_costs_ab.py
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import latent_lorenz as ll  # the timing data and the previous costs
from lfads_step_profile import _model  # the paper-size model of the step profile

from calcium_dynamics.models.allocator import keep_freed_memory
from calcium_dynamics.models.lfads.observations import (
    GaussianObservation,
    Observation,
    PoissonObservation,
    ZIGObservation,
)
from calcium_dynamics.provenance import command_line, run_record

OUT = Path("benchmarks/results/latent_lorenz/lfads_costs_ab.json")
CLASSES = (PoissonObservation, GaussianObservation, ZIGObservation, Observation)


def measure(variant: str, rounds: int, steps: int) -> dict:
    """Median step CPU seconds with each form of the costs, and per-round ratios."""
    current = {cls: cls.__dict__["nll"] for cls in CLASSES}  # each class defines its own
    ll._previous_nll()
    previous = {cls: cls.__dict__["nll"] for cls in CLASSES}

    def use(forms):
        for cls, fn in forms.items():
            cls.nll = fn

    x = ll._timing_data(variant, np.random.default_rng(0))
    model = _model(variant, "fused", x)
    batch = torch.as_tensor(x[:128])

    def block() -> float:
        start = time.process_time()
        for _ in range(steps):
            model.zero_grad(set_to_none=True)
            torch.manual_seed(1)  # the same draws in every step
            model.compute_loss(batch, training=True)["loss"].backward()
        return (time.process_time() - start) / steps

    times = {"current": [], "previous": []}
    losses = {}
    try:
        for form in ("current", "previous"):  # warm-up, and the losses of one step each
            use(current if form == "current" else previous)
            block()
            torch.manual_seed(1)
            losses[form] = float(model.compute_loss(batch, training=True)["loss"].detach())
        for r in range(rounds):
            order = ("current", "previous") if r % 2 == 0 else ("previous", "current")
            for form in order:
                use(current if form == "current" else previous)
                times[form].append(block())
    finally:
        use(current)
    ratios = np.array(times["previous"]) / np.array(times["current"])
    return {
        "step_cpu_s_median_current": float(np.median(times["current"])),
        "step_cpu_s_median_previous": float(np.median(times["previous"])),
        "speedup_median_of_round_ratios": round(float(np.median(ratios)), 3),
        "round_ratio_quartiles": [round(float(q), 3) for q in np.percentile(ratios, [25, 75])],
        "rounds": rounds,
        "steps_per_block": steps,
        "loss_difference_one_step": abs(losses["current"] - losses["previous"]),
    }


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--variants", nargs="+", default=["autolfads", "gaussian_lfads", "radical", "calcium_lfads"]
    )
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    keep_freed_memory()
    results = {
        "provenance": run_record(command_line(argv=argv), seeds=[0, 1], threads=1),
        "variants": {},
    }
    for variant in args.variants:
        res = measure(variant, args.rounds, args.steps)
        results["variants"][variant] = res
        print(
            f"{variant}: {res['step_cpu_s_median_previous']:.3f} → "
            f"{res['step_cpu_s_median_current']:.3f} CPU s / step, "
            f"{res['speedup_median_of_round_ratios']}× (quartiles {res['round_ratio_quartiles']})"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
