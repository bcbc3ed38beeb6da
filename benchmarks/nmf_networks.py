"""NMF against PCA / ICA / UMAP on simulated networks (Carbonero et al. 2024, Sci Rep).

For each of N instantiations (paper: 256) a nodal network (100 neurons, 5 nodes) and a
random-process network (150 neurons, 5 processes) are simulated with the jGCaMP7f model
(5 min at 30 Hz) and decomposed by

* NMF with AIC selection (k = 1, 2, … until the AIC first rises; on the process network the
  R² / AIC curves run to ``--max-k`` for the variance comparison with PCA);
* NMF, PCA, FastICA (and UMAP where ``umap-learn`` is installed) at the true k = 5;
* PCA and FastICA once more with scikit-learn's own signs (no sign convention), to show how
  much of their assignment failure is the sign ambiguity.

Reported: nodal assignment accuracy per method, how often the AIC picks k = 5, NMF R² against
PCA's variance explained at every k, weight–connection and activity correlations, median fit
time per method. Results go to ``benchmarks/results/nmf_networks/nmf_networks.json``.

    python benchmarks/nmf_networks.py --instantiations 32 --jobs 2
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import json
import platform
import sys
import time
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from joblib import Parallel, delayed
from tqdm import tqdm

from calcium_dynamics.classical.components import (
    ICADecomposition,
    PCADecomposition,
    UMAPDecomposition,
    umap_available,
)
from calcium_dynamics.classical.nmf import NMFSelector
from calcium_dynamics.metrics.assignment import score_decomposition
from calcium_dynamics.simulate.networks import simulate_nodal_network, simulate_process_network

RESULTS = Path(__file__).resolve().parent / "results" / "nmf_networks" / "nmf_networks.json"
TRUE_K = 5


def _nmf_at_true_k(selector: NMFSelector, X: np.ndarray, **kwargs) -> tuple[NMFSelector, float]:
    """The k = 5 model: the selected one when AIC picked 5, otherwise a fixed-k fit."""
    if selector.n_components_ == TRUE_K:
        return selector, float(selector.fit_times_s_[TRUE_K - 1])
    fixed = NMFSelector(n_components=TRUE_K, **kwargs).fit(X)
    return fixed, float(fixed.fit_times_s_[0])


def _methods(seed: int, with_umap: bool) -> dict:
    methods = {
        "pca": PCADecomposition(TRUE_K),
        "ica": ICADecomposition(TRUE_K, random_state=seed),
    }
    if with_umap:
        methods["umap"] = UMAPDecomposition(TRUE_K, random_state=seed)
    return methods


def _unoriented(est) -> SimpleNamespace:
    """The same fit with scikit-learn's signs (the sign convention undone)."""
    return SimpleNamespace(
        components_=est.components_ * est.signs_[:, None],
        time_courses_=est.time_courses_ * est.signs_[None, :],
        fit_time_s_=est.fit_time_s_,
    )


def _score(est, sim) -> dict:
    scores = score_decomposition(
        est.components_, est.time_courses_, sim.weights, sim.source_activity, sim.membership
    )
    return {k: v for k, v in scores.items() if not k.startswith("matched_")}


