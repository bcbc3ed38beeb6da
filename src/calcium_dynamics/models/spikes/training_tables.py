"""Per-neuron summaries and training tables built from validated ground-truth recordings.

Pure pandas / numpy functions: the data_engineering pipeline's nodes, the zoo training and the
leave-one-dataset-out benchmark call these.
"""

from __future__ import annotations

import logging
import zlib

import numpy as np
import pandas as pd

from calcium_dynamics.signal import (
    match_noise_level,
    n_noise_replicas,
    noise_level_nu,
    pooled_noise_level_nu,
    rebin_spike_times,
    resample_trace,
    smooth_spike_counts,
)

logger = logging.getLogger(__name__)

SUMMARY_COLUMNS = [
    "dataset",
    "neuron",
    "frame_rate_hz",
    "duration_s",
    "n_spikes",
    "firing_rate_hz",
    "noise_level_nu",
    "nan_fraction",
]
TABLE_COLUMNS = [
    "dataset",
    "neuron",
    "recording",
    "inhibitory",
    "replica",
    "frame_rate_hz",
    "noise_level_nu",
    "t0_s",
    "dff",
    "spike_counts",
    "target_rate",
    "target_rate_causal",
]


def neuron_summary(recordings: pd.DataFrame) -> pd.DataFrame:
    """One row per neuron: frame rate (Hz: frames recorded / time recorded, i.e. the
    duration-weighted mean over its recordings), duration (s),
    spike count, firing rate (Hz), noise level ν (%·Hz^-½, pooled over recordings) and the
    fraction of NaN frames."""
    rows = []
    for (dataset, neuron), group in recordings.groupby(["dataset", "neuron"], sort=True):
        n_frames = np.array([len(d) for d in group["dff"]], dtype=float)
        rates = group["frame_rate_hz"].to_numpy(float)
        duration = float(np.sum(n_frames / rates))
        n_spikes = int(sum(len(s) for s in group["spike_times_s"]))
        n_nan = sum(int(np.isnan(np.asarray(d, float)).sum()) for d in group["dff"])
        rows.append(
            {
                "dataset": dataset,
                "neuron": neuron,
                "frame_rate_hz": float(n_frames.sum() / duration),
                "duration_s": duration,
                "n_spikes": n_spikes,
                "firing_rate_hz": n_spikes / duration,
                "noise_level_nu": pooled_noise_level_nu(list(group["dff"]), list(rates)),
                "nan_fraction": n_nan / n_frames.sum(),
            }
        )
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def dataset_summary(summary: pd.DataFrame, recordings: pd.DataFrame) -> pd.DataFrame:
    """Per-dataset values laid out like Table 1 of the CASCADE paper.

    As in that table, the frame rate is the mean across recordings (experiments), and noise
    level and firing rate are mean and s.d. across neurons.
    """
    grouped = summary.groupby("dataset", sort=True)
    table = pd.DataFrame(
        {
            "n_neurons": grouped.size(),
            "n_recordings": recordings.groupby("dataset").size(),
            "frame_rate_hz": recordings.groupby("dataset")["frame_rate_hz"].mean(),
            "noise_level_nu_mean": grouped["noise_level_nu"].mean(),
            "noise_level_nu_sd": grouped["noise_level_nu"].std(ddof=1),
            "firing_rate_hz_mean": grouped["firing_rate_hz"].mean(),
            "firing_rate_hz_sd": grouped["firing_rate_hz"].std(ddof=1),
            "duration_min": grouped["duration_s"].sum() / 60.0,
        }
    )
    return table.reset_index()


def _seed_for(seed: int, *keys: object) -> int:
    text = "/".join(str(k) for k in keys).encode()
    return (seed * 1_000_003 + zlib.crc32(text)) % 2**32


def training_table(
    recordings: pd.DataFrame,
    *,
    frame_rate_hz: float,
    sigma_s: float,
    causal_kernel: bool = False,
    trim_s: float = 0.0,
    min_duration_s: float = 1.0,
    target_noise_level_nu: float | None = None,
    max_noise_replicas: int = 500,
    seed: int = 0,
    resample_tolerance: float = 0.05,
) -> pd.DataFrame:
    """Resampled traces with spike counts and smoothed target rates, one row per recording
    (and per noise replica when ``noise_level_nu`` is set).

    Each trace is Fourier-resampled to ``frame_rate_hz`` (skipped within 5 %), spikes are
    re-binned into the new frames, the counts are smoothed with a kernel of s.d. ``sigma_s``
    into the target rate (spikes per frame), and ``trim_s`` is cut from each end. With a target
    ν (``target_noise_level_nu``), recordings already noisier than it are excluded and the
    others are replaced by ⌈1.2 (ν_target/ν_own)²⌉ (at most ``max_noise_replicas``)
    noise-matched replicas.
    NaN frames stay NaN in ``dff`` (models mask them). Recordings within
    ``resample_tolerance`` (relative) of ``frame_rate_hz`` keep their own rate.
    ``target_rate_causal`` holds the counts smoothed with the causal kernel of the same s.d.
    (``smooth_spike_counts(causal=True)``: a spike raises the rate only at and after its frame),
    the target of causal zoos.
    """
    rows = []
    n_excluded = 0
    for rec in recordings.itertuples(index=False):
        dff, rate = resample_trace(
            rec.dff, rec.frame_rate_hz, frame_rate_hz, skip_tolerance=resample_tolerance
        )
        counts = rebin_spike_times(rec.spike_times_s, dff.size, rate, rec.t0_s)
        trim = round(trim_s * rate)
        if dff.size - 2 * trim < min_duration_s * rate:
            logger.info(
                "%s/%s recording %s: shorter than %.1f s after trimming, left out",
                rec.dataset,
                rec.neuron,
                rec.recording,
                min_duration_s,
            )
            continue
        target = smooth_spike_counts(counts, rate, sigma_s, causal=causal_kernel)
        # the causal zoos' target: only spikes at or before a frame raise its rate
        target_causal = smooth_spike_counts(counts, rate, sigma_s, causal=True)
        keep = slice(trim, dff.size - trim)
        dff, counts, target = dff[keep], counts[keep], target[keep]
        target_causal = target_causal[keep]
        nu_own = noise_level_nu(dff, rate)
        t0 = rec.t0_s + trim / rate
        base = {
            "dataset": rec.dataset,
            "neuron": rec.neuron,
            "recording": rec.recording,
            "inhibitory": bool(rec.inhibitory),
            "frame_rate_hz": rate,
            "t0_s": t0,
            "spike_counts": counts,
            "target_rate": target,
            "target_rate_causal": target_causal,
        }
        if target_noise_level_nu is None:
            rows.append({**base, "replica": 0, "noise_level_nu": nu_own, "dff": dff})
            continue
        n_rep = n_noise_replicas(nu_own, target_noise_level_nu, max_noise_replicas)
        if n_rep == 0:
            n_excluded += 1
            continue
        rng = np.random.default_rng(_seed_for(seed, rec.dataset, rec.neuron, rec.recording))
        for replica in range(n_rep):
            noisy = match_noise_level(dff, rate, target_noise_level_nu, rng)
            rows.append(
                {**base, "replica": replica, "noise_level_nu": target_noise_level_nu, "dff": noisy}
            )
    if n_excluded:
        logger.info(
            "%d recording(s) already noisier than ν=%s were excluded",
            n_excluded,
            target_noise_level_nu,
        )
    if not rows:
        raise ValueError("no recording is long enough (or quiet enough) for the training table")
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)
