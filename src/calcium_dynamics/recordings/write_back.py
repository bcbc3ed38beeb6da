"""What is written back into copies of a lab's inputs: Suite2p ``spks_<model>.npy`` payloads
and NWB time series of the latent models (:mod:`calcium_dynamics.io.suite2p_output`,
:mod:`calcium_dynamics.io.nwb_output`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

#: arrays of the latent models written to NWB, with their unit and description
_SERIES = {
    "_latents": ("a.u.", "posterior-mean latents per trial bin"),
    "_factors": ("a.u.", "LFADS factors per trial bin"),
    "_states": ("state", "most probable HMM state per trial bin"),
}


def suite2p_payload(spikes: pd.DataFrame) -> dict[str, Any]:
    """What :class:`~calcium_dynamics.io.suite2p_output.Suite2pSpikesDataset` writes for one
    Suite2p plane: rates (Hz) of the cells whose rates are finite, by their ``F.npy`` row.

    Cells with NaN rates (masked as implausible) are not written (their rows stay 0 and are
    absent from the sidecar's ``rows_inferred``)."""
    if "source" not in spikes.columns:
        raise ValueError("spike table lacks 'source': it was not read from a Suite2p folder")
    if spikes["source"].nunique() != 1:
        raise ValueError("a Suite2p write-back holds the cells of one plane folder")
    models = spikes["model"].astype(str).unique()
    if len(models) != 1:
        raise ValueError(f"one plane's cells went to several models {list(models)}")
    rates = np.stack([np.asarray(r, np.float32) for r in spikes["rate_hz"]])
    finite = np.isfinite(rates).all(axis=1)
    return {
        "source": str(spikes["source"].iloc[0]),
        "model": str(models[0]),
        "model_version": str(spikes["model_version"].iloc[0]),
        "roi_index": spikes["cell"].to_numpy(int)[finite],
        "rate_hz": rates[finite],
    }


def latent_time_series(
    trials: dict[str, np.ndarray], arrays: dict[str, np.ndarray]
) -> dict[str, dict[str, Any]]:
    """The latent models' per-trial arrays as NWB time series in session time.

    Each ``{model}_latents`` / ``{model}_factors`` ((n_trials, n_bins, q)) and
    ``{model}_states`` ((n_trials, n_bins)) becomes a series with one row per trial bin, in
    time order, stamped ``align_time_s + time_s`` (s, the recording's clock)."""
    align = np.asarray(trials["align_time_s"], float)
    time_s = np.asarray(trials["time_s"], float)
    order = np.argsort(align, kind="stable")
    stamps = (align[order, None] + time_s[None, :]).ravel()
    if np.any(np.diff(stamps) < 0):
        raise ValueError("trial windows overlap: their time series would not be in time order")
    out = {}
    for key, value in arrays.items():
        for suffix, (unit, text) in _SERIES.items():
            if key.endswith(suffix):
                data = np.asarray(value)[order]
                out[key] = {
                    "data": data.reshape(data.shape[0] * data.shape[1], *data.shape[2:]),
                    "timestamps_s": stamps,
                    "unit": unit,
                    "description": f"{key[: -len(suffix)]}: {text}",
                }
    return out
