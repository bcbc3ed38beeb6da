"""Paired per-neuron comparison of two leave-one-dataset-out runs of ``spike_lodo.py``.

    python benchmarks/spike_lodo_compare.py ens2_protocol ens2_protocol_3x
    python benchmarks/spike_lodo_compare.py ens2_protocol ens2_protocol_3x --metrics corr er vrd

Reads ``benchmarks/results/spike_lodo/spike_lodo_<TAG>.csv`` for the baseline and the candidate
tag, matches neurons by (dataset, neuron), and prints for each metric the median per-neuron
difference (candidate − baseline) with its 95 % bootstrap CI, the share of neurons and the
number of datasets where the candidate is better, and the per-dataset medians. Writes
``benchmarks/results/spike_lodo_compare/spike_lodo_compare_<CANDIDATE>_vs_<BASELINE>.json`` and,
with ``--figure``, a ``.png`` beside it: per-neuron scatter of the first metric (candidate
against baseline, one colour per dataset) and the per-dataset median paired differences.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from calcium_dynamics.metrics.paired import BETTER, pair_runs, paired_summary
from calcium_dynamics.provenance import command_line, run_record

RESULTS = Path(__file__).resolve().parent / "results"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("baseline", help="tag of the reference run")
    p.add_argument("candidate", help="tag of the run compared with it")
    p.add_argument("--metrics", nargs="+", default=["corr", "er"], choices=sorted(BETTER))
    p.add_argument(
        "--results", type=Path, default=RESULTS / "spike_lodo", help="folder of the run files"
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder of the comparison (default: results/spike_lodo_compare, or --results "
        "when that is given)",
    )
    p.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples for the CI")
    p.add_argument("--figure", action="store_true", help="also write a .png of the comparison")
    return p.parse_args(argv)


def _read(results: Path, tag: str) -> pd.DataFrame:
    path = results / f"spike_lodo_{tag}.csv"
    if not path.is_file():
        raise FileNotFoundError(f"no per-neuron table for run {tag!r}: {path} does not exist")
    return pd.read_csv(path)


def plot_comparison(pairs: pd.DataFrame, summary: dict, metric: str, names: tuple[str, str]):
    """Scatter of one metric per neuron (candidate vs baseline) and per-dataset differences."""
    base, cand = pairs[f"{metric}_baseline"], pairs[f"{metric}_candidate"]
    per_dataset = summary["metrics"][metric]["per_dataset"]
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4.8), width_ratios=(1, 1.3))
    cmap = plt.get_cmap("tab20")
    for i, (dataset, rows) in enumerate(pairs.groupby("dataset")):
        ax0.scatter(base[rows.index], cand[rows.index], s=12, color=cmap(i % 20), label=dataset)
    lims = np.nanmin([base.min(), cand.min()]), np.nanmax([base.max(), cand.max()])
    ax0.plot(lims, lims, color="0.4", lw=0.8)
    ax0.set(xlabel=f"{metric}, {names[0]}", ylabel=f"{metric}, {names[1]}", aspect="equal")
    ax0.set_title(f"{summary['metrics'][metric]['n_neurons']} neurons", fontsize=10)
    labels = list(per_dataset)
    diffs = [per_dataset[d]["median_difference"] for d in labels]
    colours = ["tab:green" if per_dataset[d]["better"] else "tab:red" for d in labels]
    ax1.barh(range(len(labels)), diffs, color=colours)
    ax1.axvline(0, color="0.3", lw=0.8)
    ax1.set_yticks(range(len(labels)), [d.split("-")[0] for d in labels], fontsize=8)
    ax1.invert_yaxis()
    s = summary["metrics"][metric]
    lo, hi = s["ci95"]
    ax1.set_xlabel(f"median paired difference in {metric} (green: candidate better)")
    ax1.set_title(f"all: {s['median_difference']:+.4f} [{lo:+.4f}, {hi:+.4f}]", fontsize=10)
    fig.suptitle(f"{names[1]} vs {names[0]}")
    fig.tight_layout()
    return fig


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        baseline = _read(args.results, args.baseline)
        candidate = _read(args.results, args.candidate)
        summary = paired_summary(baseline, candidate, args.metrics, n_boot=args.n_boot)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(
        f"{args.candidate} vs {args.baseline}: {summary['n_neurons']} neurons in both runs "
        f"({summary['only_in_baseline']} only in the baseline, "
        f"{summary['only_in_candidate']} only in the candidate)"
    )
    for metric, s in summary["metrics"].items():
        lo, hi = s["ci95"]
        h_lo, h_hi = s["ci95_hierarchical"]
        n_sets = len(s["per_dataset"])
        print(
            f"  {metric}: median {s['median_baseline']:.3f} -> {s['median_candidate']:.3f}; "
            f"paired difference {s['median_difference']:+.4f} [{lo:+.4f}, {hi:+.4f}] "
            f"(datasets then neurons: [{h_lo:+.4f}, {h_hi:+.4f}]); "
            f"better for {100 * s['fraction_better']:.0f} % of neurons, "
            f"{s['datasets_better']} of {n_sets} datasets"
        )
        for dataset, d in s["per_dataset"].items():
            print(f"      {dataset:40s} {d['median_difference']:+.4f}  ({d['n_neurons']} neurons)")
    summary.update({"baseline": args.baseline, "candidate": args.candidate})
    summary["provenance"] = run_record(command_line(__file__, argv), seeds=[0])
    folder = args.out or (
        RESULTS / "spike_lodo_compare" if args.results == RESULTS / "spike_lodo" else args.results
    )
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"spike_lodo_compare_{args.candidate}_vs_{args.baseline}.json"
    out.write_text(json.dumps(summary, indent=2))
    print(f"wrote {out}")
    if args.figure:
        pairs = pair_runs(baseline, candidate, args.metrics).reset_index(drop=True)
        fig = plot_comparison(pairs, summary, args.metrics[0], (args.baseline, args.candidate))
        fig.savefig(out.with_suffix(".png"), dpi=120)
        plt.close(fig)
        print(f"wrote {out.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
