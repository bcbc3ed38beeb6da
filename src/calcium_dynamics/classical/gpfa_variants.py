"""The GPFA variants of the latent-dynamics pipeline: one fit on all bins plus the held-out
blocks, with the arrays the pipeline saves."""

from __future__ import annotations

import time

import numpy as np

from calcium_dynamics.classical.gpfa import GPFA, orthonormalize_latents
from calcium_dynamics.classical.gpfa_heldout import heldout_gpfa_latents

#: name → (observation model, AR order, input array)
GPFA_VARIANTS = {
    "gaussian": ("gaussian", 1, "calcium"),
    "calcium_ar1": ("calcium", 1, "calcium"),
    "calcium_ar2": ("calcium", 2, "calcium"),
    "poisson_oasis": ("poisson", 1, "oasis_counts"),
    "poisson_spikes": ("poisson", 1, "spikes"),
}

_SAVED = ("loading_", "offset_", "length_scales_", "noise_var_", "ar_coefs_", "jump_")


def fit_gpfa_variant(
    variant: str, inputs: dict[str, np.ndarray], fit: dict, n_iter: dict, seed: int, n_folds: int
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], float]:
    """Fit one variant on all bins, then once per held-out block.

    Args:
        variant: a key of :data:`GPFA_VARIANTS`.
        inputs: ``calcium``, ``spikes``, ``oasis_counts`` arrays ``(T, N)``.
        fit: further :class:`GPFA` arguments; n_iter: ``{"gaussian": …, "other": …}``.
        seed: GPFA ``random_state``; n_folds: held-out blocks.

    Returns:
        ``(model arrays, latents, fit seconds)``, keys prefixed with ``<variant>__`` (the
        latents: ``<variant>``, ``__orthonormal``, ``__fold<k>__train`` / ``__test`` and the
        blocks as ``heldout_folds`` (K, 2)).
    """
    if variant not in GPFA_VARIANTS:
        raise ValueError(f"unknown GPFA variant {variant!r}; choose from {list(GPFA_VARIANTS)}")
    obs, order, source = GPFA_VARIANTS[variant]
    iters = n_iter["gaussian" if obs == "gaussian" else "other"]

    def make() -> GPFA:
        return GPFA(observations=obs, ar_order=order, n_iter=iters, random_state=seed, **fit)

    start = time.perf_counter()
    model = make()
    x = model.fit_transform(inputs[source])
    seconds = round(time.perf_counter() - start, 3)
    arrays = {
        f"{variant}__{attr.rstrip('_')}": np.asarray(getattr(model, attr))
        for attr in _SAVED
        if hasattr(model, attr)
    }
    arrays[f"{variant}__history"] = np.asarray(model.history_)
    latents = {variant: x, f"{variant}__orthonormal": orthonormalize_latents(x, model.loading_)[0]}
    fold_latents, folds = heldout_gpfa_latents(make, inputs[source], n_folds)
    latents["heldout_folds"] = np.asarray(folds, dtype=np.int64)
    for k, (train, test) in enumerate(fold_latents):
        latents[f"{variant}__fold{k}__train"] = train
        latents[f"{variant}__fold{k}__test"] = test
    return arrays, latents, seconds