def run_instance(seed: int, max_k: int, max_iter: int, with_umap: bool, duration_s: float) -> dict:
    """Simulate and decompose one nodal and one random-process network."""
    warnings.simplefilter("ignore")
    cpu_start = time.process_time()
    out: dict = {"seed": seed}
    nmf_kwargs = {"max_iter": max_iter, "random_state": 0}
    for kind in ("nodal", "process"):
        if kind == "nodal":
            sim = simulate_nodal_network(seed=seed, duration_s=duration_s)
            selector = NMFSelector(max_components=max_k, early_stop=True, **nmf_kwargs)
        else:
            sim = simulate_process_network(seed=seed, duration_s=duration_s)
            selector = NMFSelector(max_components=max_k, early_stop=False, **nmf_kwargs)
        X = sim.dff.astype(float)
        start = time.perf_counter()
        selector.fit(X)
        search_s = time.perf_counter() - start
        nmf, nmf_time = _nmf_at_true_k(selector, X, **nmf_kwargs)
        rec: dict = {
            "selected_k": int(selector.n_components_),
            "aic": selector.aic_.tolist(),
            "nmf_r2": selector.r2_.tolist(),
            "aic_search_time_s": search_s,
            "methods": {"nmf": {**_score(nmf, sim), "fit_time_s": nmf_time}},
        }
        for name, est in _methods(seed, with_umap).items():
            est.fit(X)
            rec["methods"][name] = {**_score(est, sim), "fit_time_s": float(est.fit_time_s_)}
            if name in ("pca", "ica"):
                raw = _unoriented(est)
                rec["methods"][f"{name}_sklearn_signs"] = {
                    **_score(raw, sim),
                    "fit_time_s": float(est.fit_time_s_),
                }
        if kind == "process":
            pca_curve = PCADecomposition(max_k).fit(X)
            rec["pca_explained_variance"] = np.cumsum(pca_curve.explained_variance_ratio_).tolist()
            rec["pca_r2"] = pca_curve.r2_.tolist()
        out[kind] = rec
    out["cpu_time_s"] = time.process_time() - cpu_start
    return out


def _nanmean(values) -> float:
    arr = np.asarray(values, float)
    return float(np.nanmean(arr)) if np.isfinite(arr).any() else float("nan")


def summarise(records: list[dict], max_k: int) -> dict:
    summary: dict = {}
    for kind in ("nodal", "process"):
        recs = [r[kind] for r in records]
        methods = recs[0]["methods"].keys()
        per_method = {}
        for m in methods:
            rows = [r["methods"][m] for r in recs]
            per_method[m] = {
                "assignment_accuracy_mean": _nanmean([x["assignment_accuracy"] for x in rows]),
                "all_sources_recovered_fraction": _nanmean([x["assignment_success"] for x in rows]),
                "weight_correlation_mean": _nanmean([x["weight_correlation"] for x in rows]),
                "activity_correlation_mean": _nanmean([x["activity_correlation"] for x in rows]),
                "fit_time_s_median": float(np.median([x["fit_time_s"] for x in rows])),
            }
        selected = np.array([r["selected_k"] for r in recs])
        summary[kind] = {
            "methods": per_method,
            "aic_selects_true_k_fraction": float(np.mean(selected == TRUE_K)),
            "selected_k_counts": {
                int(k): int(c) for k, c in zip(*np.unique(selected, return_counts=True))
            },
            "aic_search_time_s_median": float(np.median([r["aic_search_time_s"] for r in recs])),
        }
    proc = [r["process"] for r in records]
    nmf_r2 = np.array([r["nmf_r2"][:max_k] for r in proc])
    pca_ev = np.array([r["pca_explained_variance"] for r in proc])
    pca_r2 = np.array([r["pca_r2"] for r in proc])
    cpu = float(sum(r["cpu_time_s"] for r in records))
    summary["cpu_time_s_total"] = cpu
    summary["cpu_time_s_per_instantiation_median"] = float(
        np.median([r["cpu_time_s"] for r in records])
    )
    summary["process"]["variance"] = {
        "k": list(range(1, max_k + 1)),
        "nmf_r2_mean": nmf_r2.mean(axis=0).tolist(),
        "pca_explained_variance_mean": pca_ev.mean(axis=0).tolist(),
        "pca_r2_same_formula_mean": pca_r2.mean(axis=0).tolist(),
        "nmf_above_pca_explained_variance_every_k_fraction": float(
            np.mean((nmf_r2 > pca_ev).all(axis=1))
        ),
        "nmf_above_pca_r2_same_formula_every_k_fraction": float(
            np.mean((nmf_r2 > pca_r2).all(axis=1))
        ),
    }
    nodal_aic = [r["nodal"]["aic"] for r in records]
    summary["nodal"]["aic_first_values_mean"] = np.mean(
        [a[: min(map(len, nodal_aic))] for a in nodal_aic], axis=0
    ).tolist()
    return summary


PAPER = {
    "nodal_accuracy": {"nmf": 1.0, "pca": 0.8578, "ica": 0.6445, "umap": 0.6242},
    "fit_time_s_median": {"pca": 0.0245, "nmf": 0.7349, "ica": 0.7342, "umap": 1.4906},
}


