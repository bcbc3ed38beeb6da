"""Figures of one recording's report: traces with inferred rates and events, the event raster,
latent trajectories by condition, the HMM state raster and the held-out model comparison."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

#: colours of conditions (cycled)
CONDITION_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def plot_traces_with_rates(
    dff: pd.DataFrame, spikes: pd.DataFrame, n_examples: int, max_seconds: float
) -> plt.Figure:
    """ΔF/F of a few cells (lowest to highest noise level ν) with the inferred rate (Hz, right
    axis), its calibrated interval (shaded, where ``spikes`` has ``rate_lo_hz`` /
    ``rate_hi_hz``) and events (ticks) over the first ``max_seconds`` s."""
    nu = dff["noise_level_nu"].to_numpy(float) if "noise_level_nu" in dff else np.zeros(len(dff))
    order = np.argsort(np.nan_to_num(nu, nan=np.inf))
    picks = order[
        np.unique(np.linspace(0, len(order) - 1, min(n_examples, len(order))).astype(int))
    ]
    fig, axes = plt.subplots(len(picks), 1, figsize=(10, 1.7 * len(picks) + 0.4), squeeze=False)
    for ax, i in zip(axes[:, 0], picks, strict=True):
        rate_hz = float(dff["frame_rate_hz"].iloc[i])
        trace = np.asarray(dff["dff"].iloc[i], float)
        n = min(trace.size, int(max_seconds * rate_hz))
        t = np.arange(n) / rate_hz
        ax.plot(t, trace[:n], color="0.35", lw=0.8, label="ΔF/F")
        ax.set_ylabel("ΔF/F")
        twin = ax.twinx()
        row = spikes.iloc[i]
        twin.plot(t, np.asarray(row["rate_hz"], float)[:n], color="#d62728", lw=0.9, label="rate")
        if "rate_lo_hz" in row.index and np.size(row["rate_lo_hz"]) >= n:
            twin.fill_between(
                t,
                np.asarray(row["rate_lo_hz"], float)[:n],
                np.asarray(row["rate_hi_hz"], float)[:n],
                color="#d62728",
                alpha=0.2,
                lw=0,
                label="interval",
            )
        twin.set_ylabel("Hz", color="#d62728")
        events = np.asarray(row["spike_times_s"], float)
        events = events[events < t[-1]] if t.size else events
        top = np.nanmax(trace[:n]) if n else 1.0
        ax.plot(events, np.full(events.size, top * 1.08), "|", color="k", ms=6)
        title = f"{row['trace_id']}  (ν = {nu[i]:.2g})"
        if "interval_wide" in str(row.get("warnings", "")):
            title += "  interval too wide to be useful"
        ax.set_title(title, fontsize=9, loc="left")
        ax.set_xlim(0, max(t[-1], 1e-3) if t.size else 1.0)
    axes[-1, 0].set_xlabel("time (s)")
    fig.tight_layout()
    return fig


def plot_event_raster(spikes: pd.DataFrame, max_neurons: int, duration_s: float) -> plt.Figure:
    """Inferred events of up to ``max_neurons`` cells (one row each) over the recording."""
    rows = spikes.iloc[:max_neurons]
    fig, ax = plt.subplots(figsize=(10, min(0.12 * len(rows) + 1.2, 12)))
    for k, times in enumerate(rows["spike_times_s"]):
        times = np.asarray(times, float)
        ax.plot(times, np.full(times.size, k), "|", color="k", ms=3, mew=0.6)
    ax.set_xlim(0, duration_s)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("cell")
    ax.set_title(f"inferred events ({len(rows)} of {len(spikes)} cells)", fontsize=10, loc="left")
    fig.tight_layout()
    return fig


def _latent_keys(arrays: dict[str, np.ndarray]) -> list[str]:
    return sorted(k[: -len("_condition_mean")] for k in arrays if k.endswith("_condition_mean"))


def plot_latent_trajectories(arrays: dict[str, np.ndarray]) -> plt.Figure | None:
    """Trial-averaged latent trajectories per condition, one panel per model: the first two
    latents against each other (start marked with a dot). ``None`` without latents."""
    models = _latent_keys(arrays)
    if not models:
        return None
    codes = np.asarray(arrays["conditions"])
    fig, axes = plt.subplots(1, len(models), figsize=(3.6 * len(models), 3.5), squeeze=False)
    for ax, model in zip(axes[0], models, strict=True):
        means = np.asarray(arrays[f"{model}_condition_mean"], float)
        if means.shape[2] < 2:
            means = np.concatenate([means, np.zeros_like(means)], axis=2)
        if model.endswith("lfads"):  # 16 factors: their first two principal components
            flat = means.reshape(-1, means.shape[2])
            flat = flat - flat.mean(axis=0)
            _, _, vt = np.linalg.svd(flat, full_matrices=False)
            means = (means - means.reshape(-1, means.shape[2]).mean(axis=0)) @ vt[:2].T
        for c, code in enumerate(codes):
            colour = CONDITION_COLOURS[c % len(CONDITION_COLOURS)]
            ax.plot(means[c, :, 0], means[c, :, 1], color=colour, lw=1.5, label=f"cond. {code}")
            ax.plot(means[c, 0, 0], means[c, 0, 1], "o", color=colour, ms=4)
        ax.set_title(model, fontsize=10)
        ax.set_xlabel("latent 1" if not model.endswith("lfads") else "factor PC 1")
        ax.set_ylabel("latent 2" if not model.endswith("lfads") else "factor PC 2")
    axes[0, 0].legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def plot_hmm_states(arrays: dict[str, np.ndarray]) -> plt.Figure | None:
    """Most probable HMM state per bin (rows: trials sorted by condition; test trials marked).
    ``None`` without HMM states."""
    if "hmm_calcium_states" not in arrays:
        return None
    states = np.asarray(arrays["hmm_calcium_states"])
    cond = np.asarray(arrays["condition"])
    order = np.lexsort((np.arange(len(cond)), cond))
    time_s = np.asarray(arrays["time_s"], float)
    fig, ax = plt.subplots(figsize=(8, min(0.08 * len(order) + 1.5, 10)))
    shown = np.ma.masked_less(states[order], 0)
    k = int(states.max()) + 1 if states.size else 1
    im = ax.imshow(
        shown,
        aspect="auto",
        interpolation="nearest",
        cmap=plt.get_cmap("tab10", k),
        vmin=-0.5,
        vmax=k - 0.5,
        extent=(
            time_s[0],
            time_s[-1] + (time_s[1] - time_s[0] if time_s.size > 1 else 1),
            len(order),
            0,
        ),
    )
    test = np.flatnonzero(np.asarray(arrays["test_trial"])[order])
    ax.plot(np.full(test.size, time_s[0]), test + 0.5, ">", color="k", ms=3, clip_on=False)
    ax.set_xlabel("time from trial alignment (s)")
    ax.set_ylabel("trial (sorted by condition; ▸ test)")
    fig.colorbar(im, ax=ax, ticks=range(k), label="state")
    fig.tight_layout()
    return fig


def plot_model_comparison(scores: pd.DataFrame) -> plt.Figure:
    """Held-out neurons' R² on the test trials, per model (dots: neurons; bar: median)."""
    models = list(dict.fromkeys(scores["model"]))
    fig, ax = plt.subplots(figsize=(1.3 * len(models) + 2, 3.4))
    rng = np.random.default_rng(0)
    for i, model in enumerate(models):
        r2 = scores.loc[scores["model"] == model, "r2"].to_numpy(float)
        ax.plot(i + rng.uniform(-0.15, 0.15, r2.size), r2, "o", color="0.5", ms=3)
        ax.plot([i - 0.3, i + 0.3], [np.median(r2)] * 2, color="k", lw=2)
    ax.axhline(0, color="0.8", lw=0.8)
    ax.set_xticks(range(len(models)), models, rotation=20, ha="right")
    ax.set_ylabel("held-out R² (test trials)")
    fig.tight_layout()
    return fig
