"""Calibrated rate intervals and causal lag, from leave-one-dataset-out member predictions.

Input: folders written by ``spike_lodo.py --model cascade --save-members DIR`` (one
``FOLD.npz`` per held-out dataset: every member's rate and the true smoothed rate of every
test recording, at one test noise level). For each folder (noise level):

* **nested LODO coverage**: per dataset, the conformal table is fitted on the other datasets'
  held-out predictions only and applied to this one; empirical coverage of the true rate the
  model estimates (causal zoos: the causal-kernel rate; the others: the Gaussian one) and
  mean width (Hz) at 50 / 80 / 90 / 95 % (the reliability diagram, ``…_reliability.png``);
* **lag**: per neuron, the shift (frames, −30 … 30; positive: the rate comes late) of the
  ensemble rate that maximises its Pearson correlation with the (non-causal) target; median
  Corr at shift 0 and at the best shift, also
  for the first ``--subset`` members (to compare ensembles of equal size);
* **per-dataset floor**: the smallest nominal level (0.90 … 0.99) at which every held-out
  dataset's coverage reaches 0.8 (nested as above), with the mean coverage and width it costs —
  what a guarantee for the worst dataset would take from every other one.

With ``--write-calibration`` the tables fitted on *all* datasets (the model's calibration) are
written to ``data/06_models/shipped/MODEL.calibration.json`` with this run's provenance.

    python benchmarks/spike_intervals.py --runs benchmarks/cache/intervals/cascade_30hz_m5_nu2 \\
        benchmarks/cache/intervals/cascade_30hz_m5_nu5 --model cascade-30hz-excitatory \\
        --tag cascade_30hz --write-calibration
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from calcium_dynamics.models.spikes.calibration import (
    REPORT_LEVELS,
    Block,
    Calibration,
    fit_level,
    nested_coverage,
)
from calcium_dynamics.provenance import command_line, run_record

ROOT = Path(__file__).resolve().parents[1]
MAX_LAG = 30  # frames searched for the best shift


def load_run(folder: Path) -> tuple[float, list[Block], dict]:
    """The run's test level ν, one :class:`Block` per dataset, and per-recording arrays."""
    files = sorted(folder.glob("*.npz"))
    if not files:
        raise SystemExit(f"{folder}: no FOLD.npz (run spike_lodo.py --save-members {folder})")
    blocks, recs, nus = [], {}, []
    for f in files:
        with np.load(f) as z:
            members, target, bounds = z["members"], z["target"], z["bounds"]
            # Corr and lag against the symmetric target; coverage of the model's own target
            symmetric = z.get("target_symmetric", target)
            fr = float(z["frame_rate_hz"])
            nus += list(z["noise_level_nu"])
            blocks.append(Block(f.stem, members, target, fr))
            for k, key in enumerate(z["keys"]):
                sl = slice(bounds[k], bounds[k + 1])
                recs[str(key)] = (members[:, sl], symmetric[sl])
    nus = np.asarray(nus, float)
    # noise-matched runs: every trace at the test level; otherwise (traces at their own noise)
    # the median ν, to one decimal, names the table
    matched = np.nanstd(nus) <= 0.01 * np.nanmedian(nus)
    nu = float(np.round(np.nanmedian(nus), 0 if matched else 1))
    return nu, blocks, recs


def lag_table(recs: dict, subset: int | None) -> dict:
    """Per neuron (all its recordings): Corr at shift 0, best shift and Corr there."""
    neurons: dict[str, list] = {}
    for key, (members, target) in recs.items():
        dataset, neuron, _ = key.split("|")
        neurons.setdefault(f"{dataset}|{neuron}", []).append((members, target))
    rows = []
    for key, parts in sorted(neurons.items()):
        corrs = []
        lags = range(-MAX_LAG, MAX_LAG + 1)
        for lag in lags:  # the rate at t + lag compared with the target at t
            p, t = [], []
            for members, target in parts:
                m = members[:subset] if subset else members
                rate = np.clip(m.mean(0), 0, None)
                n = target.size - abs(lag)
                if n > 0:
                    p.append(rate[lag:] if lag >= 0 else rate[:n])
                    t.append(target[:n] if lag >= 0 else target[-lag:])
            if not p:  # every recording of the neuron is shorter than the shift
                corrs.append(np.nan)
                continue
            p, t = np.concatenate(p), np.concatenate(t)
            ok = np.isfinite(p) & np.isfinite(t)
            c = np.corrcoef(p[ok], t[ok])[0, 1] if p[ok].std() > 0 and t[ok].std() > 0 else np.nan
            corrs.append(c)
        corrs = np.asarray(corrs)
        if np.isnan(corrs).all():
            continue
        best = int(np.nanargmax(corrs))
        rows.append(
            {
                "neuron": key,
                "corr_lag0": float(corrs[MAX_LAG]),
                "best_lag_frames": best - MAX_LAG,
                "corr_best_lag": float(corrs[best]),
            }
        )
    return {
        "n_neurons": len(rows),
        "median_corr_lag0": float(np.nanmedian([r["corr_lag0"] for r in rows])),
        "median_best_lag_frames": float(np.median([r["best_lag_frames"] for r in rows])),
        "median_corr_best_lag": float(np.nanmedian([r["corr_best_lag"] for r in rows])),
    }


