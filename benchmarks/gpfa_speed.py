"""Gaussian GPFA fit time: this package's EM against elephant's, same segments, same run.

    OMP_NUM_THREADS=1 python benchmarks/gpfa_speed.py --seeds 0 1 2

Data: the AR(2) calcium simulation of the GPFA benchmark (``simulate_gpfa_calcium``: 3 latents,
30 neurons, 4,000 bins), cut into 500-bin segments. Per seed, back to back in one process and
one thread: this package's Gaussian GPFA (exact EM, ``--n-iter`` iterations, length scales
initialised at 350 bins) and elephant's ``gpfa_core.fit`` with the same settings on the same
segments (``em_tol`` 1e-12 so it runs every iteration), plus elephant with its default 20-bin
training pieces (a smaller problem with another answer, for scale). Reports the fit seconds,
the ratios elephant / this package, the fitted length scales and the in-sample latent R² of
each (equal length scales show both reached the same fixed point). Needs the ``bench`` extra
(elephant); without it the benchmark says so and stops. Writes
``benchmarks/results/gpfa_speed/gpfa_speed.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from calcium_dynamics.classical.gpfa import GPFA
from calcium_dynamics.metrics.latents_linear import linear_latent_r2
from calcium_dynamics.provenance import command_line, run_record
from calcium_dynamics.simulate.hmm_gpfa import simulate_gpfa_calcium

sys.path.insert(0, str(Path(__file__).resolve().parent))
from classical_latents import _elephant_gaussian_gpfa  # a sibling script

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "gpfa_speed" / "gpfa_speed.json"


def ours(y: np.ndarray, latents: np.ndarray, segment_length: int, n_iter: int, seed: int) -> dict:
    model = GPFA(
        n_latents=3,
        observations="gaussian",
        segment_length=segment_length,
        length_scale_init=350.0,
        n_iter=n_iter,
        random_state=seed,
    )
    start = time.perf_counter()
    model.fit(y)
    fit_time = time.perf_counter() - start
    score = linear_latent_r2(model.transform(y), latents)
    return {
        "fit_time_s": fit_time,
        "em_iterations": n_iter,
        "length_scales_bins": np.sort(model.length_scales_).tolist(),
        "latent_r2": score["r2_mean"],
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--n-iter", type=int, default=40)
    p.add_argument("--segment-length", type=int, default=500)
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    try:
        import elephant
    except ImportError:
        print("skipped: elephant is not installed (pip install -e '.[bench]')")
        return 0
    torch.set_num_threads(1)
    result: dict = {
        "provenance": run_record(
            command_line(__file__, sys.argv[1:] if argv is None else argv),
            seeds=args.seeds,
            threads=1,
            cwd=ROOT,
        ),
        "setup": {
            "simulation": "simulate_gpfa_calcium (AR(2) calcium, 3 latents, 30 neurons)",
            "segment_length_bins": args.segment_length,
            "em_iterations": args.n_iter,
            "elephant": elephant.__version__,
        },
        "seeds": {},
    }
    for seed in args.seeds:
        sim = simulate_gpfa_calcium(seed=seed)
        y, latents = sim.calcium, sim.latents
        row = {"ours": ours(y, latents, args.segment_length, args.n_iter, seed)}
        for mode in ("same", "default"):
            e = _elephant_gaussian_gpfa(y, args.segment_length, args.n_iter, latents, mode)
            e["length_scales_bins"] = sorted(e["length_scales_bins"])
            row[f"elephant_{mode}_segments"] = e
        t = row["ours"]["fit_time_s"]
        row["elephant_same_segments_over_ours"] = row["elephant_same_segments"]["fit_time_s"] / t
        row["elephant_default_over_ours"] = row["elephant_default_segments"]["fit_time_s"] / t
        result["seeds"][str(seed)] = row
        print(
            f"seed {seed}: ours {t:.1f} s, elephant same segments "
            f"{row['elephant_same_segments']['fit_time_s']:.1f} s "
            f"(×{row['elephant_same_segments_over_ours']:.1f}), elephant default "
            f"{row['elephant_default_segments']['fit_time_s']:.1f} s; ℓ ours "
            f"{np.round(row['ours']['length_scales_bins'])} elephant "
            f"{np.round(row['elephant_same_segments']['length_scales_bins'])}",
            flush=True,
        )
    rows = result["seeds"].values()
    result["summary"] = {
        "elephant_same_segments_over_ours": [
            round(r["elephant_same_segments_over_ours"], 2) for r in rows
        ],
        "elephant_default_over_ours": [round(r["elephant_default_over_ours"], 3) for r in rows],
        "largest_length_scale_difference_bins": max(
            float(
                np.max(
                    np.abs(
                        np.subtract(
                            r["ours"]["length_scales_bins"],
                            r["elephant_same_segments"]["length_scales_bins"],
                        )
                    )
                )
            )
            for r in rows
        ),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["summary"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
