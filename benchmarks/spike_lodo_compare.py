"""Paired per-neuron comparison of two leave-one-dataset-out runs of ``spike_lodo.py``.

    python benchmarks/spike_lodo_compare.py ens2_protocol ens2_protocol_3x
    python benchmarks/spike_lodo_compare.py ens2_protocol ens2_protocol_3x --metrics corr er vrd

Reads ``benchmarks/results/spike_lodo_<TAG>.csv`` for the baseline and the candidate tag,
matches neurons by (dataset, neuron), and prints for each metric the median per-neuron
difference (candidate − baseline) with its 95 % bootstrap CI, the share of neurons and the
number of datasets where the candidate is better, and the per-dataset medians. Writes
``benchmarks/results/spike_lodo_compare_<CANDIDATE>_vs_<BASELINE>.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from calcium_dynamics.metrics.paired import BETTER, paired_summary

RESULTS = Path(__file__).resolve().parent / "results"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("baseline", help="tag of the reference run")
    p.add_argument("candidate", help="tag of the run compared with it")
    p.add_argument("--metrics", nargs="+", default=["corr", "er"], choices=sorted(BETTER))
    p.add_argument("--results", type=Path, default=RESULTS, help="folder of the run files")
    p.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples for the CI")
    return p.parse_args(argv)


def _read(results: Path, tag: str) -> pd.DataFrame:
    path = results / f"spike_lodo_{tag}.csv"
    if not path.is_file():
        raise FileNotFoundError(f"no per-neuron table for run {tag!r}: {path} does not exist")
    return pd.read_csv(path)


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
        n_sets = len(s["per_dataset"])
        print(
            f"  {metric}: median {s['median_baseline']:.3f} -> {s['median_candidate']:.3f}; "
            f"paired difference {s['median_difference']:+.4f} [{lo:+.4f}, {hi:+.4f}]; "
            f"better for {100 * s['fraction_better']:.0f} % of neurons, "
            f"{s['datasets_better']} of {n_sets} datasets"
        )
        for dataset, d in s["per_dataset"].items():
            print(f"      {dataset:40s} {d['median_difference']:+.4f}  ({d['n_neurons']} neurons)")
    summary.update({"baseline": args.baseline, "candidate": args.candidate})
    out = args.results / f"spike_lodo_compare_{args.candidate}_vs_{args.baseline}.json"
    out.write_text(json.dumps(summary, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
