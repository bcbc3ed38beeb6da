"""A simulated Suite2p recording end to end: ΔF/F accuracy, ΔF/F speed, ENS² rates and events.

    OMP_NUM_THREADS=1 python benchmarks/recordings_day_one.py          # shipped ENS² model
    OMP_NUM_THREADS=1 python benchmarks/recordings_day_one.py --skip-spikes

1. ΔF/F: simulated planes (known baseline and transients, ``simulate/suite2p_example``) are
   written as a Suite2p folder, read back with ``Suite2pDataset`` and turned into ΔF/F with the
   pipeline's default parameters; reports the median |ΔF/F error| and its s.d. against truth.
2. Speed: ΔF/F of a large recording (``--cells`` × ``--minutes`` at 30 Hz).
3. Spikes: ENS² rates and events of the simulated cells against their true spikes (median
   correlation of rates at the recording's frame rate, spike-count ratio, event error rate ER).
Writes ``benchmarks/results/recordings_day_one/recordings_day_one.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from calcium_dynamics.config import project_parameters
from calcium_dynamics.io.recordings import Suite2pDataset
from calcium_dynamics.metrics.spikes import correlation, error_rate
from calcium_dynamics.models.spike_models import SpikeModel
from calcium_dynamics.models.spikes.api import model_set
from calcium_dynamics.provenance import command_line, run_record
from calcium_dynamics.recordings import compute_recording_dff, infer_recording_spikes
from calcium_dynamics.signal import smooth_spike_counts
from calcium_dynamics.signal.dff import delta_f_over_f
from calcium_dynamics.simulate.suite2p_example import write_example_suite2p

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ens2", default="data/06_models/shipped/ens2-60hz-excitatory.pt")
    ap.add_argument("--skip-spikes", action="store_true", help="only the ΔF/F parts (1, 2)")
    ap.add_argument("--planes", type=int, default=4)
    ap.add_argument("--rois", type=int, default=20)
    ap.add_argument("--frames", type=int, default=9000, help="frames at 30 Hz per plane")
    ap.add_argument("--cells", type=int, default=500, help="cells for the speed test")
    ap.add_argument("--minutes", type=float, default=10.0, help="minutes for the speed test")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    prov = run_record(
        command_line(__file__, sys.argv[1:] if argv is None else argv),
        seeds=[args.seed],
        threads=1,
        cwd=ROOT,
    )
    rate = 30.0
    params = project_parameters()
    params = params["recordings"]

    with tempfile.TemporaryDirectory() as tmp:
        planes = write_example_suite2p(
            tmp,
            n_planes=args.planes,
            seed=args.seed,
            n_rois=args.rois,
            n_noncells=2,
            n_frames=args.frames,
            frame_rate_hz=rate,
        )
        table = Suite2pDataset(tmp).load()
    dff_table, qc = compute_recording_dff(table, params["dff"])
    errs, sds, truths = [], [], []
    for row in dff_table.itertuples():
        plane = planes[row.plane]
        err = np.asarray(row.dff, float) - plane.dff[row.cell]
        errs.append(np.median(np.abs(err)))
        sds.append(np.std(err))
        truths.append(plane.spike_times_s[row.cell])
    result = {
        "n_cells": len(dff_table),
        "frames": args.frames,
        "frame_rate_hz": rate,
        "dff_median_abs_error": float(np.median(errs)),
        "dff_error_sd_median": float(np.median(sds)),
        "median_nu": float(qc["noise_level_nu"].median()),
    }

    rng = np.random.default_rng(args.seed)
    n_big = int(args.minutes * 60 * rate)
    f = rng.uniform(150, 300, (args.cells, 1))
    f = f * (1 + 0.03 * rng.standard_normal((args.cells, n_big)))
    fneu = 80 + 5 * rng.standard_normal((args.cells, n_big))
    t = time.perf_counter()
    delta_f_over_f(
        f + 0.7 * fneu,
        fneu,
        rate,
        window_s=params["dff"]["baseline_window_s"],
        percentile=params["dff"]["baseline_percentile"],
        smooth_s=params["dff"]["baseline_smooth_s"],
    )
    result["dff_speed"] = {
        "cells": args.cells,
        "minutes": args.minutes,
        "seconds": round(time.perf_counter() - t, 2),
    }
    result["provenance"] = prov
    out = ROOT / "benchmarks/results/recordings_day_one/recordings_day_one.json"
    if args.skip_spikes:
        out.write_text(json.dumps(result, indent=2))
        json.dump(result, sys.stdout, indent=2)
        return result

    model = SpikeModel.load(args.ens2)
    t = time.perf_counter()
    spikes = infer_recording_spikes(model_set(model), dff_table, params["inference"])
    result["ens2_seconds"] = round(time.perf_counter() - t, 2)
    corrs, ratios, ers = [], [], []
    sigma = float(model.config["sigma_s"])
    for row, true_s in zip(spikes.itertuples(), truths):
        counts = np.bincount((true_s * rate).astype(int), minlength=args.frames)[: args.frames]
        gt = smooth_spike_counts(counts.astype(float), rate, sigma)
        corrs.append(correlation(gt, np.asarray(row.rate_hz) / rate))
        ratios.append(len(row.spike_times_s) / max(len(true_s), 1))
        ers.append(error_rate(true_s, np.asarray(row.spike_times_s)))
    result["ens2"] = {
        "model": str(args.ens2),
        "median_corr": float(np.median(corrs)),
        "median_spike_count_ratio": float(np.median(ratios)),
        "median_er": float(np.median(ers)),
    }
    out.write_text(json.dumps(result, indent=2))
    json.dump(result, sys.stdout, indent=2)
    return result


if __name__ == "__main__":
    main()
