"""Held-out accuracy of two ways of training LFADS, paired by seed (bfloat16 products against
float32, or one implementation against another).

Reads the per-seed results of ``latent_lorenz.py --speeds`` (or of its calcium-LFADS data
set) of a baseline (by default
``--float32-matmul-precision highest``, float32) and a candidate (``medium``, bfloat16
products), one or more files each, and writes, per model, the latent R² (x, y, z and their
mean) of each seed under both, the paired differences (candidate − baseline), their mean, a
paired t and a bootstrap 95 % interval of the mean (seeds resampled), a Wilcoxon signed-rank
test, the number of seeds on which the candidate is lower, and the seed-to-seed standard
deviation of the baseline for scale.

Decision rule (fixed before the second batch of seeds was run), on the paired t 95 % interval
of the mean difference, for z and for the mean over x, y, z alike:

- **equal** when both intervals lie inside ±:data:`MARGIN` (an equivalence margin in R²);
- **lower** (or **higher**) when an interval lies entirely below (above) 0;
- otherwise **no difference detected, equality not shown** (too few seeds for the margin).

    python benchmarks/precision_pairs.py \\
        --baseline benchmarks/results/latent_lorenz/latent_lorenz_speeds_heldout_fp32.json \\
            benchmarks/results/latent_lorenz/latent_lorenz_speeds_heldout_fp32_seeds3to7.json \\
        --candidate benchmarks/results/latent_lorenz/latent_lorenz_speeds_heldout_bf16.json \\
            benchmarks/results/latent_lorenz/latent_lorenz_speeds_heldout_bf16_seeds3to7.json
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np
from scipy.stats import t as student_t
from scipy.stats import wilcoxon

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from calcium_dynamics.provenance import command_line, run_record

OUT = ROOT / "benchmarks/results/latent_lorenz/latent_lorenz_speeds_heldout_bf16_vs_fp32.json"
#: per-seed keys of ``latent_lorenz.py``: Lorenz imaging at a speed (``--speeds``) or the
#: calcium-LFADS data set of Keeley et al. (``calcium_lorenz_seedS``)
SEED_KEY = re.compile(r"^(?:lorenz_(?P<speed>\d+)hz|(?P<data>calcium_lorenz))_seed(?P<seed>\d+)$")
#: equivalence margin of the decision rule, in latent R²
MARGIN = 0.03
BOOTSTRAP_DRAWS = 20_000
BOOTSTRAP_SEED = 0


def per_seed(paths: list[Path]) -> dict[str, dict[int, dict]]:
    """{speed key: {seed: entry}} over the files (a seed in two files is an error)."""
    out: dict[str, dict[int, dict]] = {}
    for path in paths:
        for key, entry in json.loads(path.read_text()).items():
            m = SEED_KEY.match(key)
            if not m:
                continue
            speed = f"{m['speed']}hz" if m["speed"] else m["data"]
            seed = int(m["seed"])
            if seed in out.setdefault(speed, {}):
                raise ValueError(f"{path}: seed {seed} at {speed} is also in another file")
            out[speed][seed] = entry
    return out


def bootstrap_interval(diffs: np.ndarray, rng: np.random.Generator) -> list[float]:
    """95 % percentile interval of the mean of ``diffs`` (resampled with replacement)."""
    draws = rng.choice(diffs, size=(BOOTSTRAP_DRAWS, diffs.size), replace=True).mean(axis=1)
    return [float(v) for v in np.percentile(draws, [2.5, 97.5])]


def t_interval(diffs: np.ndarray) -> list[float]:
    """Paired t 95 % interval of the mean of ``diffs``."""
    half = student_t.ppf(0.975, diffs.size - 1) * diffs.std(ddof=1) / np.sqrt(diffs.size)
    return [float(diffs.mean() - half), float(diffs.mean() + half)]


def verdict(intervals: list[list[float]]) -> str:
    """The decision rule of the module docstring over the (z, mean) intervals."""
    if all(lo >= -MARGIN and hi <= MARGIN for lo, hi in intervals):
        return "equal"
    if any(hi < 0.0 for _, hi in intervals):
        return "lower"
    if any(lo > 0.0 for lo, _ in intervals):
        return "higher"
    return "no difference detected, equality not shown"


def compare(
    base: dict[int, dict], cand: dict[int, dict], model: str, names: tuple[str, str]
) -> dict:
    """Paired summary of one model at one speed over the seeds present under both."""
    seeds = sorted(s for s in set(base) & set(cand) if model in base[s] and model in cand[s])
    b_name, c_name = names
    if len(seeds) < 3:
        raise ValueError(f"{model}: {len(seeds)} paired seeds; at least 3 are needed")
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    res: dict = {"seeds": seeds, "margin_r2": MARGIN}
    intervals = []
    for label, pick in (("z", lambda r: r[2]), ("mean_xyz", lambda r: float(np.mean(r)))):
        a = np.array([pick(base[s][model]["r2_xyz"]) for s in seeds])
        b = np.array([pick(cand[s][model]["r2_xyz"]) for s in seeds])
        d = b - a
        interval = t_interval(d)
        res[label] = {
            b_name: a.round(4).tolist(),
            c_name: b.round(4).tolist(),
            f"difference_{c_name}_minus_{b_name}": d.round(4).tolist(),
            "mean_difference": round(float(d.mean()), 4),
            "t_95_interval_of_mean_difference": [round(v, 4) for v in interval],
            "bootstrap_95_interval_of_mean_difference": [
                round(v, 4) for v in bootstrap_interval(d, rng)
            ],
            "wilcoxon_p": round(float(wilcoxon(d).pvalue), 4) if d.any() else 1.0,
            f"seeds_{c_name}_lower": int((d < 0).sum()),
            f"{b_name}_seed_sd": round(float(a.std(ddof=1)), 4),
        }
        intervals.append(interval)
    res["verdict"] = verdict(intervals)
    return res


def _shown(path: Path) -> str:
    """The path relative to the repository where it lies inside it."""
    resolved = path.resolve()
    return str(resolved.relative_to(ROOT)) if resolved.is_relative_to(ROOT) else str(path)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--baseline", type=Path, nargs="+", required=True)
    ap.add_argument("--candidate", type=Path, nargs="+", required=True)
    ap.add_argument("--names", nargs=2, default=["fp32", "bf16"], help="baseline, candidate")
    ap.add_argument("--models", nargs="+", default=["radical", "autolfads"])
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    base, cand = per_seed(args.baseline), per_seed(args.candidate)
    names = tuple(args.names)
    results: dict = {
        "provenance": run_record(command_line(argv=argv), seeds=[BOOTSTRAP_SEED], threads=1),
        "inputs": {
            names[0]: [_shown(p) for p in args.baseline],
            names[1]: [_shown(p) for p in args.candidate],
        },
        "decision_rule": (
            f"paired t 95 % intervals of the mean difference ({names[1]} − {names[0]}) of z and "
            f"of the mean over x, y, z: 'equal' when both lie within ±{MARGIN}, 'lower' / "
            "'higher' when one lies entirely below / above 0, else 'no difference detected, "
            "equality not shown'"
        ),
    }
    for speed in sorted(set(base) & set(cand)):
        for model in args.models:
            res = compare(base[speed], cand[speed], model, names)
            results[f"{model}_{speed}"] = res
            z = res["z"]
            print(
                f"{model} {speed}: z R² difference {z['mean_difference']:+.4f} "
                f"(95 % {z['t_95_interval_of_mean_difference']}), lower on "
                f"{z[f'seeds_{names[1]}_lower']} of {len(res['seeds'])} seeds; {res['verdict']}"
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