def summarize_coverage(rows: list[dict]) -> dict:
    out = {}
    for lv in REPORT_LEVELS:
        cov = np.array([r[f"coverage_{lv:g}"] for r in rows])
        frames = np.array([r["n_frames"] for r in rows], float)
        width = np.array([r[f"width_hz_{lv:g}"] for r in rows])
        out[f"{lv:g}"] = {
            "coverage_mean_over_datasets": float(cov.mean()),
            "coverage_pooled_frames": float((cov * frames).sum() / frames.sum()),
            "coverage_min_dataset": float(cov.min()),
            "dataset_min": rows[int(cov.argmin())]["dataset"],
            "n_datasets_below_0.8": int((cov < 0.8).sum()) if lv == 0.9 else None,
            "width_hz_mean_over_datasets": float(width.mean()),
        }
    return out


FLOOR_COVERAGE = 0.8
FLOOR_LEVELS = tuple(round(0.90 + 0.01 * k, 2) for k in range(10))


def floor_tradeoff(blocks: list[Block], nu: float) -> dict:
    """Nested coverage at nominal levels 0.90 … 0.99: the lowest level at which no dataset falls
    below :data:`FLOOR_COVERAGE`, and the mean coverage and width (Hz) at each level."""
    rows = nested_coverage(blocks, nu, FLOOR_LEVELS)
    table = []
    for lv in FLOOR_LEVELS:
        cov = np.array([r[f"coverage_{lv:g}"] for r in rows])
        table.append(
            {
                "nominal": lv,
                "coverage_mean_over_datasets": float(cov.mean()),
                "coverage_min_dataset": float(cov.min()),
                "dataset_min": rows[int(cov.argmin())]["dataset"],
                "width_hz_mean_over_datasets": float(
                    np.mean([r[f"width_hz_{lv:g}"] for r in rows])
                ),
            }
        )
    ok = [t for t in table if t["coverage_min_dataset"] >= FLOOR_COVERAGE]
    return {
        "floor": FLOOR_COVERAGE,
        "levels": table,
        "lowest_nominal_meeting_floor": ok[0]["nominal"] if ok else None,
    }