def print_tables(summary: dict, n: int, wall_s: float) -> None:
    nodal, proc = summary["nodal"], summary["process"]
    print(f"\nNMF vs PCA / ICA / UMAP on simulated networks, {n} instantiations ({wall_s:.0f} s)")
    cpu = summary["cpu_time_s_total"]
    print(f"CPU time in the workers: {cpu:.0f} s in all, {cpu / 2:.0f} s per core on 2 cores")
    print("\nmethod             | nodal acc | paper  | process acc | w-corr | act-corr | fit s")
    print("-------------------|-----------|--------|-------------|--------|----------|------")
    for m, row in nodal["methods"].items():
        p = proc["methods"][m]
        paper = PAPER["nodal_accuracy"].get(m)
        paper_s = f"{paper:.4f}" if paper is not None else "   -  "
        print(
            f"{m:<19}| {row['assignment_accuracy_mean']:9.4f} | {paper_s} | "
            f"{p['assignment_accuracy_mean']:11.4f} | {p['weight_correlation_mean']:6.3f} | "
            f"{p['activity_correlation_mean']:8.3f} | {p['fit_time_s_median']:.3f}"
        )
    print(
        f"\nAIC selects k = 5: nodal {nodal['aic_selects_true_k_fraction']:.3f} "
        f"{nodal['selected_k_counts']}, process {proc['aic_selects_true_k_fraction']:.3f} "
        f"{proc['selected_k_counts']}"
    )
    var = proc["variance"]
    print("\nprocess network, variance explained by k (mean over instantiations)")
    print("k  | NMF R² | PCA explained var. | PCA R² (NMF's formula, with neuron means)")
    for i, k in enumerate(var["k"]):
        print(
            f"{k:<3}| {var['nmf_r2_mean'][i]:.4f} | {var['pca_explained_variance_mean'][i]:18.4f} |"
            f" {var['pca_r2_same_formula_mean'][i]:.4f}"
        )
    print(
        "NMF R² above PCA explained variance at every k in "
        f"{var['nmf_above_pca_explained_variance_every_k_fraction']:.3f} of instantiations; "
        "above PCA R² (same formula) in "
        f"{var['nmf_above_pca_r2_same_formula_every_k_fraction']:.3f}"
    )


def json_safe(value):
    """NaN / inf → None, recursively, so the file is strict JSON."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instantiations", type=int, default=32, help="paper: 256")
    parser.add_argument("--jobs", type=int, default=2, help="joblib workers")
    parser.add_argument("--seed", type=int, default=0, help="first seed")
    parser.add_argument("--max-k", type=int, default=8, help="largest k of the curves")
    parser.add_argument("--max-iter", type=int, default=200, help="NMF solver iterations")
    parser.add_argument("--duration-s", type=float, default=300.0, help="simulated time (s)")
    parser.add_argument("--no-umap", action="store_true", help="skip UMAP")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    with_umap = umap_available() and not args.no_umap
    if not with_umap and not args.no_umap:
        print("umap-learn is not installed: UMAP is skipped", file=sys.stderr)
    seeds = [args.seed + i for i in range(args.instantiations)]
    start = time.perf_counter()
    jobs = (
        delayed(run_instance)(s, args.max_k, args.max_iter, with_umap, args.duration_s)
        for s in seeds
    )
    parallel = Parallel(n_jobs=args.jobs, return_as="generator_unordered")
    records = list(tqdm(parallel(jobs), total=len(seeds), desc="instantiations"))
    records.sort(key=lambda r: r["seed"])
    wall = time.perf_counter() - start
    summary = summarise(records, args.max_k)
    print_tables(summary, len(records), wall)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "command": "python benchmarks/nmf_networks.py " + " ".join(argv or sys.argv[1:]),
        "config": {**{k: str(v) for k, v in vars(args).items()}, "umap": with_umap},
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "wall_time_s": wall,
        "paper": PAPER,
        "summary": summary,
        "instantiations": records,
    }
    args.output.write_text(json.dumps(json_safe(result), indent=1, allow_nan=False))
    print(f"\nwritten {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
