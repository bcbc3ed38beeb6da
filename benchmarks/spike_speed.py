"""Inference speed of the shipped spike models on this machine's CPU, as same-run ratios.

    OMP_NUM_THREADS=1 python benchmarks/spike_speed.py --threads 1 --minutes 2 --strides 1 4 8 16

Measures samples per second (frames of the model's rate per wall-clock second, resampling
included; best of ``--repeats``) for ENS² at each window stride and arithmetic precision
(fp32, bf16) and for the CASCADE zoo, and reports each as a ratio to ENS² at stride 1 in fp32
measured in the same run (machines are noisy: ratios hold, absolute rates vary). Accuracy by
stride is measured on held-out datasets by the leave-one-dataset-out run
(``spike_lodo.py --model ens2 --extra-strides 4 8 16``), not here. Writes
``benchmarks/results/spike_speed/spike_speed.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from calcium_dynamics.models.spike_inference import bf16_supported, infer_rates
from calcium_dynamics.models.spike_models import SpikeModel
from calcium_dynamics.provenance import command_line, run_record

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "data" / "06_models" / "shipped"


def throughput(
    model: SpikeModel,
    trace: np.ndarray,
    rate: float,
    stride: int,
    precision: str = "fp32",
    repeats: int = 3,
) -> float:
    infer_rates(model, trace[: int(rate * 20)], rate, stride=stride, precision=precision)
    best = np.inf
    for _ in range(repeats):
        t = time.perf_counter()
        infer_rates(model, trace, rate, stride=stride, precision=precision)
        best = min(best, time.perf_counter() - t)
    n_model_frames = trace.size * model.frame_rate_hz / rate
    return n_model_frames / best


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--ens2", type=Path, default=SHIPPED / "ens2-60hz-excitatory.pt")
    p.add_argument("--cascade", type=Path, default=SHIPPED / "cascade-30hz-excitatory.pt")
    p.add_argument("--strides", type=int, nargs="+", default=[1, 4, 8, 16])
    p.add_argument("--repeats", type=int, default=3, help="timed calls per setting (best kept)")
    p.add_argument(
        "--precisions",
        nargs="+",
        default=["fp32", "bf16"],
        choices=["fp32", "bf16"],
        help="ENS² arithmetic to time (bf16 needs a CPU with native bfloat16 to be fast)",
    )
    p.add_argument("--minutes", type=float, default=2.0, help="length of the timed trace")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results/spike_speed/spike_speed.json"
    )
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    prov = run_record(
        command_line(__file__, sys.argv[1:] if argv is None else argv),
        seeds=[0],
        threads=torch.get_num_threads(),
        cwd=ROOT,
    )
    rng = np.random.default_rng(0)
    rate = 30.0
    trace = rng.normal(0, 0.05, int(args.minutes * 60 * rate)).astype(np.float32)
    result = {
        "torch_threads": torch.get_num_threads(),
        "trace_minutes": args.minutes,
        "input_rate_hz": rate,
        "cpu_native_bf16": bf16_supported(),
        "ens2_model": Path(args.ens2).name,
        "ens2_samples_per_s": {},
    }
    ens2 = SpikeModel.load(args.ens2)
    for precision in args.precisions:
        result["ens2_samples_per_s"][precision] = {}
        for s in args.strides:
            sps = throughput(ens2, trace, rate, s, precision, args.repeats)
            result["ens2_samples_per_s"][precision][str(s)] = round(sps)
            print(f"ENS² {precision} stride {s}: {sps:,.0f} samples/s", flush=True)
    if args.cascade:
        zoo = SpikeModel.load(args.cascade)
        result["cascade_model"] = Path(args.cascade).name
        sps = throughput(zoo, trace, rate, 1, repeats=args.repeats)
        result["cascade_samples_per_s"] = round(sps)
        print(f"CASCADE zoo: {sps:,.0f} samples/s", flush=True)
    reference = result["ens2_samples_per_s"].get("fp32", {}).get("1")
    if reference:
        result["ratio_to_ens2_stride1_fp32"] = {
            f"ens2_{precision}_stride{s}": round(v / reference, 3)
            for precision, by_stride in result["ens2_samples_per_s"].items()
            for s, v in by_stride.items()
        }
        if "cascade_samples_per_s" in result:
            result["ratio_to_ens2_stride1_fp32"]["cascade"] = round(
                result["cascade_samples_per_s"] / reference, 3
            )
        print(f"ratios to ENS² stride 1 fp32: {result['ratio_to_ens2_stride1_fp32']}")
    result["provenance"] = prov
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
