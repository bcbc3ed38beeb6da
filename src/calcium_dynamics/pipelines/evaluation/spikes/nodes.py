"""Spike-inference evaluation nodes: per-neuron metrics, medians with CIs, figures."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from calcium_dynamics.metrics.spike_neurons import METRICS, ground_truth_rate
from calcium_dynamics.metrics.spike_neurons import neuron_metrics as metrics_per_neuron
from calcium_dynamics.metrics.spikes import median_with_ci


def neuron_metrics(truth: pd.DataFrame, *predictions: pd.DataFrame) -> pd.DataFrame:
    """Metrics per model and neuron (``metrics.spike_neurons.neuron_metrics``)."""
    return metrics_per_neuron(truth, *predictions)


def summarize_metrics(per_neuron: pd.DataFrame) -> pd.DataFrame:
    """Median and 95 % bootstrap CI per model, dataset (and ``all``) and metric."""
    rows = []
    for model, by_model in per_neuron.groupby("model"):
        groups = [("all", by_model), *by_model.groupby("dataset")]
        for dataset, grp in groups:
            for metric in METRICS:
                med, lo, hi = median_with_ci(grp[metric].to_numpy(float))
                rows.append(
                    {
                        "model": model,
                        "dataset": dataset,
                        "metric": metric,
                        "n_neurons": len(grp),
                        "median": med,
                        "ci_low": lo,
                        "ci_high": hi,
                    }
                )
    return pd.DataFrame(rows)


def plot_example_predictions(
    truth: pd.DataFrame, *predictions: pd.DataFrame, n_examples: int = 3, seconds: float = 30.0
) -> plt.Figure:
    """ΔF/F, true rate and each model's predicted rate for a few held-out recordings."""
    ids = list(truth["trace_id"])[:n_examples]
    fig, axes = plt.subplots(len(ids), 1, figsize=(10, 2.6 * max(len(ids), 1)), squeeze=False)
    for ax, tid in zip(axes[:, 0], ids):
        row = truth.set_index("trace_id").loc[tid]
        fr = float(row["frame_rate_hz"])
        n = min(len(row["dff"]), int(seconds * fr))
        t = np.arange(n) / fr
        ax.plot(t, np.asarray(row["dff"])[:n], color="0.6", lw=0.8, label="ΔF/F")
        ax2 = ax.twinx()
        for pred, color in zip(predictions, ("tab:red", "tab:blue", "tab:green")):
            match = pred[pred["trace_id"] == tid]
            if match.empty:
                continue
            p = match.iloc[0]
            gt = ground_truth_rate(row["spike_times_s"], len(row["dff"]), fr, p["sigma_s"]) * fr
            ax2.plot(t, np.asarray(p["rate_hz"])[:n], color=color, lw=1, label=p["model"])
        ax2.plot(t, gt[:n], color="k", lw=1, ls="--", label="truth")
        spikes = np.asarray(row["spike_times_s"])
        ax2.plot(spikes[spikes < t[-1]], np.full((spikes < t[-1]).sum(), -1.0), "|k", ms=6)
        ax.set_title(str(tid), fontsize=8)
        ax.set_ylabel("ΔF/F")
        ax2.set_ylabel("rate (Hz)")
        ax2.legend(loc="upper right", fontsize=7)
    axes[-1, 0].set_xlabel("time (s)")
    fig.tight_layout()
    return fig


def plot_metric_distributions(per_neuron: pd.DataFrame) -> plt.Figure:
    """Per-neuron metric values per dataset and model (dots) with medians (bars)."""
    fig, axes = plt.subplots(2, 3, figsize=(13, 6.5))
    models = sorted(per_neuron["model"].unique())
    datasets = sorted(per_neuron["dataset"].unique())
    width = 0.8 / max(len(models), 1)
    for ax, metric in zip(axes.ravel(), METRICS):
        for k, model in enumerate(models):
            sub = per_neuron[per_neuron["model"] == model]
            for i, ds in enumerate(datasets):
                v = sub.loc[sub["dataset"] == ds, metric].to_numpy(float)
                x = i - 0.4 + width * (k + 0.5)
                ax.scatter(
                    np.full(v.size, x),
                    v,
                    s=8,
                    color=f"C{k}",
                    alpha=0.7,
                    label=model if i == 0 else None,
                )
                if np.isfinite(v).any():
                    ax.hlines(np.nanmedian(v), x - width / 2, x + width / 2, color=f"C{k}")
        ax.set_title(metric)
        ax.set_xticks(range(len(datasets)))
        ax.set_xticklabels([d.split("-")[0] for d in datasets], fontsize=7, rotation=90)
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    return fig
