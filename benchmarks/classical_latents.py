"""Classical latent models on the paper-scale HMM and GPFA simulations (Keeley et al.).

HMM: 25 neurons, K = 5 sequential states, 2000 training + 2000 test bins. Reports the test-set
state correlation / accuracy (Viterbi, Hungarian-matched) of the calcium, Gaussian and
AR-Gaussian HMMs on ΔF/F and of the Poisson HMM on the true spikes, and the held-out
log-likelihood against K.

GPFA: 30 neurons, 3 latents with length scales 250 / 450 / 500 bins, 4000 bins. Reports latent R²
and MSE (least-squares regression of the inferred latents onto the true ones over all 4000 bins,
as in the paper) and fit time of Gaussian GPFA, calcium GPFA (AR(1), AR(2)), Poisson GPFA on
deconvolved events (OASIS AR(1), L1, s_min 0.1, the discretisation rule of the deconvolved-event
LFADS baselines; no knowledge of the single-spike amplitude) and (reference) Poisson GPFA on the
true spikes — on two simulations with the same latents and spikes: exact AR(2) calcium ("ar2")
and the GCaMP6f indicator model ("gcamp6f", saturating, signal-dependent noise). With the
Gaussian model it also fits elephant's Gaussian GPFA (when installed) on the same 500-bin
segments, and with elephant's default 20-bin training segments.

Run: ``OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 python benchmarks/classical_latents.py``
(1,200 variational steps, about 1 h). The paper fits for 20,000 steps
(``--variational-iter 20000``, about 35 min per variational fit on one core); calcium GPFA
needs them (README).
Writes ``benchmarks/results/classical_latents/classical_latents.json`` (``--parts hmm`` or
``--parts gpfa`` re-runs one part and keeps the other's previous results).
"""

from __future__ import annotations

import argparse
import functools
import inspect
import itertools
import json
import platform
import re
import time
from pathlib import Path

import joblib
import numpy as np
import torch

from calcium_dynamics.classical.gpfa import GPFA
from calcium_dynamics.classical.gpfa_events import deconvolve_gpfa_events
from calcium_dynamics.classical.gpfa_heldout import heldout_gpfa_latents
from calcium_dynamics.classical.hmm import HMM, held_out_log_likelihood_curve
from calcium_dynamics.metrics.latents_linear import heldout_latent_r2, linear_latent_r2
from calcium_dynamics.metrics.states import state_metrics
from calcium_dynamics.provenance import command_line, run_record
from calcium_dynamics.simulate.hmm_gpfa import (
    simulate_gpfa_calcium,
    simulate_gpfa_gcamp6f,
    simulate_hmm_calcium,
)

RESULTS = Path(__file__).parent / "results" / "classical_latents" / "classical_latents.json"
PAPER_STATE_CORRELATION = {"calcium": 0.89, "gaussian": 0.53, "ar_gaussian": 0.73, "poisson": 0.91}


