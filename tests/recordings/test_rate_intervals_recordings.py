"""Rate intervals in the recordings path: bounds per cell, the fallback without tables, the band."""

from __future__ import annotations

import logging

import matplotlib
import numpy as np
import pandas as pd

from calcium_dynamics.models.spikes.routing import Candidate, ModelSet
from calcium_dynamics.recordings.dynamics_figures import plot_traces_with_rates
from calcium_dynamics.recordings.spike_tables import infer_recording_spikes
from tests.models.test_rate_intervals import calibrated, random_zoo

matplotlib.use("Agg")


def dff_table(n_cells: int = 3, n_frames: int = 600) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "trace_id": [f"plane0/{i}" for i in range(n_cells)],
            "plane": 0,
            "cell": np.arange(n_cells),
            "frame_rate_hz": 30.0,
            "dff": list(rng.normal(0, 0.05, (n_cells, n_frames))),
            "n_frames": n_frames,
            "noise_level_nu": 1.0,
        }
    )


def test_recording_spikes_carry_calibrated_bounds_and_the_report_draws_them():
    model = calibrated(random_zoo())
    models = ModelSet([Candidate.of(model, "tiny")])
    dff = dff_table()
    spikes = infer_recording_spikes(models, dff, {"interval": 0.9, "events": False}, "rec")
    lo, hi = np.stack(spikes["rate_lo_hz"]), np.stack(spikes["rate_hi_hz"])
    rates = np.stack(spikes["rate_hz"])
    assert lo.shape == rates.shape == (3, 600)
    assert (lo <= rates + 1e-6).all() and (rates <= hi + 1e-6).all() and (hi > lo).any()
    assert np.isfinite(spikes["expected_corr"]).all()
    fig = plot_traces_with_rates(dff, spikes, 2, 10.0)
    bands = [c for ax in fig.axes for c in ax.collections if c.get_label() == "interval"]
    assert len(bands) == 2  # one shaded band per example trace


def test_a_model_without_tables_gives_rates_only_and_says_so(caplog):
    models = ModelSet([Candidate.of(random_zoo(), "uncalibrated")])
    with caplog.at_level(logging.WARNING):
        spikes = infer_recording_spikes(models, dff_table(), {"interval": 0.9, "events": False})
    assert "rate_lo_hz" not in spikes.columns
    assert "uncalibrated has no calibration tables" in caplog.text
    assert np.isnan(spikes["interval_width_hz"]).all()
