"""Single-spike response of every indicator in the ground-truth database.

For each dataset, the ΔF/F around isolated spikes (no other spike 3 s before, 2 s after) is
averaged per neuron (frames placed at their exact lag from the spike, 10 ms lag bins), the
neuron averages are averaged, and a rise/decay kernel is fitted
(:mod:`calcium_dynamics.signal.kinetics`). Reported per dataset: peak ΔF/F, τ_on, τ_off,
time to peak, and the two roots of the kernel's AR(2) process at ``--bin-hz`` (the rise root
e^(−Δ/τ_on) says how much of the rise an AR(1) model misses at that frame rate). Results go to
``benchmarks/results/indicator_kinetics/indicator_kinetics.json``, the figure to
``indicator_kinetics.png`` beside it.

    python benchmarks/indicator_kinetics.py --ground-truth ../shared/ground_truth
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np
from tqdm import tqdm

from calcium_dynamics.io.dataset_names import parse_dataset_name
from calcium_dynamics.io.ground_truth import GroundTruthError, read_ground_truth_file
from calcium_dynamics.provenance import command_line, run_record
from calcium_dynamics.signal.kinetics import (
    SpikeKernel,
    default_lags,
    fit_spike_kernel,
    isolated_spike_average,
)

RESULTS = Path(__file__).resolve().parent / "results/indicator_kinetics/indicator_kinetics.json"
MIN_SPIKES_PER_NEURON = 3


def neuron_response(path: Path, lags: np.ndarray) -> tuple[np.ndarray, int, list[float]]:
    """Spike-count-weighted mean response over a neuron's recordings, its spike count and
    the frame rates of the recordings that contributed."""
    sums, weights, n_total, rates = np.zeros(lags.size), np.zeros(lags.size), 0, []
    for rec in read_ground_truth_file(path):
        if rec.issue or rec.spike_times_s is None or rec.spike_times_s.size == 0:
            continue
        response, n = isolated_spike_average(
            rec.dff, rec.frame_rate_hz, rec.spike_times_s, t0_s=rec.t0_s, lags_s=lags
        )
        if n == 0:
            continue
        finite = np.isfinite(response)
        sums[finite] += n * response[finite]
        weights[finite] += n
        n_total += n
        rates.append(rec.frame_rate_hz)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(weights > 0, sums / weights, np.nan), n_total, rates


def dataset_kinetics(folder: Path, lags: np.ndarray, bin_s: float) -> dict:
    """Mean isolated-spike response of one dataset and its fitted kernel."""
    responses, n_spikes, rates = [], 0, []
    for path in sorted(folder.glob("*.mat")):
        try:
            response, n, neuron_rates = neuron_response(path, lags)
        except GroundTruthError as exc:
            print(f"  skipped {exc}", file=sys.stderr)
            continue
        if n >= MIN_SPIKES_PER_NEURON:
            responses.append(response)
            n_spikes += n
            rates.extend(neuron_rates)
    info = parse_dataset_name(folder.name)
    entry = {
        "indicator": info.indicator,
        "species": info.species,
        "cell_type": info.cell_type,
        "frame_rate_hz": float(np.median(rates)) if rates else None,
        "n_neurons": len(responses),
        "n_isolated_spikes": n_spikes,
    }
    if not responses:
        return entry | {"error": "no neuron with enough isolated spikes"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # lag bins no neuron reached stay NaN
        mean = np.nanmean(np.array(responses), axis=0)
    try:
        kernel = fit_spike_kernel(lags, mean)
    except (ValueError, RuntimeError) as exc:
        return entry | {"error": f"kernel fit failed: {exc}", "response": _listed(mean)}
    rise_root = float(np.exp(-bin_s / kernel.tau_on_s))
    decay_root = float(np.exp(-bin_s / kernel.tau_off_s))
    return entry | {
        "peak_dff": kernel.peak,
        "tau_on_s": kernel.tau_on_s,
        "tau_off_s": kernel.tau_off_s,
        "time_to_peak_s": kernel.time_to_peak_s,
        "onset_s": kernel.onset_s,
        "fit_rmse": kernel.rmse,
        "rise_root": rise_root,
        "decay_root": decay_root,
        "ar2_coefs": [decay_root + rise_root, -decay_root * rise_root],
        "response": _listed(mean),
    }


def _listed(values: np.ndarray) -> list[float | None]:
    return [None if not np.isfinite(v) else round(float(v), 6) for v in values]


def plot(results: dict, lags: np.ndarray, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n, e in results["datasets"].items() if "response" in e]
    cols = 4
    rows = int(np.ceil(len(names) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.3 * rows), squeeze=False)
    for ax, name in zip(axes.ravel(), names, strict=False):
        e = results["datasets"][name]
        y = np.array([np.nan if v is None else v for v in e["response"]])
        ax.plot(lags, y, color="0.5", lw=1)
        if "tau_on_s" in e:
            kernel = SpikeKernel(
                e["peak_dff"], e["onset_s"], e["tau_on_s"], e["tau_off_s"], e["time_to_peak_s"], 0
            )
            fit = kernel.response(lags)
            ax.plot(lags, fit, color="C3", lw=1.2)
            label = f"τon {1e3 * e['tau_on_s']:.0f} ms, τoff {1e3 * e['tau_off_s']:.0f} ms"
            ax.text(0.98, 0.95, label, transform=ax.transAxes, ha="right", va="top", fontsize=7)
        ax.set_title(name, fontsize=7)
        ax.axvline(0, color="0.8", lw=0.8)
    for ax in axes.ravel()[len(names) :]:
        ax.axis("off")
    fig.supxlabel("time from isolated spike (s)")
    fig.supylabel("ΔF/F")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--ground-truth", type=Path, required=True, help="database folder")
    p.add_argument("--bin-hz", type=float, default=30.0, help="frame rate for the AR(2) roots (Hz)")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    folders = sorted(d for d in args.ground_truth.glob("DS*") if d.is_dir())
    if not folders:
        p.error(f"no DS* dataset folders in {args.ground_truth}")
    lags = default_lags()
    results = {
        "provenance": run_record(command_line(__file__, argv), seeds=[], threads=1),
        "bin_hz": args.bin_hz,
        "lags_s": lags.tolist(),
        "datasets": {},
    }
    for folder in tqdm(folders, desc="datasets"):
        results["datasets"][folder.name] = dataset_kinetics(folder, lags, 1.0 / args.bin_hz)
    print(
        f"{'dataset':40s} {'Hz':>6s} {'n':>3s} {'peak':>6s} {'τon ms':>7s} {'τoff ms':>8s} "
        f"{'t_peak ms':>9s} {'rise root':>9s}"
    )
    for name, e in results["datasets"].items():
        if "tau_on_s" not in e:
            print(f"{name:40s} {e.get('error')}")
            continue
        print(
            f"{name:40s} {e['frame_rate_hz']:6.1f} {e['n_neurons']:3d} {e['peak_dff']:6.3f} "
            f"{1e3 * e['tau_on_s']:7.0f} {1e3 * e['tau_off_s']:8.0f} "
            f"{1e3 * e['time_to_peak_s']:9.0f} {e['rise_root']:9.2f}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1, ensure_ascii=False))
    plot(results, lags, args.out.with_suffix(".png"))
    print(f"→ {args.out}")


if __name__ == "__main__":
    main()