def run_hmm(seed: int, n_iter: int, k_grid: list[int]) -> dict:
    sim = simulate_hmm_calcium(seed=seed)
    out: dict = {"models": {}, "n_states_curve": []}
    for name in ("calcium", "gaussian", "ar_gaussian", "poisson"):
        source = "spikes" if name == "poisson" else "calcium"
        train, test = getattr(sim, f"{source}_train"), getattr(sim, f"{source}_test")
        start = time.perf_counter()
        model = HMM(
            n_states=5,
            observations=name,
            n_iter=n_iter,
            tol=1e-5,
            init_smoothing_bins=3,
            random_state=seed,
        ).fit(train)
        fit_time = time.perf_counter() - start
        metrics = state_metrics(sim.states_test, model.predict(test))
        out["models"][name] = {
            "input": "true spikes" if name == "poisson" else "ΔF/F",
            "state_correlation": metrics["correlation"],
            "state_accuracy": metrics["accuracy"],
            "paper_state_correlation": PAPER_STATE_CORRELATION[name],
            "test_ll_per_bin": model.score_per_bin(test),
            "em_iterations": model.n_iter_,
            "fit_time_s": fit_time,
        }
        print(
            f"HMM {name:12s} corr {metrics['correlation']:.3f} acc {metrics['accuracy']:.3f} "
            f"(paper {PAPER_STATE_CORRELATION[name]}) {fit_time:.0f} s",
            flush=True,
        )
    for name in ("calcium", "ar_gaussian", "gaussian"):
        records = held_out_log_likelihood_curve(
            sim.calcium_train,
            sim.calcium_test,
            k_grid,
            name,
            n_iter=n_iter,
            tol=1e-4,
            init_smoothing_bins=3,
            random_state=seed,
        )
        out["n_states_curve"] += records
        best = max(records, key=lambda r: r["test_ll_per_bin"])["n_states"]
        out.setdefault("best_n_states", {})[name] = best
        curve = ", ".join(f"K={r['n_states']}: {r['test_ll_per_bin']:.4f}" for r in records)
        print(f"HMM {name:12s} held-out ll/bin {curve}  → best K = {best}", flush=True)
    return out


def _elephant_gaussian_gpfa(
    y: np.ndarray, segment_length: int, n_iter: int, latents_true, training_segments: str
):
    """elephant's Gaussian GPFA (``gpfa_core.fit`` + ``exact_inference_with_ll``) on the same
    500-bin segments as ours.

    ``training_segments="default"``: elephant's own default, which cuts the training data into
    20-bin pieces (``gpfa_util.cut_trials``) and so solves a much smaller problem per EM
    iteration; ``"same"``: EM on the whole 500-bin segments, the problem our EM solves.
    Inference for the R² is on the whole segments in both cases.
    """
    try:
        from elephant.gpfa import gpfa_core, gpfa_util
    except ImportError:
        return {"available": False, "reason": "elephant is not installed"}
    bounds = np.linspace(0, len(y), int(np.ceil(len(y) / segment_length)) + 1).round().astype(int)
    seqs = np.empty(len(bounds) - 1, dtype=[("T", int), ("y", object)])
    for i, (a, b) in enumerate(itertools.pairwise(bounds)):
        seqs[i] = (b - a, y[a:b].T.copy())
    cut_trials = gpfa_util.cut_trials
    if training_segments == "same":
        gpfa_util.cut_trials = functools.partial(cut_trials, seg_length=np.inf)
    try:
        start = time.perf_counter()
        params, fit_info = gpfa_core.fit(
            seqs, x_dim=3, bin_width=1.0, tau_init=350.0, em_max_iters=n_iter, em_tol=1e-12
        )
        fit_time = time.perf_counter() - start
    finally:
        gpfa_util.cut_trials = cut_trials
    inferred, _ = gpfa_core.exact_inference_with_ll(seqs, params)
    latents = np.concatenate([s["latent_variable"].T for s in inferred])
    score = linear_latent_r2(latents, latents_true)
    return {
        "available": True,
        "training_segments_bins": 20 if training_segments == "default" else segment_length,
        "fit_time_s": fit_time,
        "em_iterations_requested": n_iter,
        # elephant stops on its own convergence test; this is how many it ran
        "em_iterations": len(fit_info.get("iteration_time", [])),
        "length_scales_bins": (1.0 / np.sqrt(params["gamma"])).tolist(),
        "latent_r2": score["r2_mean"],
        "latent_r2_per_dim": score["r2_per_dim"],
        "latent_mse": score["mse_mean"],
    }


GPFA_SIMULATIONS = {
    # exact AR(2) calcium plus Gaussian measurement noise: the calcium model's own family
    "ar2": simulate_gpfa_calcium,
    # GCaMP6f indicator model (saturation, jitter, signal-dependent noise): no fitted model's
    # family, the role the biophysical simulator plays in the paper
    "gcamp6f": simulate_gpfa_gcamp6f,
}


