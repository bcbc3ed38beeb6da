"""Overview figure of the ground-truth database: every neuron's noise level and firing rate."""

from __future__ import annotations

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from calcium_dynamics.io.dataset_names import parse_dataset_name


def plot_ground_truth_overview(summary: pd.DataFrame) -> plt.Figure:
    """Noise level ν and firing rate of every neuron, grouped by dataset."""
    datasets = sorted(summary["dataset"].unique())
    fig, axes = plt.subplots(2, 1, figsize=(max(8.0, 0.6 * len(datasets) + 2), 7), sharex=True)
    rng = np.random.default_rng(0)
    for ax, column, label in (
        (axes[0], "noise_level_nu", "noise level ν (%·Hz$^{-1/2}$)"),
        (axes[1], "firing_rate_hz", "firing rate (Hz)"),
    ):
        for i, name in enumerate(datasets):
            values = summary.loc[summary["dataset"] == name, column].to_numpy(float)
            jitter = rng.uniform(-0.18, 0.18, values.size)
            ax.scatter(i + jitter, values, s=14, alpha=0.7, color="tab:blue")
            ax.hlines(np.nanmedian(values), i - 0.3, i + 0.3, color="k", lw=1.5)
        ax.set_ylabel(label)
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        ax.grid(alpha=0.3, which="both", axis="y")
    axes[1].set_xticks(range(len(datasets)))
    labels = []
    for name in datasets:
        info = parse_dataset_name(name)
        labels.append(f"DS{info.number:02d}\n{info.indicator}\n{info.cell_type[:3]}")
    axes[1].set_xticklabels(labels, fontsize=7)
    axes[0].set_title(
        f"Ground truth: {len(summary)} neurons, {len(datasets)} datasets\n"
        "dots: neurons, bars: medians",
        fontsize=10,
    )
    axes[0].yaxis.set_minor_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    axes[0].tick_params(axis="y", which="minor", labelsize=7)
    axes[1].yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    fig.tight_layout()
    return fig
