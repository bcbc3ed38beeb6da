"""Throughput and peak memory of the recordings pipeline's per-recording path at scale.

A synthetic Suite2p plane (default: 1,000 cells × 30 min at 30 Hz = 54,000 frames, written in
chunks straight to ``F.npy`` / ``Fneu.npy`` memory maps) goes through exactly what one
recording's partition goes through in ``kedro run --pipeline recordings``:

    Suite2pDataset.load → ΔF/F + QC (neuron batches) → Parquet round trip
    → spike inference (neuron batches) → Parquet

in a fresh child process, whose peak resident memory (``ru_maxrss``) is the number reported
(the generator's memory is not counted). Rates are also compared with the simulation's true
spikes for the first ``--check`` cells (Pearson correlation at the model's kernel width).

Spike events are the slow part for CASCADE (sampling with refinement: ~10 s per 30-min
trace on one core), so by default the full recording is run for rates, and rates + events
are timed on the first ``--event-neurons`` cells and extrapolated (labelled as such);
``--events`` infers events for every neuron.

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 python benchmarks/recordings_scale.py \
        --model data/06_models/cascade_zoo.pt
    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 python benchmarks/recordings_scale.py \
        --model data/06_models/ens2.pt --stride 16

``--neurons 200`` measures a fraction; the JSON then says so and gives the extrapolation to
the full size, labelled as such. Results are merged into
``benchmarks/results/recordings_scale/recordings_scale.json`` under a key naming the model and
stride.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import platform
import queue as queue_module
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
from calcium_dynamics.config import project_parameters
from calcium_dynamics.provenance import command_line, run_record

CHUNK = 50  # neurons simulated at a time


def generate(folder: Path, n_neurons: int, minutes: float, rate: float, seed: int) -> list:
    """Write a Suite2p plane folder; return the true spike times of the first chunk."""
    from calcium_dynamics.simulate.suite2p_example import simulate_plane

    folder.mkdir(parents=True, exist_ok=True)
    n_frames = int(round(minutes * 60 * rate))
    f = np.lib.format.open_memmap(folder / "F.npy", "w+", np.float32, (n_neurons, n_frames))
    fneu = np.lib.format.open_memmap(folder / "Fneu.npy", "w+", np.float32, (n_neurons, n_frames))
    iscell = np.empty((n_neurons, 2))
    truth = []
    for start in range(0, n_neurons, CHUNK):
        n = min(CHUNK, n_neurons - start)
        plane = simulate_plane(
            n_rois=n, n_noncells=0, n_frames=n_frames, frame_rate_hz=rate, seed=seed + start
        )
        f[start : start + n] = plane.F
        fneu[start : start + n] = plane.Fneu
        iscell[start : start + n] = plane.iscell
        if start == 0:
            truth = plane.spike_times_s
    f.flush()
    fneu.flush()
    del f, fneu
    np.save(folder / "iscell.npy", iscell)
    np.save(folder / "ops.npy", {"fs": float(rate), "nplanes": 1}, allow_pickle=True)
    return truth


def measure(folder: str, model_path: str, params: dict, queue) -> None:
    """The measured part (runs in a child process)."""
    import pandas as pd
    import torch

    from calcium_dynamics.io.recordings import Suite2pDataset
    from calcium_dynamics.models.spike_models import SpikeModel
    from calcium_dynamics.models.spikes.api import model_set
    from calcium_dynamics.recordings import (
        infer_recording_spikes,
        recording_dff_table,
    )

    torch.set_num_threads(1)
    times = {}
    t = time.perf_counter()
    table = Suite2pDataset(folder).load()
    times["load_s"] = time.perf_counter() - t
    t = time.perf_counter()
    dff = recording_dff_table(table, params["dff"])
    times["dff_s"] = time.perf_counter() - t
    del table
    t = time.perf_counter()
    path = Path(folder) / "dff.parquet"
    dff.to_parquet(path)
    del dff
    dff = pd.read_parquet(path)
    times["dff_parquet_s"] = time.perf_counter() - t
    model = SpikeModel.load(model_path)
    models = model_set(model)
    t = time.perf_counter()
    spikes = infer_recording_spikes(models, dff, params["inference"], key="benchmark")
    times["inference_s"] = time.perf_counter() - t
    stages = spikes.attrs.get("timing_s", {})
    times["inference_rates_s"] = stages.get("rates")
    times["inference_events_s"] = stages.get("events")
    t = time.perf_counter()
    spikes.to_parquet(Path(folder) / "spikes.parquet")
    times["spikes_parquet_s"] = time.perf_counter() - t
    n_ev = int(params["event_neurons"])
    if n_ev and not params["inference"]["events"]:
        # events (CASCADE: sampled, ENS²: greedy) on the first cells: rates + events again
        t = time.perf_counter()
        with_events = infer_recording_spikes(
            models, dff.iloc[:n_ev], {**params["inference"], "events": True}, key="benchmark"
        )
        times["rates_and_events_first_cells_s"] = time.perf_counter() - t
        spikes.loc[: n_ev - 1, "spike_times_s"] = with_events["spike_times_s"].to_numpy()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    queue.put(
        {
            "times": times,
            "peak_rss_gib": peak_kib / 2**20,
            "rates": [np.asarray(r) for r in spikes["rate_hz"].iloc[:CHUNK]],
            "events": [np.asarray(e) for e in spikes["spike_times_s"].iloc[:CHUNK]],
            "median_nu": float(np.median(spikes["noise_level_nu"])),
            "zoo_levels": spikes["model_noise_level"].value_counts(dropna=False).to_dict(),
            "model_kind": model.kind,
            "sigma_s": float(model.config["sigma_s"]),
        }
    )


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="data/06_models/cascade_zoo.pt")
    parser.add_argument("--neurons", type=int, default=1000, help="neurons measured")
    parser.add_argument("--full-neurons", type=int, default=1000, help="size extrapolated to")
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=30.0, help="frame rate (Hz)")
    parser.add_argument("--stride", type=int, default=1, help="ENS² window stride")
    parser.add_argument("--check", type=int, default=CHUNK, help="cells checked against truth")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--events", action="store_true", help="infer events for every neuron (slow for CASCADE)"
    )
    parser.add_argument(
        "--event-neurons", type=int, default=20, help="without --events: time events on these"
    )
    args = parser.parse_args(argv)

    from calcium_dynamics.metrics.spikes import correlation
    from calcium_dynamics.signal import smooth_spike_counts

    params = project_parameters()
    params = params["recordings"]
    params["inference"]["stride"] = args.stride
    params["inference"]["events"] = bool(args.events)
    params["event_neurons"] = 0 if args.events else min(args.event_neurons, args.neurons)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "plane0"
        t = time.perf_counter()
        truth = generate(folder, args.neurons, args.minutes, args.rate, args.seed)
        gen_s = time.perf_counter() - t
        ctx = mp.get_context("spawn")
        queue = ctx.Queue()
        proc = ctx.Process(
            target=measure, args=(str(folder), str(ROOT / args.model), params, queue)
        )
        t = time.perf_counter()
        proc.start()
        while True:  # a child that dies puts nothing: do not wait for it forever
            try:
                out = queue.get(timeout=5)
                break
            except queue_module.Empty:
                if not proc.is_alive():
                    raise SystemExit(f"measurement failed with exit code {proc.exitcode}") from None
        proc.join()
        wall = time.perf_counter() - t
        if proc.exitcode:
            raise SystemExit(f"measurement failed with exit code {proc.exitcode}")
    n_frames = int(round(args.minutes * 60 * args.rate))
    sigma = out["sigma_s"]
    corrs, ratios = [], []
    n_ev = params["event_neurons"] or args.neurons
    for i, (rate_hz, spikes) in enumerate(list(zip(out["rates"], truth))[: args.check]):
        counts = np.bincount((np.asarray(spikes) * args.rate).astype(int), minlength=n_frames)
        gt = smooth_spike_counts(counts[:n_frames].astype(float), args.rate, sigma)
        corrs.append(correlation(gt, rate_hz / args.rate))
        if i < n_ev:
            ratios.append(len(out["events"][i]) / max(len(spikes), 1))
    times = {k: (None if v is None else round(v, 2)) for k, v in out["times"].items()}
    work = times["dff_s"] + times["inference_s"]
    result = {
        "provenance": run_record(
            command_line(__file__, argv), seeds=[args.seed], threads=1, cwd=ROOT
        ),
        "model": args.model,
        "model_kind": out["model_kind"],
        "stride": args.stride,
        "neurons": args.neurons,
        "minutes": args.minutes,
        "frame_rate_hz": args.rate,
        "frames": n_frames,
        "events_per_recording": "all cells at once (lockstep sampler)",
        "dff_batch_size": params["dff"]["batch_size"],
        "threads": 1,
        "machine": f"{platform.processor() or platform.machine()}, 1 thread, shared 2-core VM",
        "generate_s": round(gen_s, 1),
        "seconds": times,
        "child_wall_s": round(wall, 1),
        "neurons_per_s_dff_plus_inference": round(args.neurons / work, 2),
        "neurons_per_s_inference": round(args.neurons / times["inference_s"], 2),
        "neurons_per_s_dff": round(args.neurons / times["dff_s"], 2),
        "peak_rss_gib": round(out["peak_rss_gib"], 3),
        "median_nu": round(out["median_nu"], 3),
        "zoo_levels_used": {str(k): int(v) for k, v in out["zoo_levels"].items()},
        "median_rate_correlation_first_cells": round(float(np.nanmedian(corrs)), 3),
        "median_events_per_true_spike_first_cells": round(float(np.median(ratios)), 3),
        "cells_checked": len(corrs),
        "events": "every neuron" if args.events else f"timed on the first {n_ev} neurons",
    }
    if "rates_and_events_first_cells_s" in times:
        per = times["rates_and_events_first_cells_s"] / n_ev
        result["rates_and_events_s_per_neuron"] = round(per, 3)
        result["rates_and_events_extrapolated"] = {
            "note": (
                f"rates + events timed on {n_ev} neurons, scaled linearly to "
                f"{args.full_neurons} (extrapolation, not measured)"
            ),
            "seconds": round(
                per * args.full_neurons + times["dff_s"] * args.full_neurons / args.neurons, 1
            ),
            "neurons_per_s": round(1.0 / (per + times["dff_s"] / args.neurons), 3),
        }
    if args.neurons != args.full_neurons:
        factor = args.full_neurons / args.neurons
        result["extrapolated_to_full_size"] = {
            "note": f"measured {args.neurons} neurons; times scaled linearly × {factor:g}",
            "neurons": args.full_neurons,
            "dff_plus_inference_s": round(work * factor, 1),
        }
    label = f"{out['model_kind']}_stride{args.stride}_{args.neurons}neurons"
    label += "_events" if args.events else ""
    path = ROOT / "benchmarks/results/recordings_scale/recordings_scale.json"
    stored = json.loads(path.read_text()) if path.exists() else {}
    stored[label] = result
    path.write_text(json.dumps(stored, indent=2) + "\n")
    json.dump(result, sys.stdout, indent=2)
    print()
    return result


if __name__ == "__main__":
    main()
