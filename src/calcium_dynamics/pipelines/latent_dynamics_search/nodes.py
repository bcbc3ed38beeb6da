"""Nodes of the LFADS hyperparameter search: run the population, report it, score the best."""

from __future__ import annotations

import logging
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from calcium_dynamics.metrics.latent_recovery import frames_to_bins, latent_r2
from calcium_dynamics.models.lfads.training import VARIANTS, model_to_dict, variant_model_params
from calcium_dynamics.tuning.history import history_figure
from calcium_dynamics.tuning.pbt import METRIC, PBTSettings, population_summary, run_pbt
from calcium_dynamics.tuning.search_space import parse_search_space

log = logging.getLogger(__name__)

#: which array of which simulated data set each variant is trained on
_INPUTS = {
    "radical": ("lorenz", "events"),
    "autolfads": ("lorenz", "frame_counts"),
    "calcium_lfads": ("calcium", "dff"),
    "gaussian_lfads": ("calcium", "dff"),
}


def search_lfads_hyperparameters(
    events: dict[str, np.ndarray],
    calcium: dict[str, np.ndarray],
    lfads_params: dict[str, Any],
    search_params: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, np.ndarray], pd.DataFrame, dict[str, Any]]:
    """Population-based training of ``search_params['variant']`` on its simulated input.

    The members share the ``lfads.model`` sizes and the variant's settings; the searched
    hyperparameters (``lfads_search.search_space``) replace theirs.

    Returns:
        The best member as a saved model, its inferred rates and factors (trials, T, ·), the
        population history (one row per member and generation) and a summary (best member,
        its hyperparameters, losses of the first and the last generation, exploits, wall time,
        CPUs).
    """
    settings = PBTSettings.from_params(search_params)
    source, key = _INPUTS[settings.variant]
    data = (events if source == "lorenz" else calcium)[key]
    model_params = variant_model_params(lfads_params, settings.variant)
    result = run_pbt(
        data,
        model_params,
        dict(lfads_params["trainer"]),
        settings,
        valid_fraction=float(lfads_params["valid_fraction"]),
    )
    summary = population_summary(result, settings)
    log.info(
        "PBT %s: %d generations, best %s %.4f (first generation %.4f), %d exploits, %.0f s",
        settings.variant,
        summary["generations"],
        METRIC,
        result.best[METRIC],
        summary["initial_best_valid_recon"],
        summary["exploits"],
        result.wall_s,
    )
    history = result.history
    inferred = result.model.infer(data)
    return model_to_dict(result.model), inferred, history, summary


def plot_search_history(history: pd.DataFrame, search_params: dict[str, Any]) -> plt.Figure:
    """Validation loss per member per generation and the hyperparameter trajectories."""
    return history_figure(history, parse_search_space(search_params["search_space"]))


def evaluate_search_latents(
    lorenz_truth: dict[str, np.ndarray],
    lorenz_imaging: dict[str, np.ndarray],
    calcium: dict[str, np.ndarray],
    output: dict[str, np.ndarray],
    summary: dict[str, Any],
    params: dict[str, Any],
) -> dict[str, Any]:
    """Latent R² (x, y, z) of the best member's rates against the true Lorenz states.

    Lorenz variants: rates at the 10 ms bins (AutoLFADS' frame rates interpolated), lag
    ``lag_bins``; calcium variants: log rates (calcium-LFADS) or means (Gaussian) against the
    single-trial Lorenz states, no lag — the protocol of the ``evaluation`` pipeline.
    """
    variant = summary["variant"]
    if variant not in VARIANTS:
        raise ValueError(f"unknown LFADS variant {variant!r} in the search summary")
    if _INPUTS[variant][0] == "lorenz":
        latents = lorenz_truth["latents"]
        rates = output["rates"]
        if variant == "autolfads":
            rates = frames_to_bins(rates, int(lorenz_imaging["frame_bins"]), latents.shape[1])
        features, lag = rates, int(params["lag_bins"])
    else:
        latents = calcium["latents"]
        rates = output["rates"]
        features = np.log(np.clip(rates, 1e-6, None)) if variant == "calcium_lfads" else rates
        lag = 0
    res = latent_r2(
        features,
        latents,
        n_splits=int(params["n_splits"]),
        inner_folds=int(params["inner_folds"]),
        lag_bins=lag,
        seed=int(params["seed"]),
    )
    r2 = {f"r2_{d}": float(v) for d, v in zip("xyz", res.r2)}
    return {"variant": variant, "lag_bins": lag, **r2, "r2_mean": float(np.mean(res.r2))}