def parse_simulation_params(items: list[str]) -> dict[str, float | int]:
    """``["mean_rate=0.05", ...]`` → ``{"mean_rate": 0.05}``: scalar arguments of the GPFA
    simulators, converted to the type of their default."""
    defaults = {
        name: parameter.default
        for simulate in GPFA_SIMULATIONS.values()
        for name, parameter in inspect.signature(simulate).parameters.items()
        if name != "seed" and isinstance(parameter.default, int | float)
    }
    out: dict[str, float | int] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--gpfa-simulation-params takes KEY=VALUE; got {item!r}")
        if name not in defaults:
            raise SystemExit(
                f"--gpfa-simulation-params: unknown name {name!r}; known: {sorted(defaults)}"
            )
        try:
            out[name] = type(defaults[name])(value)
        except ValueError:
            raise SystemExit(
                f"--gpfa-simulation-params: {name} needs a {type(defaults[name]).__name__}; "
                f"got {value!r}"
            ) from None
    return out


#: GPFA variant → (observation model, AR order, input)
GPFA_VARIANTS = {
    "calcium_ar2": ("calcium", 2, "calcium"),
    "calcium_ar1": ("calcium", 1, "calcium"),
    "gaussian": ("gaussian", 1, "calcium"),
    "poisson_oasis": ("poisson", 1, "oasis"),
    "poisson_true_spikes": ("poisson", 1, "spikes"),
}
_INPUT_NAMES = {"calcium": "ΔF/F", "oasis": "OASIS events (counts)", "spikes": "true spikes"}


def fit_gpfa_variant(
    name: str,
    data: np.ndarray,
    true_latents: np.ndarray,
    *,
    n_iter: int,
    segment_length: int,
    lr_schedule: str,
    seed: int,
    heldout_folds: int = 3,
) -> dict:
    """Fit one GPFA variant (one thread, so parallel workers do not compete) and score its
    latents against the truth by linear regression.

    With ``heldout_folds`` ≥ 2, ``latent_r2`` is held out: blocked cross-validation over that
    many contiguous blocks, each scored by a GPFA and a linear map fitted without it
    (``classical.gpfa_heldout``); ``latent_r2_in_sample`` is the map fitted and scored on the
    bins of the all-bins fit. With 0 (the protocol of runs before held-out scoring) only the
    in-sample score is computed, and it is the ``latent_r2``.
    """
    torch.set_num_threads(1)
    obs, order, source = GPFA_VARIANTS[name]

    def make() -> GPFA:
        return GPFA(
            n_latents=3,
            observations=obs,
            ar_order=order,
            segment_length=segment_length,
            length_scale_init=350.0,
            n_iter=n_iter,
            learning_rate=0.02,
            lr_schedule=lr_schedule,
            random_state=seed,
            verbose=True,  # progress bar: a 20,000-step fit runs for half an hour
        )

    start = time.perf_counter()
    model = make()
    latents = model.fit_transform(data)
    fit_time = time.perf_counter() - start
    in_sample = linear_latent_r2(latents, true_latents)
    score = in_sample
    if heldout_folds >= 2:
        fold_latents, folds = heldout_gpfa_latents(make, data, heldout_folds)
        score = heldout_latent_r2(fold_latents, true_latents, folds)
    print(
        f"GPFA {name:20s} R² {score['r2_mean']:.3f} {np.round(score['r2_per_dim'], 3)} "
        f"(in-sample {in_sample['r2_mean']:.3f}) ℓ {np.round(model.length_scales_)} "
        f"{fit_time:.0f} s",
        flush=True,
    )
    return {
        "input": _INPUT_NAMES[source],
        "protocol": (
            f"held out: {heldout_folds} contiguous blocks, GPFA and map fitted without each"
            if heldout_folds >= 2
            else "in-sample: map fitted and scored on the fitted bins"
        ),
        "latent_r2": score["r2_mean"],
        "latent_r2_per_dim": score["r2_per_dim"],
        "latent_mse": score["mse_mean"],
        "latent_mse_per_dim": score["mse_per_dim"],
        "latent_r2_in_sample": in_sample["r2_mean"],
        "length_scales_bins": model.length_scales_.tolist(),
        "iterations": n_iter,
        **({} if obs == "gaussian" else {"lr_schedule": lr_schedule}),
        **(_calcium_parameters(model) if obs == "calcium" else {}),
        "fit_time_s": fit_time,
    }


