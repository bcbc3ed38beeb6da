"""Population-based training against hand-configured LFADS models on the RADICaL Lorenz data.

The data are the base-scale simulation of ``conf/base`` (Lorenz → Poisson → GCaMP6f → staggered
line scan → OASIS events). Hand-configured models: the population's initial hyperparameter
draws and the ``conf/base`` defaults, each trained alone for as many epochs as one PBT member
trains in total (``generations × epochs_per_generation``); PBT: the same population with
exploit / explore after every generation. Score: latent R² of the Lorenz Z dimension (ridge from
rates to the true states, 5 complementary 80/20 splits, 30 ms lag), as in the evaluation pipeline.

    python benchmarks/lfads_pbt.py          # radical: 6 members, 10 generations of 20 epochs
    python benchmarks/lfads_pbt.py --population 8 --generations 15 --num-cpus 2

Prints the table and writes benchmarks/results/lfads_pbt/lfads_pbt.json.
"""

from __future__ import annotations

import argparse
import copy
import json
import multiprocessing
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

RESULTS = ROOT / "benchmarks" / "results" / "lfads_pbt" / "lfads_pbt.json"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _params() -> tuple[dict, dict]:
    from calcium_dynamics.config import project_parameters

    params = project_parameters()  # conf/base, as `kedro run` reads it
    return params, params["lfads_search"]


def _data(lfads_params: dict, variant: str):
    from calcium_dynamics.simulate import lorenz_datasets

    truth, imaging = lorenz_datasets.simulate_lorenz_imaging(lfads_params["lorenz_simulation"])
    events = lorenz_datasets.deconvolve_lorenz_imaging(
        imaging, lfads_params["lorenz_simulation"]["deconvolution"]
    )
    key = {"radical": "events", "autolfads": "frame_counts"}[variant]
    return truth, imaging, events[key]


def _z_r2(rates, truth, imaging, variant, eval_params) -> dict:
    from calcium_dynamics.metrics.latent_recovery import frames_to_bins, latent_r2

    latents = truth["latents"]
    if variant == "autolfads":
        rates = frames_to_bins(rates, int(imaging["frame_bins"]), latents.shape[1])
    res = latent_r2(
        rates,
        latents,
        n_splits=int(eval_params["n_splits"]),
        inner_folds=int(eval_params["inner_folds"]),
        lag_bins=int(eval_params["lag_bins"]),
        seed=int(eval_params["seed"]),
    )
    return {"r2_x": float(res.r2[0]), "r2_y": float(res.r2[1]), "r2_z": float(res.r2[2])}


def _train_hand(args) -> dict:
    """One hand-configured model (in a worker process, one thread)."""
    import torch

    from calcium_dynamics.models.lfads.training import train_lfads
    from calcium_dynamics.tuning.search_space import apply_hyperparameters

    torch.set_num_threads(1)
    name, config, model_params, trainer, lfads_params, variant, seed = args
    truth, imaging, data = _data(lfads_params, variant)
    t0 = time.perf_counter()
    model, info = train_lfads(
        data,
        variant,
        apply_hyperparameters(model_params, config),
        trainer,
        valid_fraction=float(lfads_params["lfads"]["valid_fraction"]),
        seed=seed,
    )
    fit_s = time.perf_counter() - t0
    rates = model.infer(data)["rates"]
    score = _z_r2(rates, truth, imaging, variant, lfads_params["lfads_evaluation"])
    return {
        "name": name,
        "hyperparameters": config,
        "valid_recon": float(info["metrics"].get("valid/recon", np.nan)),
        "fit_s": fit_s,
        **score,
    }


