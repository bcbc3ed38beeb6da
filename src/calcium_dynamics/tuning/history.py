"""A population's history as a figure: validation loss and hyperparameters per generation."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from calcium_dynamics.tuning.search_space import HyperParameter


def history_figure(history: pd.DataFrame, space: dict[str, HyperParameter]) -> plt.Figure:
    """Validation reconstruction loss per member and generation, then one panel per searched
    hyperparameter; a ring marks a generation a member started from another member's weights.

    Args:
        history: the rows of :attr:`calcium_dynamics.tuning.pbt.PBTResult.history`.
        space: the search space (log-scale parameters get a log axis).
    """
    required = {"member", "generation", "valid_recon", "exploited_from"}
    missing = required - set(history.columns)
    if missing:
        raise ValueError(f"population history lacks column(s) {sorted(missing)}")
    names = [n for n in space if n in history.columns]
    n_panels = 1 + len(names)
    n_cols = min(3, n_panels)
    n_rows = math.ceil(n_panels / n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(4.2 * n_cols, 3.0 * n_rows), squeeze=False)
    flat = axes.ravel()
    members = sorted(history["member"].unique())
    colours = plt.cm.viridis(np.linspace(0.0, 0.9, max(len(members), 1)))
    for colour, member in zip(colours, members):
        rows = history[history["member"] == member].sort_values("generation")
        # a table read back from CSV holds NaN where no weights were copied
        source = rows["exploited_from"]
        jumped = source.notna() & (source.astype(str) != "")
        for ax, column in zip(flat, ["valid_recon", *names]):
            ax.plot(rows["generation"], rows[column], "-", color=colour, lw=1.2)
            ax.plot(
                rows["generation"][jumped],
                rows[column][jumped],
                "o",
                mfc="none",
                mec=colour,
                ms=7,
            )
    flat[0].set(title="validation loss (reconstruction)", xlabel="generation", ylabel="NLL")
    best = history.groupby("generation")["valid_recon"].min()
    flat[0].plot(best.index, best.values, "k--", lw=1, label="population best")
    flat[0].legend(fontsize=7)
    for ax, name in zip(flat[1:], names):
        ax.set(title=name, xlabel="generation")
        if space[name].log:
            ax.set_yscale("log")
    for ax in flat[n_panels:]:
        ax.set_visible(False)
    fig.suptitle("population-based training (rings: weights copied from a better member)")
    fig.tight_layout()
    return fig
