"""Evaluation of the LFADS family: latent recovery R² against the true Lorenz states."""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from calcium_dynamics.metrics.latent_recovery import frames_to_bins, latent_r2, smooth_frames

DIMS = ("x", "y", "z")


def lorenz_method_features(
    events: dict[str, np.ndarray],
    radical_output: dict[str, np.ndarray],
    autolfads_output: dict[str, np.ndarray],
    n_bins: int,
    frame_bins: int,
    sigma_s: float,
) -> dict[str, np.ndarray]:
    """Rates of each method at the 10 ms bins, (trials, T, N).

    RADICaL gives rates per bin; AutoLFADS, smoothed deconvolved events (smth-dec) and smoothed
    sampled fluorescence (smth-sim-fluor) are at frame times and are linearly interpolated.
    """
    frame_rate = float(events["frame_rate_hz"])
    return {
        "radical": radical_output["rates"],
        "autolfads": frames_to_bins(autolfads_output["rates"], frame_bins, n_bins),
        "smth_dec": frames_to_bins(
            smooth_frames(events["frame_events"], frame_rate, sigma_s), frame_bins, n_bins
        ),
        "smth_sim_fluor": frames_to_bins(
            smooth_frames(events["frame_fluorescence"], frame_rate, sigma_s), frame_bins, n_bins
        ),
    }


def _validation_trials(*outputs: dict[str, np.ndarray]) -> np.ndarray:
    """The validation trials the LFADS models were trained without (the same in each)."""
    valid = [np.sort(np.asarray(o["valid_idx"], dtype=np.int64)) for o in outputs]
    if any(not np.array_equal(valid[0], v) for v in valid[1:]):
        raise ValueError("the LFADS variants were validated on different trials")
    return valid[0]


def _recovery_table(
    features: dict[str, np.ndarray],
    latents: np.ndarray,
    params: dict[str, Any],
    lag: int,
    test_trials: np.ndarray,
):
    """Latent R² of each method: ridge map fitted on the LFADS training trials, scored on
    ``test_trials`` (the LFADS validation trials, which no model trained on)."""
    rows, results = [], {}
    for method, x in features.items():
        res = latent_r2(
            x,
            latents,
            n_splits=int(params["n_splits"]),
            inner_folds=int(params["inner_folds"]),
            lag_bins=lag,
            seed=int(params["seed"]),
            test_trials=test_trials,
        )
        results[method] = res
        row = {"method": method, "lag_bins": lag}
        row.update({f"r2_{d}": float(v) for d, v in zip(DIMS, res.r2)})
        row["r2_mean"] = float(np.mean(res.r2))
        rows.append(row)
    return pd.DataFrame(rows), results


def evaluate_lorenz_latents(
    truth: dict[str, np.ndarray],
    imaging: dict[str, np.ndarray],
    events: dict[str, np.ndarray],
    radical_output: dict[str, np.ndarray],
    autolfads_output: dict[str, np.ndarray],
    params: dict[str, Any],
) -> tuple[pd.DataFrame, dict[str, Any], plt.Figure]:
    """Latent R² (x, y, z) of RADICaL, AutoLFADS, smth-dec and smth-sim-fluor, and a figure of
    true vs held-out predicted Lorenz trajectories."""
    latents = truth["latents"]
    n_bins = latents.shape[1]
    features = lorenz_method_features(
        events,
        radical_output,
        autolfads_output,
        n_bins,
        int(imaging["frame_bins"]),
        float(params["smoothing_sigma_s"]),
    )
    test = _validation_trials(radical_output, autolfads_output)
    table, results = _recovery_table(features, latents, params, int(params["lag_bins"]), test)
    metrics = {
        row["method"]: {k: v for k, v in row.items() if k != "method"}
        for row in table.to_dict("records")
    }
    fig = plot_lorenz_trajectories(latents, results, int(params["example_trials"]))
    return table, metrics, fig


def plot_lorenz_trajectories(latents: np.ndarray, results: dict, n_trials: int) -> plt.Figure:
    """Z over time for example held-out trials (true vs each method's held-out prediction),
    and the x–z plane of the first of them."""
    methods = list(results)
    lag = next(iter(results.values())).lag_bins
    true = latents[:, : latents.shape[1] - lag]
    scored = np.flatnonzero(np.isfinite(next(iter(results.values())).r2_per_trial))
    trials = scored[: max(1, min(n_trials, scored.size))]
    fig, axes = plt.subplots(1, len(trials) + 1, figsize=(4 * (len(trials) + 1), 3.2))
    t = np.arange(true.shape[1])
    for ax, trial in zip(axes[:-1], trials):
        ax.plot(t, true[trial, :, 2], "k", lw=2, label="true")
        for m in methods:
            ax.plot(t, results[m].predictions[trial, :, 2], lw=1, label=m)
        ax.set(title=f"held-out trial {trial}: Lorenz z", xlabel="bin (10 ms)")
    axes[0].legend(fontsize=7)
    ax, first = axes[-1], trials[0]
    ax.plot(true[first, :, 0], true[first, :, 2], "k", lw=2)
    for m in methods:
        ax.plot(results[m].predictions[first, :, 0], results[m].predictions[first, :, 2], lw=1)
    ax.set(title=f"trial {first}: x–z plane", xlabel="x", ylabel="z")
    fig.tight_layout()
    return fig


def evaluate_calcium_latents(
    calcium: dict[str, np.ndarray],
    calcium_output: dict[str, np.ndarray],
    gaussian_output: dict[str, np.ndarray],
    params: dict[str, Any],
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Latent R² of calcium-LFADS vs Gaussian-LFADS (log rates / means → true Lorenz states)
    on the validation trials neither trained on, and on how many of them each is better."""
    latents = calcium["latents"]
    features = {
        "calcium_lfads": np.log(np.clip(calcium_output["rates"], 1e-6, None)),
        "gaussian_lfads": gaussian_output["rates"],
    }
    test = _validation_trials(calcium_output, gaussian_output)
    table, results = _recovery_table(features, latents, params, 0, test)
    better = (results["calcium_lfads"].r2_per_trial > results["gaussian_lfads"].r2_per_trial)[test]
    metrics = {
        row["method"]: {k: v for k, v in row.items() if k != "method"}
        for row in table.to_dict("records")
    }
    metrics["calcium_better_trials"] = int(better.sum())
    metrics["n_trials"] = int(better.size)
    return table, metrics
