"""Nodes of the LFADS-family pipeline: Lorenz simulations, deconvolution, model training."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from calcium_dynamics.models.lfads.training import model_to_dict, train_lfads, variant_model_params
from calcium_dynamics.simulate.lorenz_datasets import (
    deconvolve_lorenz_imaging,
    simulate_calcium_lorenz,
    simulate_lorenz_imaging,
)

log = logging.getLogger(__name__)

__all__ = [  # the simulation nodes are library functions (simulate.lorenz_datasets)
    "deconvolve_lorenz_imaging",
    "simulate_calcium_lorenz",
    "simulate_lorenz_imaging",
]


def _train(data: np.ndarray, variant: str, params: dict[str, Any]):
    model_params = variant_model_params(params, variant)
    model, info = train_lfads(
        data,
        variant,
        model_params,
        {**params["trainer"]},
        valid_fraction=float(params["valid_fraction"]),
        seed=int(params["seed"]),
    )
    inferred = model.infer(data)
    inferred.update(
        train_idx=info["train_idx"],
        valid_idx=info["valid_idx"],
        epoch_s=info["epoch_s"],
        final_valid_recon=np.float64(info["metrics"].get("valid/recon", np.nan)),
    )
    log.info("%s: %.2f s per training epoch", variant, float(np.mean(info["epoch_s"])))
    return model_to_dict(model), inferred


def train_radical(events: dict[str, np.ndarray], params: dict[str, Any]):
    """RADICaL: ZIG observations + SBTT on sub-frame deconvolved events (NaN = unsampled).

    Returns the saved model and ``rates`` = event rates (RADICaL Eq. 3) and factors per bin.
    """
    return _train(events["events"], "radical", params)


def train_autolfads(events: dict[str, np.ndarray], params: dict[str, Any]):
    """AutoLFADS baseline: Poisson observations on frame-binned discretised events."""
    return _train(events["frame_counts"], "autolfads", params)


def train_calcium_lfads(calcium: dict[str, np.ndarray], params: dict[str, Any]):
    """Calcium-LFADS: calcium AR-Poisson observations on ΔF/F."""
    return _train(calcium["dff"], "calcium_lfads", params)


def train_gaussian_lfads(calcium: dict[str, np.ndarray], params: dict[str, Any]):
    """Gaussian-LFADS baseline on the same ΔF/F."""
    return _train(calcium["dff"], "gaussian_lfads", params)
