"""Inference speed of the spike models on this machine's CPU, and the accuracy cost of strides.

    python benchmarks/spike_speed.py --ens2 data/06_models/ens2.pt \
        --cascade data/06_models/cascade_zoo.pt \
        --ground-truth data/01_raw/ground_truth

Measures samples per second (frames of the model's rate per wall-clock second, resampling
included) for ENS² at window stride 1 and at the strides given, in each arithmetic precision
(fp32, bf16), and for the CASCADE zoo; then, with ground truth, the median correlation of each
ENS² stride and precision against the true rates on the datasets the model did not train on
(for a model trained on the whole database, ``spike_lodo.py --stride`` measures it per held-out
dataset instead). Writes ``benchmarks/results/spike_speed/spike_speed.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from calcium_dynamics.io import GroundTruthDataset
from calcium_dynamics.metrics.spikes import correlation
from calcium_dynamics.models.spike_inference import bf16_supported, infer_rates
from calcium_dynamics.models.spike_models import SpikeModel
from calcium_dynamics.signal import rebin_spike_times, resample_trace, smooth_spike_counts


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


def stride_accuracy(
    model: SpikeModel, ground_truth: Path, strides: list[int], precision: str = "fp32"
) -> dict:
    """Median Corr for each stride at one precision, over the excitatory recordings of the
    datasets the model was not trained on (its metadata's ``datasets``): accuracy on data the
    model never saw. Refuses when the model does not say what it trained on, or when every
    dataset of the folder was used."""
    trained = set(model.metadata.get("datasets") or [])
    if not trained:
        raise SystemExit(
            "the ENS² model does not record its training datasets (metadata 'datasets'): "
            "stride accuracy needs held-out data; use a model trained by zoo_training"
        )
    recs = GroundTruthDataset(str(ground_truth)).load()
    recs = recs[recs.valid & ~recs.inhibitory & ~recs.dataset.isin(trained)]
    if recs.empty:
        raise SystemExit(
            f"every excitatory dataset of {ground_truth} trained this model: for stride "
            "accuracy on held-out datasets run benchmarks/spike_lodo.py --model ens2 --stride S"
        )
    out = {s: [] for s in strides}
    for row in recs.itertuples():
        x, fr = resample_trace(row.dff, row.frame_rate_hz, model.frame_rate_hz)
        counts = rebin_spike_times(row.spike_times_s, x.size, fr, row.t0_s)
        gt = smooth_spike_counts(counts, fr, model.config["sigma_s"])
        for s in strides:
            pred = infer_rates(
                model, row.dff, row.frame_rate_hz, stride=s, precision=precision
            ).model_rate
            out[s].append(correlation(gt, pred))
    return {str(s): float(np.nanmedian(v)) for s, v in out.items()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--ens2", type=Path, required=True)
    p.add_argument("--cascade", type=Path, default=None)
    p.add_argument("--ground-truth", type=Path, default=None)
    p.add_argument("--strides", type=int, nargs="+", default=[1, 4, 8])
    p.add_argument(
        "--precisions",
        nargs="+",
        default=["fp32", "bf16"],
        choices=["fp32", "bf16"],
        help="ENS² arithmetic to time (bf16 needs a CPU with native bfloat16 to be fast)",
    )
    p.add_argument("--minutes", type=float, default=5.0, help="length of the timed trace")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results/spike_speed/spike_speed.json"
    )
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    rate = 30.0
    trace = rng.normal(0, 0.05, int(args.minutes * 60 * rate)).astype(np.float32)
    result = {
        "torch_threads": torch.get_num_threads(),
        "trace_minutes": args.minutes,
        "input_rate_hz": rate,
        "cpu_native_bf16": bf16_supported(),
        "ens2_samples_per_s": {},
    }
    ens2 = SpikeModel.load(args.ens2)
    for precision in args.precisions:
        result["ens2_samples_per_s"][precision] = {}
        for s in args.strides:
            sps = throughput(ens2, trace, rate, s, precision)
            result["ens2_samples_per_s"][precision][str(s)] = round(sps)
            print(f"ENS² {precision} stride {s}: {sps:,.0f} samples/s", flush=True)
    if args.cascade:
        zoo = SpikeModel.load(args.cascade)
        sps = throughput(zoo, trace, rate, 1)
        result["cascade_samples_per_s"] = round(sps)
        print(f"CASCADE zoo: {sps:,.0f} samples/s", flush=True)
    if args.ground_truth:
        result["ens2_median_corr_by_stride"] = {}
        for precision in args.precisions:
            acc = stride_accuracy(ens2, args.ground_truth, args.strides, precision)
            result["ens2_median_corr_by_stride"][precision] = acc
            print(
                f"ENS² {precision} median Corr by stride: "
                + ", ".join(f"{k}: {v:.4f}" for k, v in acc.items()),
                flush=True,
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
