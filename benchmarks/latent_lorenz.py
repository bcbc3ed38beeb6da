"""LFADS-family benchmark: training speed at the RADICaL paper sizes and latent recovery.

Timing: seconds per training epoch (384 training trials × 90 bins × 278 neurons, encoders 64,
controller 64, generator 100, factors 100, batch 128) and a forward pass over 96 trials for each
variant, plus the process's peak memory.

Accuracy: the paper configuration (conf/base + conf/paper parameters) — RADICaL, AutoLFADS and
smoothed deconvolved events on Lorenz data at the chosen speeds (Z-dimension latent R²), and
calcium-LFADS vs Gaussian-LFADS on the calcium-LFADS dataset of Keeley et al.

    python benchmarks/latent_lorenz.py --timing-only
    python benchmarks/latent_lorenz.py --speeds 10 --epochs 100 --variants radical autolfads
    python benchmarks/latent_lorenz.py --speeds --epochs 100 --variants calcium_lfads gaussian_lfads

Results are merged into benchmarks/results/latent_lorenz.json (one entry per part run).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from calcium_dynamics.metrics.latent_recovery import frames_to_bins, latent_r2, smooth_frames
from calcium_dynamics.models.lfads.data import LFADSDataModule
from calcium_dynamics.models.lfads.training import (
    EpochTimer,
    build_model,
    make_trainer,
    train_lfads,
)
from calcium_dynamics.pipelines.latent_dynamics.lfads import nodes

RESULTS = ROOT / "benchmarks" / "results" / "latent_lorenz.json"
LORENZ_VARIANTS = ("radical", "autolfads", "smth_dec")
CALCIUM_VARIANTS = ("calcium_lfads", "gaussian_lfads")


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def paper_parameters() -> dict:
    base = yaml.safe_load((ROOT / "conf/base/parameters_latent_lfads.yml").read_text())
    paper = yaml.safe_load((ROOT / "conf/paper/parameters_latent_lfads.yml").read_text())
    return _merge(base, paper)


def peak_memory_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def timing(params: dict, variants: list[str], epochs: int) -> dict:
    """Seconds per training epoch and per 96-trial forward pass at the paper sizes."""
    rng = np.random.default_rng(0)
    n_trials, n_bins, n_neurons = 480, 90, 278
    out = {}
    for variant in variants:
        if variant == "smth_dec":
            continue
        if variant == "radical":
            x = rng.gamma(1.0, 0.2, (n_trials, n_bins, n_neurons)) + 0.1
            x *= rng.random(x.shape) < 0.12
            x[:, ::3] = np.nan  # line-scan: one sample in three bins
        elif variant == "autolfads":
            x = rng.poisson(0.1, (n_trials, n_bins, n_neurons)).astype(float)
        else:
            x = rng.normal(0.0, 0.3, (n_trials, n_bins, n_neurons))
        x = x.astype(np.float32)
        model_params = {**params["lfads"]["model"], **(params["lfads"]["variants"][variant] or {})}
        torch.manual_seed(0)
        model = build_model(x, variant, model_params)
        model.initialise_from_data(x[:384])
        dm = LFADSDataModule(x, np.arange(384), np.arange(384, 480), batch_size=128)
        timer = EpochTimer()
        trainer = make_trainer(
            {
                "max_epochs": epochs,
                "accelerator": "cpu",
                "devices": 1,
                "precision": 32,
                "gradient_clip_val": 300.0,
                "enable_progress_bar": False,
            },
            callbacks=[timer],
        )
        t0 = time.perf_counter()
        trainer.fit(model, datamodule=dm)
        fit_s = time.perf_counter() - t0
        model.eval()
        xv = torch.nan_to_num(torch.as_tensor(x[384:]))
        fwd = []
        with torch.no_grad():
            for _ in range(5):
                t = time.perf_counter()
                model(xv, sample=False)
                fwd.append(time.perf_counter() - t)
        out[variant] = {
            "train_epoch_s": timer.epoch_s,
            "train_epoch_s_median": float(np.median(timer.epoch_s[1:] or timer.epoch_s)),
            "fit_s_incl_validation_per_epoch": fit_s / epochs,
            "forward_96_trials_s": float(np.median(fwd)),
            "peak_memory_gib_so_far": peak_memory_gib(),
        }
        log(
            f"timing {variant}: {out[variant]['train_epoch_s_median']:.2f} s / training epoch, "
            f"{out[variant]['fit_s_incl_validation_per_epoch']:.2f} s / epoch with validation, "
            f"forward 96 trials {out[variant]['forward_96_trials_s']:.3f} s, "
            f"peak memory {out[variant]['peak_memory_gib_so_far']:.2f} GiB"
        )
    return out


def _trainer(params: dict, epochs: int | None) -> dict:
    trainer = {**params["lfads"]["trainer"], "enable_progress_bar": False}
    if epochs is not None:
        trainer["max_epochs"] = epochs
    return trainer


def _model_params(params: dict, variant: str, epochs: int | None) -> dict:
    mp = {**params["lfads"]["model"], **(params["lfads"]["variants"][variant] or {})}
    if epochs is not None:  # keep the ramps inside a shortened run
        mp["kl_ramp_epochs"] = min(mp["kl_ramp_epochs"], max(1, epochs // 4))
        mp["l2_ramp_epochs"] = min(mp["l2_ramp_epochs"], max(1, epochs // 4))
    return mp


def _fit(data, variant, params, epochs):
    t0 = time.perf_counter()
    model, info = train_lfads(
        data,
        variant,
        _model_params(params, variant, epochs),
        _trainer(params, epochs),
        valid_fraction=params["lfads"]["valid_fraction"],
        seed=params["lfads"]["seed"],
    )
    return model.infer(data), time.perf_counter() - t0, info


def _r2(features, latents, ev, lag):
    res = latent_r2(
        features,
        latents,
        n_splits=ev["n_splits"],
        inner_folds=ev["inner_folds"],
        lag_bins=lag,
        seed=ev["seed"],
    )
    return [float(v) for v in res.r2], res


def lorenz_accuracy(params: dict, speed: float, variants: list[str], epochs: int | None) -> dict:
    sim = {**params["lorenz_simulation"], "speed_hz": speed}
    if float(speed) == 4.0:
        sim["n_bins"] = 120  # paper: 1200 ms trials at 4 Hz
    ev = params["lfads_evaluation"]
    t0 = time.perf_counter()
    truth, imaging = nodes.simulate_lorenz_imaging(sim)
    events = nodes.deconvolve_lorenz_imaging(imaging, sim["deconvolution"])
    log(f"{speed} Hz: simulated and deconvolved in {time.perf_counter() - t0:.1f} s")
    latents, n_bins = truth["latents"], truth["latents"].shape[1]
    fb, lag = int(imaging["frame_bins"]), int(ev["lag_bins"])
    result = {}
    for variant in variants:
        if variant == "smth_dec":
            f = smooth_frames(
                events["frame_events"], float(events["frame_rate_hz"]), ev["smoothing_sigma_s"]
            )
            r2, _ = _r2(frames_to_bins(f, fb, n_bins), latents, ev, lag)
            result[variant] = {"r2_xyz": r2}
        else:
            data = events["events"] if variant == "radical" else events["frame_counts"]
            inferred, secs, info = _fit(data, variant, params, epochs)
            rates = inferred["rates"]
            if variant == "autolfads":
                rates = frames_to_bins(rates, fb, n_bins)
            r2, _ = _r2(rates, latents, ev, lag)
            result[variant] = {
                "r2_xyz": r2,
                "train_s": secs,
                "epochs": len(info["epoch_s"]),
                "train_epoch_s_mean": float(np.mean(info["epoch_s"])),
            }
        log(f"{speed} Hz {variant}: R² x/y/z = {np.round(result[variant]['r2_xyz'], 3).tolist()}")
    return result


def calcium_accuracy(params: dict, variants: list[str], epochs: int | None) -> dict:
    data = nodes.simulate_calcium_lorenz(params["calcium_lorenz_simulation"])
    ev = params["lfads_evaluation"]
    result, per_trial = {}, {}
    for variant in variants:
        inferred, secs, info = _fit(data["dff"], variant, params, epochs)
        feats = inferred["rates"]
        if variant == "calcium_lfads":
            feats = np.log(np.clip(feats, 1e-6, None))
        r2, res = _r2(feats, data["latents"], ev, 0)
        per_trial[variant] = res.r2_per_trial
        result[variant] = {
            "r2_xyz": r2,
            "r2_mean": float(np.mean(r2)),
            "train_s": secs,
            "epochs": len(info["epoch_s"]),
        }
        log(
            f"calcium data {variant}: latent R² mean {np.mean(r2):.3f} (x/y/z "
            f"{np.round(r2, 3).tolist()})"
        )
    if len(per_trial) == 2:
        better = per_trial["calcium_lfads"] > per_trial["gaussian_lfads"]
        result["calcium_better_trials"] = f"{int(better.sum())}/{better.size}"
    return result


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--speeds",
        type=float,
        nargs="*",
        default=[4.0, 10.0, 15.0],
        help="Lorenz speeds (Hz) for the RADICaL comparison; none skips it",
    )
    ap.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="training epochs (default: the paper configuration's max_epochs)",
    )
    ap.add_argument("--variants", nargs="+", default=[*LORENZ_VARIANTS, *CALCIUM_VARIANTS])
    ap.add_argument("--timing-only", action="store_true", help="only the speed measurement")
    ap.add_argument("--timing-epochs", type=int, default=3)
    ap.add_argument("--skip-timing", action="store_true")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    params = paper_parameters()
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    env = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
    }
    if not args.skip_timing:
        log("timing at the RADICaL paper sizes")
        results["timing"] = {
            "env": env,
            "command": " ".join(sys.argv),
            "variants": timing(params, [v for v in args.variants], args.timing_epochs),
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2))
    if args.timing_only:
        return
    lorenz_vars = [v for v in args.variants if v in LORENZ_VARIANTS]
    for speed in args.speeds or []:
        if lorenz_vars:
            key = f"lorenz_{speed:g}hz"
            results[key] = {
                "command": " ".join(sys.argv),
                "epochs": args.epochs,
                **lorenz_accuracy(params, speed, lorenz_vars, args.epochs),
            }
            args.out.write_text(json.dumps(results, indent=2))
    calcium_vars = [v for v in args.variants if v in CALCIUM_VARIANTS]
    if calcium_vars:
        results["calcium_lorenz"] = {
            "command": " ".join(sys.argv),
            "epochs": args.epochs,
            **calcium_accuracy(params, calcium_vars, args.epochs),
        }
        args.out.write_text(json.dumps(results, indent=2))
    log(f"peak memory {peak_memory_gib():.2f} GiB; results in {args.out}")


if __name__ == "__main__":
    main()
