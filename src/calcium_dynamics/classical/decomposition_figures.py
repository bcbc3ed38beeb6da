"""Figures of the decomposition evaluation (model selection, time courses, weight maps) and
the arrays they read from the decomposition tables."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from calcium_dynamics.metrics.assignment import score_decomposition


def method_arrays(components: pd.DataFrame, method: str) -> tuple[np.ndarray, np.ndarray | None]:
    rows = components[components["method"] == method].sort_values("component")
    weights = np.stack([np.asarray(w, float) for w in rows["weights"]])
    courses = [np.asarray(t, float) for t in rows["time_course"]]
    time_courses = np.stack(courses, axis=1) if courses and courses[0].size else None
    return weights, time_courses


def true_networks(traces: pd.DataFrame, sources: pd.DataFrame):
    true_weights = np.stack([np.asarray(w, float) for w in traces["weights"]], axis=1)
    activity = np.stack([np.asarray(a, float) for a in sources.sort_values("source")["activity"]])
    node = traces["node"].to_numpy(int)
    membership = node if (node >= 0).all() else None
    return true_weights, activity.T, membership


def plot_model_selection(curves: pd.DataFrame) -> plt.Figure:
    """R² (NMF, PCA) and AIC (NMF) against k, one panel per dataset."""
    datasets = list(curves["dataset"].drop_duplicates())
    fig, axes = plt.subplots(1, len(datasets), figsize=(4.6 * len(datasets), 3.6), squeeze=False)
    for ax, name in zip(axes[0], datasets):
        c = curves[curves["dataset"] == name]
        nmf = c[c["method"] == "nmf"]
        pca = c[c["method"] == "pca"]
        ax.plot(nmf["n_components"], nmf["r2"], "o-", color="C0", label="NMF R²")
        if len(pca):
            ax.plot(
                pca["n_components"],
                pca["explained_variance"],
                "s--",
                color="C1",
                label="PCA explained var.",
            )
            ax.plot(pca["n_components"], pca["r2"], "^:", color="C2", label="PCA R² (+means)")
        ax.set_xlabel("components k")
        ax.set_ylabel("variance explained")
        ax.set_ylim(0, 1)
        ax2 = ax.twinx()
        ax2.plot(nmf["n_components"], nmf["aic"], "x-", color="C3", label="NMF AIC")
        chosen = nmf[nmf["selected"]]
        ax2.plot(chosen["n_components"], chosen["aic"], "*", ms=14, color="C3")
        ax2.set_ylabel("AIC")
        ax.set_title(f"{name}: AIC selects k = {int(chosen['n_components'].iloc[0])}")
        handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
        ax.legend(handles=handles, fontsize=7, loc="center right")
    fig.tight_layout()
    return fig


def plot_time_courses(
    process_components: pd.DataFrame,
    process_traces: pd.DataFrame,
    process_sources: pd.DataFrame,
    population_components: pd.DataFrame,
    seconds: float = 30.0,
) -> plt.Figure:
    """NMF time courses against their matched process activity; population NMF time courses."""
    weights, courses = method_arrays(process_components, "nmf")
    true_weights, activity, _ = true_networks(process_traces, process_sources)
    scores = score_decomposition(weights, courses, true_weights, activity, None)
    rate = float(process_components["frame_rate_hz"].iloc[0])
    n = min(courses.shape[0], int(seconds * rate))
    t = np.arange(n) / rate
    _, pop_courses = method_arrays(population_components, "nmf")
    k, kp = courses.shape[1], pop_courses.shape[1]
    fig, axes = plt.subplots(k + kp, 1, figsize=(9, 1.1 * (k + kp) + 1), sharex=True)
    for j in range(k):
        ax = axes[j]
        src = scores["matched_source"][j]
        z = (courses[:n, j] - courses[:n, j].mean()) / (courses[:n, j].std() + 1e-12)
        ax.plot(t, z, lw=0.8, color="C0", label=f"NMF component {j}")
        a = activity[:n, src]
        ax.plot(
            t,
            (a - a.mean()) / (a.std() + 1e-12),
            lw=0.8,
            color="k",
            alpha=0.6,
            label=f"process {src}",
        )
        ax.set_ylabel("z", fontsize=7)
        r = scores["matched_activity_correlation"][j]
        ax.set_title(f"process network, component {j} ↔ process {src}: r = {r:.2f}", fontsize=8)
        ax.legend(fontsize=6, loc="upper right")
    rate_pop = float(population_components["frame_rate_hz"].iloc[0])
    n_pop = min(pop_courses.shape[0], int(seconds * rate_pop))
    for j in range(kp):
        ax = axes[k + j]
        ax.plot(np.arange(n_pop) / rate_pop, pop_courses[:n_pop, j], lw=0.8, color="C2")
        ax.set_title(f"population recording, NMF component {j}", fontsize=8)
    axes[-1].set_xlabel("time (s)")
    fig.tight_layout()
    return fig


def plot_weight_maps(
    nodal_components: pd.DataFrame,
    nodal_traces: pd.DataFrame,
    process_components: pd.DataFrame,
    population_components: pd.DataFrame,
) -> plt.Figure:
    """Neuron weights per component, neurons sorted by their assigned component."""
    panels = []
    for name, comps in (
        ("nodal", nodal_components),
        ("process", process_components),
        ("population", population_components),
    ):
        for method in comps["method"].drop_duplicates():
            panels.append((name, method, method_arrays(comps, method)[0]))
    ncol = max(
        sum(1 for p in panels if p[0] == name) for name in ("nodal", "process", "population")
    )
    fig, axes = plt.subplots(3, ncol, figsize=(3.4 * ncol, 8), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    counters = {"nodal": 0, "process": 0, "population": 0}
    row_of = {"nodal": 0, "process": 1, "population": 2}
    for name, method, w in panels:
        ax = axes[row_of[name], counters[name]]
        counters[name] += 1
        ax.axis("on")
        assignment = np.argmax(w, axis=0)
        order = np.lexsort((-w.max(axis=0), assignment))
        scale = np.abs(w).max() or 1.0
        ax.imshow(
            w[:, order] / scale,
            aspect="auto",
            cmap="RdBu_r",
            vmin=-1,
            vmax=1,
            interpolation="nearest",
        )
        if name == "nodal":
            nodes = nodal_traces["node"].to_numpy(int)[order]
            ax.scatter(
                np.arange(nodes.size),
                np.full(nodes.size, w.shape[0] - 0.5),
                c=nodes,
                cmap="tab10",
                s=4,
                marker="s",
                clip_on=False,
            )
        ax.set_yticks(range(w.shape[0]))
        ax.set_title(f"{name}: {method.upper()}", fontsize=9)
        ax.set_xlabel("neurons (sorted by assignment)", fontsize=7)
        ax.set_ylabel("component", fontsize=7)
    fig.tight_layout()
    return fig
