"""Latent models on a lab's trials: the shipped example end to end, and a 500-cell scale run.

``example`` (default) runs exactly what a user runs, ``kedro run --pipeline recordings`` on the
shipped two-plane example with the project's parameters, in this checkout, then reads the
outputs: per plane and model the fit time and peak memory (from the run's tables), the
co-smoothing scores on the test trials and — because the example is simulated — the held-out
recovery of its true latent (a linear map fitted on the training trials, R² on the test
trials) and of its true states (adjusted Rand index of the HMM's states on the test trials).
It also saves a screenshot of plane 0's report (headless Chromium, offline) to
``docs/assets/recording_report.png``.

``--scale`` times the latent models on a synthetic recording of 500 cells × 200 trials (the
same latent and trial structure; ΔF/F simulated directly, no spike inference), one thread.

    OMP_NUM_THREADS=1 python benchmarks/recordings_dynamics.py
    OMP_NUM_THREADS=1 python benchmarks/recordings_dynamics.py --scale

Results are merged into ``benchmarks/results/recordings_dynamics/recordings_dynamics.json``
under ``example`` or ``scale``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
from calcium_dynamics.config import project_parameters
from calcium_dynamics.provenance import command_line, run_record

RESULTS = ROOT / "benchmarks/results/recordings_dynamics/recordings_dynamics.json"
SCREENSHOT = ROOT / "docs/assets/recording_report.png"


def _offline_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DO_NOT_TRACK="1",
        KEDRO_DISABLE_TELEMETRY="true",
        OMP_NUM_THREADS="1",
        HTTP_PROXY="http://127.0.0.1:9",
        HTTPS_PROXY="http://127.0.0.1:9",
    )
    return env


def heldout_r2(inferred: np.ndarray, true: np.ndarray, test: np.ndarray) -> list[float]:
    """R² per true latent on the test trials of a linear map fitted on the training trials."""
    from calcium_dynamics.metrics.latents_linear import apply_linear_map, fit_linear_map

    q = inferred.shape[2]
    w = fit_linear_map(inferred[~test].reshape(-1, q), true[~test].reshape(-1, true.shape[2]))
    pred = apply_linear_map(inferred[test].reshape(-1, q), w)
    y = true[test].reshape(-1, true.shape[2])
    r2 = 1 - ((y - pred) ** 2).sum(axis=0) / ((y - y.mean(axis=0)) ** 2).sum(axis=0)
    return [round(float(v), 4) for v in r2]


def _one(folder: Path, pattern: str) -> Path:
    found = sorted(folder.glob(pattern))
    if len(found) != 1:
        raise RuntimeError(f"expected one {pattern} in {folder}, found {found}")
    return found[0]


def _truth_scores(plane: int, dynamics: dict, trials_npz: dict) -> dict:
    from sklearn.metrics import adjusted_rand_score

    from calcium_dynamics.simulate.suite2p_example import simulate_trials_example

    session = simulate_trials_example().session
    rate = float(trials_npz["frame_rate_hz"])
    first = np.round(np.asarray(trials_npz["align_time_s"]) * rate).astype(int)
    window = first[:, None] + np.arange(np.asarray(trials_npz["dff"]).shape[1])
    z, states = session.latents[window], session.states[window]
    test = np.asarray(dynamics["test_trial"], bool)
    out = {}
    for key in sorted(dynamics):
        if key.endswith("_latents") or key.endswith("_factors"):
            out[f"{key}_heldout_r2"] = heldout_r2(np.asarray(dynamics[key]), z, test)
    if "hmm_calcium_states" in dynamics:
        hmm = np.asarray(dynamics["hmm_calcium_states"])
        out["hmm_calcium_states_heldout_ari"] = round(
            float(adjusted_rand_score(states[test].ravel(), hmm[test].ravel())), 4
        )
    return out


def _screenshot(report: Path) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        print("chromium not found: no screenshot")
        return
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        shot = Path(tmp) / "full.png"
        subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--force-device-scale-factor=1",
                "--host-resolver-rules=MAP * ~NOTFOUND",
                f"--user-data-dir={tmp}/profile",
                "--window-size=1200,9000",
                f"--screenshot={shot}",
                report.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
            env={**_offline_env(), "HOME": tmp},
        )
        from PIL import Image

        image = Image.open(shot).convert("RGB")
        image = image.resize((image.width // 2, image.height // 2), Image.LANCZOS)
        image.save(SCREENSHOT, optimize=True)
    print("screenshot:", SCREENSHOT.relative_to(ROOT))


def run_example() -> dict:
    from calcium_dynamics.io.latent_lfads import NpzDataset

    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "kedro", "run", "--pipeline", "recordings"],
        cwd=ROOT,
        env=_offline_env(),
        check=True,
    )
    wall = time.perf_counter() - t0
    planes = {}
    for plane in (0, 1):
        name = f"plane{plane}"
        tables = json.loads(
            _one(ROOT / "data/08_reporting/recording_dynamics", f"{name}-*.json").read_text()
        )
        dynamics = NpzDataset(
            str(_one(ROOT / "data/07_model_output/recording_dynamics", f"{name}-*.npz"))
        ).load()
        trials = NpzDataset(
            str(_one(ROOT / "data/05_model_input/recording_trials", f"{name}-*.npz"))
        ).load()
        scores = pd.DataFrame(tables["scores"])
        planes[name] = {
            "timings": tables["timings"],
            "hmm_curve": tables["hmm_curve"],
            "notes": tables["notes"],
            "cosmoothing_median": scores.groupby("model", sort=False)[
                ["r2", "ll_per_bin", "ll_gain_per_bin"]
            ]
            .median()
            .round(4)
            .to_dict("index"),
            "truth": _truth_scores(plane, dynamics, trials),
        }
    _screenshot(_one(ROOT / "data/08_reporting/recordings", "plane0-*") / "report.html")
    return {"pipeline_wall_s": round(wall, 1), "planes": planes}


def run_scale(n_cells: int, n_trials: int, models: list[str], seed: int) -> dict:
    from calcium_dynamics.recordings.dynamics import fit_trial_dynamics, lfads_settings
    from calcium_dynamics.simulate.trial_latents import latent_rates, simulate_trial_session

    session = simulate_trial_session(n_trials, 15.0, seed=seed)
    rates, _, _ = latent_rates(session.latents, n_cells, seed=seed + 1)
    rng = np.random.default_rng(seed + 2)
    kernel_t = np.arange(int(8 * 0.7 * 15)) / 15.0
    kernel = np.exp(-kernel_t / 0.7) - np.exp(-kernel_t / 0.05)
    kernel /= kernel.max()
    counts = rng.poisson(rates / 15.0)
    dff = np.stack([0.2 * np.convolve(c, kernel)[: c.size] for c in counts])
    dff += 0.03 * rng.standard_normal(dff.shape)
    first = np.round(session.trials["start_time"].to_numpy() * 15.0).astype(int)
    window = first[:, None] + np.arange(45)
    trials = {
        "dff": dff.T[window].astype(np.float32),
        "time_s": np.arange(45) / 15.0,
        "trace_id": np.array([f"cell{i}" for i in range(n_cells)]),
        "frame_rate_hz": np.float64(15.0),
        "trial_stimulus": session.trials["stimulus"].to_numpy(),
    }
    params = project_parameters()
    dyn = params["recordings"]["dynamics"]
    settings = {**dyn, "models": models, "lfads": lfads_settings(dyn, params["lfads"])}
    t0 = time.perf_counter()
    result = fit_trial_dynamics(trials, settings, f"{n_cells} cells × {n_trials} trials")
    test = result.arrays["test_trial"]
    z = session.latents[window]
    truth = {
        f"{k}_heldout_r2": heldout_r2(np.asarray(v), z, test)
        for k, v in result.arrays.items()
        if k.endswith("_latents") or k.endswith("_factors")
    }
    return {
        "n_cells": n_cells,
        "n_trials": n_trials,
        "n_bins": 45,
        "wall_s": round(time.perf_counter() - t0, 1),
        "timings": result.timings.round(2).to_dict("records"),
        "cosmoothing_median": result.scores.groupby("model", sort=False)["r2"]
        .median()
        .round(4)
        .to_dict(),
        "truth": truth,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", action="store_true", help="the 500-cell × 200-trial run")
    parser.add_argument("--cells", type=int, default=500)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument(
        "--models", default="gpfa_gaussian,gpfa_calcium,calcium_lfads", help="--scale only"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.scale:
        key = "scale"
        body = run_scale(args.cells, args.trials, args.models.split(","), args.seed)
    else:
        key = "example"
        body = run_example()
    record = {
        "provenance": run_record(
            command_line(__file__, argv), seeds=[args.seed], threads=1, cwd=ROOT
        ),
        **body,
    }
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    results[key] = record
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(record, indent=2)[:4000])


if __name__ == "__main__":
    main()
