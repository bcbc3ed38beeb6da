"""Nodes for the classical latent models: simulate HMM / GPFA data, fit, decode.

Datasets are flat dicts of numpy arrays (saved as ``.npz``); keys of fitted models and decoded
outputs are ``"<model>__<name>"`` so one file holds every observation model.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd
import torch

from calcium_dynamics.classical.gpfa_events import deconvolve_gpfa_events
from calcium_dynamics.classical.gpfa_variants import GPFA_VARIANTS, fit_gpfa_variant
from calcium_dynamics.classical.hmm import HMM, held_out_log_likelihood_curve
from calcium_dynamics.simulate.hmm_gpfa import simulate_gpfa_calcium, simulate_hmm_calcium

__all__ = [
    "GPFA_VARIANTS",
    "deconvolve_gpfa_events",
]  # the events node is library code (classical.gpfa_events)


def _arrays(obj: Any) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in asdict(obj).items()}


def simulate_hmm_data(params: dict) -> dict[str, np.ndarray]:
    """Sequential-state HMM calcium data (training and test sequences) with its ground truth."""
    sim = dict(params["simulation"])
    if "ar_coef_range" in sim:
        sim["ar_coef_range"] = tuple(sim["ar_coef_range"])
    return _arrays(simulate_hmm_calcium(seed=params["seed"], **sim))


def simulate_gpfa_data(params: dict) -> dict[str, np.ndarray]:
    """GPFA-driven calcium data with its ground truth (latents, rates, spikes)."""
    sim = dict(params["simulation"])
    for key in ("length_scales", "ar_coefs", "jump_range"):
        if key in sim:
            sim[key] = tuple(sim[key])
    return _arrays(simulate_gpfa_calcium(seed=params["seed"], **sim))


# ----------------------------------------------------------------------------- HMM


def _hmm_model_arrays(name: str, model: HMM) -> dict[str, np.ndarray]:
    obs = model.observations_
    out = {
        f"{name}__startprob": model.startprob_,
        f"{name}__transmat": model.transmat_,
        f"{name}__log_likelihood_history": np.asarray(model.log_likelihood_history_),
    }
    for attr in ("means", "variances", "coefs", "biases", "rates", "ar_coef", "jump", "noise_var"):
        if hasattr(obs, attr):
            out[f"{name}__{attr}"] = np.asarray(getattr(obs, attr))
    return out


def fit_hmm_models(
    data: dict[str, np.ndarray], params: dict
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, float]]:
    """Fit one HMM per observation model on the training sequence; decode the test sequence.

    The Poisson model is fitted to the true spike counts (the ceiling); the others to ΔF/F.

    Returns:
        ``(hmm_models, hmm_decoded, hmm_fit_times)``: fitted parameters and log-likelihoods
        per model; Viterbi and posterior-mode states and state posteriors on the test
        sequence; wall-clock fit time (s) per model (kept apart, so that the first two are
        the same bytes on every run).
    """
    torch.set_num_threads(int(params.get("torch_threads", 1)))
    fit = dict(params["fit"])
    observations = fit.pop("observations")
    models: dict[str, np.ndarray] = {}
    fit_times: dict[str, float] = {}
    decoded: dict[str, np.ndarray] = {"true_states": data["states_test"]}
    for name in observations:
        source = "spikes" if name == "poisson" else "calcium"
        train, test = data[f"{source}_train"], data[f"{source}_test"]
        start = time.perf_counter()
        model = HMM(observations=name, random_state=params["seed"], **fit).fit(train)
        models.update(_hmm_model_arrays(name, model))
        fit_times[name] = round(time.perf_counter() - start, 3)
        models[f"{name}__test_ll_per_bin"] = np.asarray(model.score_per_bin(test))
        decoded[f"{name}__viterbi"] = model.predict(test)
        decoded[f"{name}__posterior_mode"] = model.predict_posterior_mode(test)
        decoded[f"{name}__posterior"] = model.predict_proba(test)
    return models, decoded, fit_times


def hmm_n_states_curve(data: dict[str, np.ndarray], params: dict) -> pd.DataFrame:
    """Held-out log-likelihood per bin against the number of states K, for each listed model."""
    torch.set_num_threads(int(params.get("torch_threads", 1)))
    fit = dict(params["fit"])
    fit.pop("observations")
    fit.pop("n_states", None)
    records = []
    for name in params["n_states_grid_observations"]:
        source = "spikes" if name == "poisson" else "calcium"
        records += held_out_log_likelihood_curve(
            data[f"{source}_train"],
            data[f"{source}_test"],
            params["n_states_grid"],
            name,
            random_state=params["seed"],
            **fit,
        )
    return pd.DataFrame.from_records(records)


# ----------------------------------------------------------------------------- GPFA


def fit_gpfa_models(
    data: dict[str, np.ndarray], events: dict[str, np.ndarray], params: dict
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, float]]:
    """Fit each GPFA variant listed in ``params["variants"]``, on all bins and, for held-out
    scoring, once per contiguous block left out (``params["heldout_folds"]`` blocks; see
    :func:`calcium_dynamics.classical.gpfa_heldout.heldout_gpfa_latents`).

    Returns:
        ``(gpfa_models, gpfa_latents, gpfa_fit_times)``: loadings, offsets, length scales,
        likelihood parameters and objective traces per variant; posterior latent means
        ``(T, q)`` and their orthonormalised version per variant, the true latents, the
        held-out blocks (``heldout_folds``, (K, 2) bin ranges) and per variant and block the
        training and block latents (``<variant>__fold<k>__train`` / ``__test``); wall-clock
        fit time (s) per variant (kept apart, so the first two are the same bytes every run).
    """
    torch.set_num_threads(int(params.get("torch_threads", 1)))
    fit = dict(params["fit"])
    n_iter = {"gaussian": fit.pop("gaussian_n_iter"), "other": fit.pop("variational_n_iter")}
    inputs = {"calcium": data["calcium"], "spikes": data["spikes"], **events}
    models: dict[str, np.ndarray] = {}
    fit_times: dict[str, float] = {}
    latents: dict[str, np.ndarray] = {"true_latents": data["latents"]}
    for variant in params["variants"]:
        arrays, variant_latents, fit_times[variant] = fit_gpfa_variant(
            variant, inputs, fit, n_iter, params["seed"], int(params.get("heldout_folds", 3))
        )
        models.update(arrays)
        latents.update(variant_latents)
    return models, latents, fit_times
