"""Evaluation of the classical latent models against the simulations' ground truth."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from calcium_dynamics.metrics.latents_linear import heldout_latent_r2, linear_latent_r2
from calcium_dynamics.metrics.states import match_states, state_metrics


def _model_names(arrays: dict[str, np.ndarray], suffix: str) -> list[str]:
    return [k[: -len(suffix) - 2] for k in arrays if k.endswith(f"__{suffix}")]


def hmm_state_metrics(
    decoded: dict[str, np.ndarray], models: dict[str, np.ndarray], curve: pd.DataFrame
) -> tuple[pd.DataFrame, dict]:
    """State accuracy and correlation (Hungarian-matched, Viterbi and posterior decoding),
    held-out log-likelihood per bin and the K with the best held-out likelihood (fit times are
    in ``hmm_fit_times``, apart from these deterministic outputs)."""
    truth = decoded["true_states"]
    rows = []
    for name in _model_names(decoded, "viterbi"):
        viterbi = state_metrics(truth, decoded[f"{name}__viterbi"])
        posterior = state_metrics(truth, decoded[f"{name}__posterior_mode"])
        rows.append(
            {
                "model": name,
                "state_correlation": viterbi["correlation"],
                "state_accuracy": viterbi["accuracy"],
                "posterior_state_correlation": posterior["correlation"],
                "posterior_state_accuracy": posterior["accuracy"],
                "test_ll_per_bin": float(models[f"{name}__test_ll_per_bin"]),
            }
        )
    table = pd.DataFrame.from_records(rows)
    best_k = {
        str(obs): int(group.loc[group["test_ll_per_bin"].idxmax(), "n_states"])
        for obs, group in curve.groupby("observations")
    }
    summary = {"models": rows, "best_n_states": best_k}
    return table, summary


def plot_hmm_state_raster(decoded: dict[str, np.ndarray]) -> plt.Figure:
    """True and decoded (matched) test-set states, one raster row per model."""
    truth = decoded["true_states"]
    names = _model_names(decoded, "viterbi")
    n_show = min(len(truth), 400)
    rows = [truth[:n_show]] + [
        match_states(truth, decoded[f"{n}__viterbi"])[:n_show] for n in names
    ]
    fig, ax = plt.subplots(figsize=(10, 0.6 * len(rows) + 1.0))
    ax.imshow(np.vstack(rows), aspect="auto", interpolation="nearest", cmap="tab10")
    ax.set_yticks(range(len(rows)), ["truth", *names])
    ax.set_xlabel("time bin (test sequence)")
    ax.set_title("HMM states: truth and Viterbi decoding after Hungarian matching")
    fig.tight_layout()
    return fig


def plot_hmm_n_states_curve(curve: pd.DataFrame) -> plt.Figure:
    """Held-out log-likelihood per bin against K."""
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for obs, group in curve.groupby("observations"):
        group = group.sort_values("n_states")
        ax.plot(group["n_states"], group["test_ll_per_bin"], "o-", label=str(obs))
    ax.set_xlabel("number of states K")
    ax.set_ylabel("held-out log-likelihood (nats / bin)")
    ax.legend()
    fig.tight_layout()
    return fig


def _heldout(latents: dict[str, np.ndarray], name: str) -> dict[str, object]:
    folds = [tuple(int(v) for v in f) for f in latents["heldout_folds"]]
    pairs = [
        (latents[f"{name}__fold{k}__train"], latents[f"{name}__fold{k}__test"])
        for k in range(len(folds))
    ]
    return heldout_latent_r2(pairs, latents["true_latents"], folds)


def gpfa_latent_metrics(
    latents: dict[str, np.ndarray], models: dict[str, np.ndarray]
) -> tuple[pd.DataFrame, dict]:
    """Latent R² / MSE of each variant after a linear map of its latents onto the truth.

    ``latent_r2`` is held out (blocked cross-validation: GPFA and map fitted without the
    scored block, :func:`~calcium_dynamics.metrics.latents_linear.heldout_latent_r2`);
    ``latent_r2_in_sample`` maps and scores the all-bins fit on the same bins (it credits
    smooth latents that know nothing of the truth: shown for comparison only).
    """
    truth = latents["true_latents"]
    rows = []
    for name in _model_names(models, "history"):
        score = _heldout(latents, name)
        folds = latents["heldout_folds"]
        row = {
            "model": name,
            "latent_r2": score["r2_mean"],
            "latent_mse": score["mse_mean"],
            "latent_r2_in_sample": linear_latent_r2(latents[name], truth)["r2_mean"],
            "heldout_folds": len(folds),
        }
        row.update({f"r2_dim{j}": v for j, v in enumerate(score["r2_per_dim"])})
        rows.append(row)
    table = pd.DataFrame.from_records(rows)
    return table, {"protocol": "blocked cross-validation over contiguous blocks", "models": rows}


def plot_gpfa_latents(latents: dict[str, np.ndarray]) -> plt.Figure:
    """True latents and each variant's held-out prediction of them (each block predicted by
    the GPFA and linear map fitted without it)."""
    truth = latents["true_latents"]
    names = [k for k in latents if f"{k}__fold0__test" in latents]
    fig, axes = plt.subplots(truth.shape[1], 1, figsize=(10, 2.2 * truth.shape[1]), sharex=True)
    axes = np.atleast_1d(axes)
    for j, ax in enumerate(axes):
        ax.plot(truth[:, j], color="k", lw=2, label="truth")
        for name in names:
            ax.plot(_heldout(latents, name)["prediction"][:, j], lw=1, label=name)
        ax.set_ylabel(f"latent {j + 1}")
    axes[0].legend(ncol=len(names) + 1, fontsize=7)
    axes[-1].set_xlabel("time bin")
    for a, _ in latents["heldout_folds"][1:]:
        for ax in axes:
            ax.axvline(a, color="0.6", lw=0.8, ls=":")
    fig.suptitle("GPFA latents mapped onto the truth, held out (dotted: block edges)")
    fig.tight_layout()
    return fig
