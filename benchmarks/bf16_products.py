"""Matrix products of one LFADS training step in float32 and bfloat16, one thread, same run.

    OMP_NUM_THREADS=1 python benchmarks/bf16_products.py

The two kinds of product that dominate an LFADS step at the RADICaL paper sizes: the encoders'
input projection (11520 × 278) · (278 × 768) (128 trials × 90 bins, four GRU directions) and the
per-bin recurrent product, batched over four directions, (4 × 128 × 64) · (4 × 64 × 192). Each
is timed (median of ``--repeats`` calls) as float32 with ``torch.set_float32_matmul_precision``
'highest' and 'medium' (oneDNN's bfloat16 path for float32 tensors), as a product of bfloat16
tensors, and as that product with the conversions from and to float32 included; the largest
relative difference to a float64 product is recorded for each. Writes
``benchmarks/results/latent_lorenz/bf16_products.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from calcium_dynamics.provenance import command_line, run_record

OUT = ROOT / "benchmarks" / "results" / "latent_lorenz" / "bf16_products.json"
SHAPES = {
    "input_projection": ((11520, 278), (278, 768)),
    "recurrent_batched": ((4, 128, 64), (4, 64, 192)),
}


def _median_s(fn, args, repeats: int) -> float:
    fn(*args)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _product(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return a @ b if a.dim() == 2 else torch.bmm(a, b)


def _converted(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return _product(a.bfloat16(), b.bfloat16()).float()


def time_products(repeats: int, seed: int) -> dict:
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for name, (sa, sb) in SHAPES.items():
        a, b = torch.randn(sa, generator=gen), torch.randn(sb, generator=gen)
        exact = _product(a.double(), b.double())
        scale = float(exact.abs().max())
        # case: (function, arguments, float32 matmul precision while it runs)
        cases = {
            "float32_highest": (_product, (a, b), "highest"),
            "float32_medium": (_product, (a, b), "medium"),
            "bfloat16_tensors": (_product, (a.bfloat16(), b.bfloat16()), "highest"),
            "bfloat16_with_conversions": (_converted, (a, b), "highest"),
        }
        result = {}
        for case, (fn, args, precision) in cases.items():
            torch.set_float32_matmul_precision(precision)
            value = fn(*args)
            result[case] = {
                "ms": round(1e3 * _median_s(fn, args, repeats), 3),
                "largest_error_relative_to_largest_entry": float(
                    (value.double() - exact).abs().max() / scale
                ),
            }
        torch.set_float32_matmul_precision("highest")
        base = result["float32_highest"]["ms"]
        for case in result:
            result[case]["speedup_vs_float32"] = round(base / result[case]["ms"], 2)
        out[name] = {"shapes": [list(sa), list(sb)], **result}
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    command = command_line(__file__, sys.argv[1:] if argv is None else argv)
    torch.set_num_threads(1)
    result = {
        "provenance": run_record(command, seeds=args.seed, threads=1, cwd=ROOT),
        "torch": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "products": time_products(args.repeats, args.seed),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    for name, cases in result["products"].items():
        print(name, {k: v["ms"] for k, v in cases.items() if isinstance(v, dict)})


if __name__ == "__main__":
    main()
