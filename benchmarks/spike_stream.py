"""Closed-loop latency of :class:`SpikeStream` with a shipped causal zoo, and its agreement with
the batch call.

For 1, 100 and 1,000 cells (simulated ΔF/F: exponential transients of Poisson spikes plus
noise, ν spread over the zoo's levels), 60 s of baseline frames are pushed first, then frames
one at a time (the closed-loop case) and in chunks of 10; per push the wall time is recorded.
The streamed rates are compared with ``infer_spikes(..., causal=True)`` on the same frames,
the stream given the batch call's ν per cell (the same ensembles, so the same numbers are
expected: the largest difference is reported); also reported: the share of cells whose
ensemble, chosen from ν of the 60 s baseline alone, is the batch call's. Reference in the same
run: the batch call's time per frame on the same data.

    python benchmarks/spike_stream.py --model cascade-30hz-excitatory-causal
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from calcium_dynamics import SpikeStream, infer_spikes
from calcium_dynamics.provenance import command_line, run_record

ROOT = Path(__file__).resolve().parents[1]


def simulated_dff(n_cells: int, n_frames: int, frame_rate_hz: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    spikes = rng.poisson(0.5 / frame_rate_hz, (n_cells, n_frames)).astype(float)
    tau = 0.4 * frame_rate_hz
    kernel = np.exp(-np.arange(int(5 * tau)) / tau)
    calcium = np.stack([np.convolve(s, kernel)[:n_frames] for s in spikes]) * 0.3
    noise = rng.uniform(0.01, 0.15, (n_cells, 1)) * rng.standard_normal((n_cells, n_frames))
    return calcium + noise


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", default="auto", help="a shipped causal model (default: auto)")
    p.add_argument("--frame-rate", type=float, default=30.0)
    p.add_argument("--cells", type=int, nargs="+", default=[1, 100, 1000])
    p.add_argument("--pushes", type=int, default=300, help="frames streamed per setting")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tag", default="causal_30hz")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "spike_stream")
    args = p.parse_args(argv)
    argv = list(sys.argv[1:] if argv is None else argv)
    torch.set_num_threads(args.threads)
    prov = run_record(
        command_line(__file__, argv), seeds=[args.seed], threads=args.threads, cwd=ROOT
    )
    fr = args.frame_rate
    base_frames = int(60 * fr)
    rows = []
    for n_cells in args.cells:
        dff = simulated_dff(n_cells, base_frames + args.pushes, fr, args.seed)
        baseline = dff[:, :base_frames]
        t0 = time.perf_counter()
        batch = infer_spikes(dff, fr, model=args.model, causal=True, events=False)
        batch_s = time.perf_counter() - t0
        result = {"cells": n_cells, "batch_ms_per_frame": 1000 * batch_s / dff.shape[1]}
        nu = batch.routing["noise_level_nu"].to_numpy(float)
        from_baseline = SpikeStream(args.model, frame_rate_hz=fr, baseline=baseline)
        # ν from the 60 s baseline picks the batch call's ensemble for most cells
        result["same_level_from_baseline"] = float(
            np.mean(from_baseline.levels == batch.routing["model_noise_level"].to_numpy(float))
        )
        for chunk in (1, 10):
            # the batch call's ν (whole trace): the same ensemble, so the same numbers
            stream = SpikeStream(args.model, frame_rate_hz=fr, noise_level_nu=nu)
            stream.push(baseline)  # the baseline frames are the stream's first frames
            stream.latency_s.clear()
            got = [
                stream.push(dff[:, k : k + chunk])
                for k in range(base_frames, base_frames + args.pushes, chunk)
            ]
            got = np.concatenate(got, axis=1)
            lat = 1000 * np.asarray(stream.latency_s)
            diff = float(np.nanmax(np.abs(got - batch.rates_hz[:, base_frames:])))
            result[f"push_{chunk}"] = {
                "median_ms": float(np.median(lat)),
                "p95_ms": float(np.percentile(lat, 95)),
                "max_abs_diff_vs_batch_hz": diff,
            }
        result["model"] = stream.name
        rows.append(result)
        print(
            f"{n_cells} cells: push of 1 frame {result['push_1']['median_ms']:.2f} ms median "
            f"(p95 {result['push_1']['p95_ms']:.2f}), of 10 frames "
            f"{result['push_10']['median_ms']:.2f} ms; batch {result['batch_ms_per_frame']:.3f} "
            f"ms/frame; |stream − batch| ≤ {result['push_1']['max_abs_diff_vs_batch_hz']:.2e} Hz",
            flush=True,
        )
    out = {
        "model": rows[0]["model"],
        "frame_rate_hz": fr,
        "protocol": "simulated ΔF/F; 60 s of baseline frames, then frames pushed one at a time and "
        "in chunks of 10; rates compared with the batch causal call on the same frames (same ν "
        "per cell)",
        "results": rows,
        "provenance": prov,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"spike_stream_{args.tag}.json"
    path.write_text(json.dumps(out, indent=2))
    print(f"→ {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
