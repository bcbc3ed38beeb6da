"""The shipped spike models as a lab meets them: routing, warnings and accuracy on simulated
Suite2p recordings at the zoos' rates and at a rate no zoo has, and the time per call.

    python benchmarks/day_one_models.py   # writes benchmarks/results/day_one_models/*.json

For each frame rate (default 7.5, 9.8, 15, 30 Hz) a simulated Suite2p plane (known spikes,
double-exponential GCaMP-like transients, neuropil; ``simulate/suite2p_example``) is read back,
turned into ΔF/F with the pipeline's defaults and sent through ``infer_spikes(model="auto")``.
Reported per rate: the model each cell was routed to, the noise levels used, the warnings, the
median correlation of the inferred rate with the true spike train smoothed by the model's σ (at
the recording's rate), the inferred / true spike-count ratio, and the wall time of the call.
The simulation is not the ground-truth database: these numbers check the day-one path end to
end; accuracy on real data is the leave-one-dataset-out benchmark's (model cards).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from calcium_dynamics import infer_spikes
from calcium_dynamics.config import project_parameters
from calcium_dynamics.io.recordings import Suite2pDataset
from calcium_dynamics.metrics.spikes import correlation
from calcium_dynamics.provenance import git_commit
from calcium_dynamics.recordings import compute_recording_dff
from calcium_dynamics.signal import rebin_spike_times, smooth_spike_counts
from calcium_dynamics.simulate.suite2p_example import simulate_plane, write_suite2p_plane

ROOT = Path(__file__).resolve().parents[1]


def run_rate(rate: float, args, dff_params: dict) -> dict:
    n_frames = int(round(args.minutes * 60 * rate))
    plane = simulate_plane(
        n_rois=args.cells, n_frames=n_frames, frame_rate_hz=rate, n_noncells=0, seed=args.seed
    )
    with tempfile.TemporaryDirectory() as tmp:
        write_suite2p_plane(Path(tmp) / "plane0", plane)
        recording = Suite2pDataset(tmp).load()
    dff, _ = compute_recording_dff(recording, dff_params)
    traces = np.stack(dff["dff"].to_list())
    start = time.perf_counter()
    result = infer_spikes(traces, rate, seed=args.seed)
    seconds = time.perf_counter() - start
    sigma = float(result.routing["sigma_s"].iloc[0])
    corrs, ratios = [], []
    for i, cell in enumerate(dff["cell"]):
        spikes = plane.spike_times_s[int(cell)]
        counts = rebin_spike_times(spikes, n_frames, rate, 0.0)
        truth = smooth_spike_counts(counts, rate, sigma) * rate
        corrs.append(correlation(truth, result.rates_hz[i]))
        ratios.append(len(result.events_s[i]) / max(len(spikes), 1))
    r = result.routing
    return {
        "frame_rate_hz": rate,
        "n_cells": len(r),
        "n_frames": n_frames,
        "models": dict(Counter(r["model"])),
        "noise_level_nu_median": round(float(np.nanmedian(r["noise_level_nu"])), 3),
        "model_noise_levels": dict(Counter(f"{v:g}" for v in r["model_noise_level"])),
        "warnings": dict(Counter(w for ws in r["warnings"] for w in ws.split(";") if w)),
        "median_corr": round(float(np.nanmedian(corrs)), 3),
        "median_event_count_ratio": round(float(np.median(ratios)), 3),
        "seconds": round(seconds, 2),
        "neurons_per_s": round(len(r) / seconds, 1),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rates", type=float, nargs="+", default=[7.5, 9.8, 15.0, 30.0])
    p.add_argument("--cells", type=int, default=20)
    p.add_argument("--minutes", type=float, default=5.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks/results/day_one_models/day_one_models.json"
    )
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    params = project_parameters()
    dff_params = params["recordings"]["dff"]
    rows = []
    for rate in args.rates:
        row = run_rate(rate, args, dff_params)
        print(json.dumps(row), flush=True)
        rows.append(row)
    out = {
        "command": " ".join(["python", "benchmarks/day_one_models.py", *(argv or sys.argv[1:])]),
        "git_commit": git_commit(ROOT),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "seed": args.seed,
        "threads": args.threads,
        "machine": platform.processor() or platform.machine(),
        "settings": {"cells": args.cells, "minutes": args.minutes},
        "results": rows,
    }
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