def _calcium_parameters(model: GPFA) -> dict:
    """Mean ± s.d. over neurons of the fitted AR coefficients, jump and noise variance."""
    coefs = model.ar_coefs_  # (p, N)
    return {
        "ar_coefs_mean": coefs.mean(axis=1).tolist(),
        "ar_coefs_sd": coefs.std(axis=1).tolist(),
        "jump_mean": float(model.jump_.mean()),
        "noise_var_mean": float(model.noise_var_.mean()),
    }


def run_gpfa(
    seed: int,
    gaussian_iter: int,
    variational_iter: int,
    segment_length: int,
    simulation: str = "ar2",
    models: list[str] | None = None,
    previous: dict | None = None,
    lr_schedule: str = "cosine",
    elephant: bool = True,
    simulation_params: dict[str, float | int] | None = None,
    jobs: int = 1,
    heldout_folds: int = 3,
) -> dict:
    """GPFA variants on one simulation; ``models`` restricts which run (the others keep their
    entries from ``previous``); ``simulation_params`` override the simulator's defaults;
    ``jobs`` variants are fitted at once, each in its own process."""
    simulation_params = dict(simulation_params or {})
    sim = GPFA_SIMULATIONS[simulation](seed=seed, **simulation_params)
    # deconvolved events as the deconvolved-event baselines of the project get them: OASIS AR(1)
    # with the L1 / noise constraint, events below s_min = 0.1 ΔF/F dropped, counts by the
    # discretisation rule of those baselines; nothing uses the simulation's spike amplitude
    events = deconvolve_gpfa_events(
        {"calcium": sim.calcium},
        {
            "deconvolution": {
                "bin_rate_hz": 30.0,
                "ar_order": 1,
                "penalty": 1,
                "s_min": 0.1,
                "count_rule": "discretise",
            }
        },
    )
    oasis_counts = events["oasis_counts"]
    inputs = {"calcium": sim.calcium, "oasis": oasis_counts, "spikes": sim.spikes}
    out: dict = {
        "simulation": simulation,
        "seed": seed,
        "simulation_params": simulation_params,
        "models": dict((previous or {}).get("models", {})),
    }
    chosen = [name for name in GPFA_VARIANTS if models is None or name in models]
    fits = joblib.Parallel(n_jobs=min(jobs, len(chosen)) or 1)(
        joblib.delayed(fit_gpfa_variant)(
            name,
            inputs[GPFA_VARIANTS[name][2]],
            sim.latents,
            n_iter=gaussian_iter if GPFA_VARIANTS[name][0] == "gaussian" else variational_iter,
            segment_length=segment_length,
            lr_schedule=lr_schedule,
            seed=seed,
            heldout_folds=heldout_folds,
        )
        for name in chosen
    )
    out["models"].update(zip(chosen, fits, strict=True))
    # entries kept from an earlier run get their MSE from their per-dimension R² (exact:
    # MSE_j = (1 − R²_j) · Var(true latent j), and the truth is fixed by the seed)
    true_var = np.var(sim.latents, axis=0)
    for entry in out["models"].values():
        if "latent_mse" not in entry:
            mse = (1.0 - np.asarray(entry["latent_r2_per_dim"])) * true_var
            entry["latent_mse_per_dim"] = mse.tolist()
            entry["latent_mse"] = float(mse.mean())
    out["deconvolution"] = {
        "method": "OASIS AR(1), L1 with noise constraint, s_min 0.1 ΔF/F",
        "count_rule": "0 → 0, (0, 2] → 1, > 2 → floor (no single-spike amplitude used)",
        "mean_count_per_bin": float(oasis_counts.mean()),
        "true_mean_spikes_per_bin": float(sim.spikes.mean()),
    }
    if elephant and (models is None or "gaussian" in models):
        for mode in ("same", "default"):
            key = f"elephant_gaussian_gpfa_{mode}_segments"
            out[key] = _elephant_gaussian_gpfa(
                sim.calcium, segment_length, gaussian_iter, sim.latents, mode
            )
            print(f"GPFA elephant (gaussian, {mode} segments): {out[key]}", flush=True)
        out.pop("elephant_gaussian_gpfa", None)
    return out


