"""Spike-inference metrics per ground-truth neuron, its recordings concatenated."""

from __future__ import annotations

import numpy as np
import pandas as pd

from calcium_dynamics.metrics.spikes import spike_metrics
from calcium_dynamics.signal import rebin_spike_times, smooth_spike_counts

#: metric columns of :func:`neuron_metrics` (see ``metrics.spikes.spike_metrics``)
METRICS = ("corr", "error", "bias", "vrd", "vpd", "er")


def ground_truth_rate(spikes_s, n_frames: int, frame_rate_hz: float, sigma_s: float) -> np.ndarray:
    """The spike times (s) as a rate (spikes per frame, (n_frames,)) smoothed by a Gaussian of
    s.d. ``sigma_s`` (s): what the models are trained to predict."""
    counts = rebin_spike_times(spikes_s, n_frames, frame_rate_hz)
    return smooth_spike_counts(counts, frame_rate_hz, sigma_s)


def neuron_metrics(truth: pd.DataFrame, *predictions: pd.DataFrame) -> pd.DataFrame:
    """Metrics per model and neuron, the neuron's recordings concatenated.

    Args:
        truth: ``trace_id, frame_rate_hz, spike_times_s, dataset, neuron`` (held-out traces).
        predictions: outputs of ``infer_spikes`` for the same trace ids (one per model).
    """
    rows = []
    for pred in predictions:
        if pred.empty:
            continue
        merged = truth.merge(
            pred[["trace_id", "rate_hz", "spike_times_s", "model", "sigma_s"]],
            on="trace_id",
            suffixes=("_gt", "_pd"),
        )
        for (dataset, neuron), grp in merged.groupby(["dataset", "neuron"], sort=True):
            gt, pd_, gt_s, pd_s, offset = [], [], [], [], 0.0
            for r in grp.itertuples(index=False):
                fr, n = float(r.frame_rate_hz), len(r.rate_hz)
                gt.append(ground_truth_rate(r.spike_times_s_gt, n, fr, r.sigma_s))
                pd_.append(np.asarray(r.rate_hz, float) / fr)
                gt_s.append(np.asarray(r.spike_times_s_gt) + offset)
                pd_s.append(np.asarray(r.spike_times_s_pd) + offset)
                offset += n / fr + 10.0  # recordings never overlap in time
            fr = float(grp["frame_rate_hz"].median())
            m = spike_metrics(
                np.concatenate(gt),
                np.concatenate(pd_),
                fr,
                np.concatenate(gt_s),
                np.concatenate(pd_s),
            )
            rows.append(
                {
                    "model": grp["model"].iloc[0],
                    "dataset": dataset,
                    "neuron": neuron,
                    "n_spikes": int(sum(len(s) for s in gt_s)),
                    **m,
                }
            )
    return pd.DataFrame(rows, columns=["model", "dataset", "neuron", "n_spikes", *METRICS])