def main(argv=None) -> None:
    from calcium_dynamics.models.lfads.training import variant_model_params
    from calcium_dynamics.provenance import command_line, run_record
    from calcium_dynamics.tuning.pbt import PBTSettings, run_pbt
    from calcium_dynamics.tuning.search_space import initial_population, parse_search_space

    lfads_params, search = _params()
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--variant", default=search["variant"], choices=("radical", "autolfads"))
    ap.add_argument("--population", type=int, default=search["population_size"])
    ap.add_argument("--epochs-per-generation", type=int, default=search["epochs_per_generation"])
    ap.add_argument("--generations", type=int, default=search["max_generations"])
    ap.add_argument("--num-cpus", type=int, default=os.cpu_count())
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--batch-size", type=int, default=None, help="trials per batch (default: lfads.trainer)"
    )
    ap.add_argument(
        "--simulation",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="overrides of lorenz_simulation, e.g. n_neurons=278 n_trials_per_condition=20",
    )
    ap.add_argument("--skip-hand", action="store_true", help="only the PBT run")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)

    variant = args.variant
    for item in args.simulation:
        key, _, value = item.partition("=")
        if key not in lfads_params["lorenz_simulation"]:
            raise SystemExit(f"--simulation: unknown lorenz_simulation key {key!r}")
        lfads_params["lorenz_simulation"][key] = yaml.safe_load(value)
    total_epochs = args.generations * args.epochs_per_generation
    model_params = variant_model_params(lfads_params["lfads"], variant)
    trainer = {
        **lfads_params["lfads"]["trainer"],
        "logger": False,
        "enable_progress_bar": False,
    }
    if args.batch_size:
        trainer["batch_size"] = args.batch_size
    space_spec = dict(search["search_space"])
    if variant != "radical":
        space_spec.pop("sig_prior", None)
    space = parse_search_space(space_spec)
    initial = initial_population(space, args.population, args.seed)
    truth, imaging, data = _data(lfads_params, variant)
    log(
        f"{variant}: data {data.shape} (trials, bins, neurons); population {args.population}, "
        f"{args.generations} generations × {args.epochs_per_generation} epochs; "
        f"{args.num_cpus} CPUs"
    )
    result: dict = {
        "variant": variant,
        "data_shape": list(data.shape),
        "simulation_overrides": args.simulation,
        "population": args.population,
        "epochs_per_generation": args.epochs_per_generation,
        "generations": args.generations,
        "cpus": args.num_cpus,
        "batch_size": trainer["batch_size"],
        "machine": platform.processor() or platform.machine(),
        "date": time.strftime("%Y-%m-%d"),
        "provenance": run_record(
            command_line(__file__, sys.argv[1:] if argv is None else argv),
            seeds={
                "search": args.seed,
                "lorenz_simulation": int(lfads_params["lorenz_simulation"]["seed"]),
            },
            threads=1,
            cwd=ROOT,
        ),
        "selection": "members ranked by the validation reconstruction cost (valid/recon) only; "
        "the latent R² below is reported, never used to choose",
    }

    if not args.skip_hand:
        jobs = [("default", {}, model_params, {**trainer, "max_epochs": total_epochs})]
        jobs += [
            (f"draw_{i}", cfg, model_params, {**trainer, "max_epochs": total_epochs})
            for i, cfg in enumerate(initial)
        ]
        t0 = time.perf_counter()
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=args.num_cpus, mp_context=ctx) as pool:
            hand = list(
                pool.map(
                    _train_hand,
                    [(n, c, m, t, lfads_params, variant, args.seed) for n, c, m, t in jobs],
                )
            )
        hand_wall = time.perf_counter() - t0
        for row in hand:
            log(
                f"hand {row['name']:8s} Z R² {row['r2_z']:.3f}  valid NLL {row['valid_recon']:.4f}"
                f"  ({row['fit_s']:.0f} s)"
            )
        result["hand_configured"] = hand
        result["hand_median_r2_z"] = float(np.median([r["r2_z"] for r in hand]))
        result["hand_best_r2_z"] = float(np.max([r["r2_z"] for r in hand]))
        result["hand_wall_s"] = hand_wall
        log(f"hand-configured: median Z R² {result['hand_median_r2_z']:.3f} ({hand_wall:.0f} s)")

    settings = PBTSettings(
        variant=variant,
        population_size=args.population,
        epochs_per_generation=args.epochs_per_generation,
        max_generations=args.generations,
        patience=args.generations,  # the same budget as the hand-configured models
        quantile_fraction=float(search["quantile_fraction"]),
        search_space=space_spec,
        seed=args.seed,
        num_cpus=args.num_cpus,
    )
    pbt = run_pbt(
        data,
        model_params,
        trainer,
        settings,
        valid_fraction=float(lfads_params["lfads"]["valid_fraction"]),
    )
    rates = pbt.model.infer(data)["rates"]
    score = _z_r2(rates, truth, imaging, variant, lfads_params["lfads_evaluation"])
    history = pbt.history
    result["pbt"] = {
        **score,
        "best": pbt.best,
        "wall_s": pbt.wall_s,
        "cpus": pbt.cpus,
        "exploits": int((history["exploited_from"].astype(str) != "").sum()),
        "best_valid_recon_per_generation": history.groupby("generation")["valid_recon"]
        .min()
        .round(6)
        .tolist(),
    }
    log(
        f"PBT: best Z R² {score['r2_z']:.3f}, valid NLL {pbt.best['valid_recon']:.4f} "
        f"(generation {pbt.best['generation']}), {result['pbt']['exploits']} exploits, "
        f"{pbt.wall_s:.0f} s on {pbt.cpus:.0f} CPUs"
    )
    if "hand_median_r2_z" in result:
        result["pbt_beats_median_hand"] = bool(score["r2_z"] > result["hand_median_r2_z"])
        log(
            f"PBT best Z R² {score['r2_z']:.3f} vs hand-configured median "
            f"{result['hand_median_r2_z']:.3f} (best {result['hand_best_r2_z']:.3f})"
        )
    old = json.loads(args.out.read_text()) if args.out.exists() else {}
    merged = copy.deepcopy(old)
    merged[variant] = result
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(merged, indent=2))
    log(f"written {args.out}")


if __name__ == "__main__":
    main()