def summarise_seeds(gpfa: dict) -> dict:
    """Latent R² over seeds of each setting run under tags ending in ``_seed<N>``; the entry
    without that suffix counts as its seed (0 for runs that predate the ``seed`` field)."""
    by_setting: dict[str, dict[int, dict]] = {}
    for key, entry in gpfa.items():
        match = re.fullmatch(r"(.+)_seed(\d+)", key)
        base, seed = (match[1], int(match[2])) if match else (key, entry.get("seed", 0))
        by_setting.setdefault(base, {})[seed] = entry
    out = {}
    for base, runs in by_setting.items():
        if len(runs) < 2:
            continue
        seeds = sorted(runs)
        models = sorted(set.intersection(*(set(runs[s]["models"]) for s in seeds)))
        out[base] = {"seeds": seeds, "latent_r2": {}}
        for model in models:
            values = np.array([runs[s]["models"][model]["latent_r2"] for s in seeds])
            out[base]["latent_r2"][model] = {
                "per_seed": values.tolist(),
                "mean": float(values.mean()),
                "sd": float(values.std(ddof=1)),
            }
    return out


def _gpfa_entries(results: dict) -> dict:
    """The ``gpfa`` part of a results file (older files held one simulation's entry)."""
    gpfa = results.get("gpfa", {})
    return {"ar2": gpfa} if "models" in gpfa else dict(gpfa)