def reliability_figure(per_level: dict, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(per_level), figsize=(4.2 * len(per_level), 4), squeeze=False)
    levels = np.array(REPORT_LEVELS)
    for ax, (nu, res) in zip(axes[0], sorted(per_level.items())):
        for row in res["datasets"]:
            ax.plot(levels, [row[f"coverage_{lv:g}"] for lv in levels], color="0.7", lw=0.8)
        mean = [res["summary"][f"{lv:g}"]["coverage_mean_over_datasets"] for lv in levels]
        ax.plot(levels, mean, "o-", color="C0", lw=2, label="mean over datasets")
        ax.plot([0.4, 1], [0.4, 1], "k--", lw=1, label="nominal")
        ax.set(
            xlim=(0.4, 1),
            ylim=(0.4, 1),
            xlabel="nominal level",
            ylabel="empirical coverage (held-out dataset)",
            title=f"test ν = {nu:g} ({len(res['datasets'])} datasets, grey: each)",
        )
        ax.legend(loc="lower right", fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--runs", type=Path, nargs="+", required=True, help="--save-members folders")
    p.add_argument("--model", required=True, help="the shipped model the tables belong to")
    p.add_argument("--tag", required=True, help="results file suffix")
    p.add_argument(
        "--subset", type=int, default=None, help="also report the first K members' Corr and lag"
    )
    p.add_argument("--write-calibration", action="store_true")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "spike_intervals")
    args = p.parse_args(argv)
    argv = list(sys.argv[1:] if argv is None else argv)
    prov = run_record(command_line(__file__, argv), seeds=[0], threads=1, cwd=ROOT)
    per_level, tables, expected, n_members = {}, {}, {}, set()
    for folder in args.runs:
        nu, blocks, recs = load_run(folder)
        n_members |= {b.members.shape[0] for b in blocks}
        rows = nested_coverage(blocks, nu)
        lodo = ROOT / "benchmarks" / "results" / "spike_lodo" / f"spike_lodo_{folder.name}.json"
        corr = json.loads(lodo.read_text())["overall"]["corr"]["median"] if lodo.is_file() else None
        if corr is not None:
            expected[nu] = float(corr)
        res = {
            "run": folder.as_posix(),
            "lodo_results": lodo.relative_to(ROOT).as_posix() if lodo.is_file() else None,
            "lodo_median_corr": corr,
            "datasets": rows,
            "summary": summarize_coverage(rows),
            "lag": lag_table(recs, None),
            "per_dataset_floor": floor_tradeoff(blocks, nu),
        }
        if args.subset:
            res[f"lag_first_{args.subset}_members"] = lag_table(recs, args.subset)
        per_level[nu] = res
        tables[nu] = fit_level(blocks, nu)
        s = res["summary"]["0.9"]
        print(
            f"ν={nu:g}: 90 % interval coverage {s['coverage_mean_over_datasets']:.3f} (mean over "
            f"{len(rows)} datasets; lowest {s['coverage_min_dataset']:.3f}, {s['dataset_min']}), "
            f"width {s['width_hz_mean_over_datasets']:.2f} Hz; q90 {tables[nu].q(0.9):.2f}; "
            f"best lag {res['lag']['median_best_lag_frames']:g} frames, Corr "
            f"{res['lag']['median_corr_lag0']:.3f} → {res['lag']['median_corr_best_lag']:.3f}",
            flush=True,
        )
        fl = res["per_dataset_floor"]
        at = {t["nominal"]: t for t in fl["levels"]}
        need = fl["lowest_nominal_meeting_floor"]
        print(
            f"   no dataset below {fl['floor']:g}: "
            + (
                f"needs nominal {need:g} → mean coverage "
                f"{at[need]['coverage_mean_over_datasets']:.3f}, width "
                f"{at[need]['width_hz_mean_over_datasets']:.2f} Hz"
                if need is not None
                else f"not reached at nominal {FLOOR_LEVELS[-1]:g} (lowest "
                f"{at[FLOOR_LEVELS[-1]]['coverage_min_dataset']:.3f})"
            ),
            flush=True,
        )
    if len(n_members) != 1:
        raise SystemExit(f"runs differ in ensemble size: {sorted(n_members)}")
    frame_rate = blocks[0].frame_rate_hz
    result = {
        "model": args.model,
        "n_members": n_members.pop(),
        "frame_rate_hz": frame_rate,
        "protocol": "leave-one-dataset-out predictions; per dataset, the conformal table is "
        "fitted on the other datasets only; coverage of the true smoothed rate per frame",
        "levels": {f"{nu:g}": r for nu, r in sorted(per_level.items())},
        "q": {f"{nu:g}": {f"{a:g}": t.q(a) for a in REPORT_LEVELS} for nu, t in tables.items()},
        "provenance": prov,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"spike_intervals_{args.tag}.json"
    path.write_text(json.dumps(result, indent=2))
    reliability_figure(
        per_level,
        args.out / f"spike_intervals_{args.tag}_reliability.png",
        f"{args.model}: rate-interval reliability, leave-one-dataset-out",
    )
    print(f"→ {path}")
    if args.write_calibration:
        cal = Calibration(
            args.model, result["n_members"], frame_rate, tables, expected, provenance=prov
        )
        out = ROOT / "data" / "06_models" / "shipped" / f"{args.model}.calibration.json"
        tmp = out.with_suffix(".json.partial")
        tmp.write_text(json.dumps(cal.to_dict(), indent=1))
        tmp.replace(out)
        print(f"→ {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