def merge_results(stored: dict, update: dict, fitted: list[str]) -> dict:
    """``stored`` (the results file as it is now) with this run's ``update`` laid over it.

    Top-level parts are replaced (``config``, ``machine``, ``part_time_s`` updated key by key);
    GPFA entries are merged model by model: only the variants in ``fitted`` (and ones the file
    lacks) replace the stored ones, so runs that write to one file at the same time keep each
    other's fits. The seed summary is recomputed from the merged entries.
    """
    merged = {k: v for k, v in stored.items() if k != "total_time_s"}
    for part, value in update.items():
        if part in ("config", "machine", "part_time_s"):
            merged[part] = {**merged.get(part, {}), **value}
        elif part != "gpfa":
            merged[part] = value
    if "gpfa" in update:
        gpfa = _gpfa_entries(stored)
        for key, entry in update["gpfa"].items():
            kept = gpfa.get(key, {}).get("models", {})
            new = {m: e for m, e in entry["models"].items() if m in fitted or m not in kept}
            gpfa[key] = {**entry, "models": {**kept, **new}}
        merged["gpfa"] = gpfa
        merged["gpfa_setting_seeds"] = summarise_seeds(gpfa)
    return merged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--parts", nargs="+", choices=["hmm", "gpfa"], default=["hmm", "gpfa"])
    parser.add_argument("--hmm-iter", type=int, default=60)
    parser.add_argument("--k-grid", type=int, nargs="+", default=[2, 3, 4, 5, 6, 7, 8])
    parser.add_argument("--gaussian-iter", type=int, default=40)
    parser.add_argument("--variational-iter", type=int, default=1200)
    parser.add_argument("--segment-length", type=int, default=500)
    parser.add_argument(
        "--lr-schedule",
        choices=["cosine", "constant"],
        default="cosine",
        help="step-size schedule of the variational fits (GPFA lr_schedule)",
    )
    parser.add_argument(
        "--gpfa-simulations",
        nargs="+",
        choices=sorted(GPFA_SIMULATIONS),
        default=["ar2", "gcamp6f"],
    )
    parser.add_argument(
        "--gpfa-models",
        nargs="+",
        choices=list(GPFA_VARIANTS),
        default=None,
        help="re-run only these GPFA variants (the others keep their previous results)",
    )
    parser.add_argument(
        "--skip-elephant",
        action="store_true",
        help="do not fit elephant's Gaussian GPFA beside ours",
    )
    parser.add_argument(
        "--gpfa-simulation-params",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="override simulator arguments (e.g. mean_rate=0.05); give a --tag with them",
    )
    parser.add_argument(
        "--tag",
        default=None,
        help="store the GPFA results under '<simulation>_<tag>' instead of '<simulation>'",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="GPFA variants fitted at once, each in its own one-thread process (≤ CPU cores)",
    )
    parser.add_argument(
        "--heldout-folds",
        type=int,
        default=3,
        help="GPFA latent R² held out over this many contiguous blocks (0: in-sample only)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.jobs < 1:
        parser.error(f"--jobs must be >= 1; got {args.jobs}")
    simulation_params = parse_simulation_params(args.gpfa_simulation_params)
    for name in args.gpfa_simulations if "gpfa" in args.parts else []:
        accepted = inspect.signature(GPFA_SIMULATIONS[name]).parameters
        if unknown := sorted(set(simulation_params) - set(accepted)):
            parser.error(f"the {name} simulation has no argument {unknown}")
    if simulation_params and args.tag is None:
        parser.error("--gpfa-simulation-params needs a --tag (results of the default data stay)")
    torch.set_num_threads(1)
    # parts not run this time keep their previous results
    stored = json.loads(args.out.read_text()) if args.out.exists() else {}
    update: dict = {
        "config": {k: v for k, v in vars(args).items() if k != "out"},
        "machine": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
        },
        "part_time_s": {},
        "provenance": run_record(command_line(__file__), seeds=[args.seed], threads=1),
    }
    if "hmm" in args.parts:
        start = time.perf_counter()
        update["hmm"] = run_hmm(args.seed, args.hmm_iter, args.k_grid)
        update["part_time_s"]["hmm"] = time.perf_counter() - start
    if "gpfa" in args.parts:
        update["gpfa"] = {}
        for name in args.gpfa_simulations:
            start = time.perf_counter()
            key = name if args.tag is None else f"{name}_{args.tag}"
            print(f"--- GPFA on the {name} simulation {simulation_params or ''}", flush=True)
            update["gpfa"][key] = run_gpfa(
                args.seed,
                args.gaussian_iter,
                args.variational_iter,
                args.segment_length,
                name,
                models=args.gpfa_models,
                previous=_gpfa_entries(stored).get(key),
                lr_schedule=args.lr_schedule,
                elephant=not args.skip_elephant,
                simulation_params=simulation_params,
                jobs=args.jobs,
                heldout_folds=args.heldout_folds,
            )
            update["gpfa"][key]["provenance"] = update["provenance"]
            update["part_time_s"][f"gpfa_{key}"] = time.perf_counter() - start
    # re-read: another run may have written to the same file in the meantime
    stored = json.loads(args.out.read_text()) if args.out.exists() else {}
    result = merge_results(stored, update, fitted=args.gpfa_models or list(GPFA_VARIANTS))
    for base, summary in result.get("gpfa_setting_seeds", {}).items():
        cells = ", ".join(
            f"{m} {v['mean']:.3f} ± {v['sd']:.3f}" for m, v in summary["latent_r2"].items()
        )
        print(f"GPFA {base}, seeds {summary['seeds']}: {cells}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(f"→ {args.out}")


if __name__ == "__main__":
    main()
