"""One recording's report: QC, spike routing and events, NMF ensembles, latent dynamics, the
held-out model comparison and provenance, as a self-contained HTML page
(:mod:`calcium_dynamics.recordings.report_html`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from calcium_dynamics.recordings.dynamics_figures import (
    plot_event_raster,
    plot_hmm_states,
    plot_latent_trajectories,
    plot_model_comparison,
    plot_traces_with_rates,
)
from calcium_dynamics.recordings.population import plot_recording_nmf
from calcium_dynamics.recordings.report_html import (
    Figure,
    KeyValues,
    Note,
    Section,
    Table,
    render_report,
)

ROUTING_COLUMNS = [
    "trace_id",
    "noise_level_nu",
    "model",
    "model_version",
    "model_frame_rate_hz",
    "model_noise_level",
    "sigma_s",
    "nan_fraction",
    "expected_corr",
    "interval_width_hz",
    "warnings",
]


@dataclass
class RecordingReport:
    """What one recording's report shows.

    Attributes:
        name: the recording's output id; source: where it was read from.
        dff, spikes: its ΔF/F and spike tables (one row per cell).
        nmf_components, nmf_curves: its NMF tables (empty: NMF skipped).
        dynamics: the latent models' arrays (``DynamicsResult.arrays``), or ``None``.
        dynamics_tables: ``scores``, ``hmm_curve``, ``timings`` (lists of records) and
            ``notes`` ((level, text) pairs), or ``{"skipped": reason}``; ``None`` without trials.
        provenance: code commit, models (name, version, sha256), run id, parameters.
        params: ``example_traces``, ``max_seconds``, ``raster_max_neurons``.
    """

    name: str
    source: str
    dff: pd.DataFrame
    spikes: pd.DataFrame
    nmf_components: pd.DataFrame
    nmf_curves: pd.DataFrame
    dynamics: dict[str, np.ndarray] | None
    dynamics_tables: dict[str, Any] | None
    provenance: dict[str, Any]
    params: dict[str, Any] = field(default_factory=dict)


def _qc_section(r: RecordingReport) -> Section:
    nu = r.dff["noise_level_nu"].to_numpy(float)
    fig, ax = plt.subplots(figsize=(4.5, 2.8))
    ax.hist(nu[np.isfinite(nu)], bins=min(30, max(5, len(nu) // 2)), color="0.4")
    ax.set_xlabel("noise level ν (%·Hz$^{-1/2}$)")
    ax.set_ylabel("cells")
    fig.tight_layout()
    traces = plot_traces_with_rates(
        r.dff,
        r.spikes,
        int(r.params.get("example_traces", 4)),
        float(r.params.get("max_seconds", 60.0)),
    )
    return Section(
        "Quality control",
        [
            f"{len(r.dff)} cells, {int(r.dff['n_frames'].iloc[0])} frames at "
            f"{float(r.dff['frame_rate_hz'].iloc[0]):g} Hz; median ν = {np.nanmedian(nu):.2f} "
            "%·Hz^-½.",
            Figure(fig, "Noise level ν of every cell.", "histogram of noise levels"),
            Figure(
                traces,
                "ΔF/F (grey), inferred spike rate (red, Hz) and events (ticks) of cells from the "
                "lowest to the highest ν.",
                "example traces with inferred rates",
            ),
        ],
    )


def _spikes_section(r: RecordingReport) -> Section:
    routing = r.spikes[[c for c in ROUTING_COLUMNS if c in r.spikes.columns]]
    warned = routing[routing["warnings"].astype(str) != ""]
    blocks: list = []
    if len(warned):
        for text, group in warned.groupby("warnings"):
            ids = ", ".join(group["trace_id"].astype(str).head(8))
            more = f" and {len(group) - 8} more" if len(group) > 8 else ""
            blocks.append(Note(f"{text}: {len(group)} cell(s) ({ids}{more})", "warning"))
    else:
        blocks.append(Note("no routing warnings: every cell within its model's range", "info"))
    if "rate_lo_hz" in r.spikes.columns:
        blocks.append(
            Note(
                "rates come with calibrated intervals (rate_lo_hz, rate_hi_hz; shaded on the "
                "example traces); expected Corr per cell in the routing table",
                "info",
            )
        )
    else:
        blocks.append(
            Note(
                "no rate intervals: this recording's model has no calibration tables (or "
                "recordings.inference.interval is null); see docs/howto/intervals.md",
                "info",
            )
        )
    duration = int(r.dff["n_frames"].iloc[0]) / float(r.dff["frame_rate_hz"].iloc[0])
    raster = plot_event_raster(r.spikes, int(r.params.get("raster_max_neurons", 200)), duration)
    return Section(
        "Spike inference",
        [
            *blocks,
            Table(routing, "Routing: the model each cell went to and why."),
            Figure(raster, "Inferred spike events.", "event raster"),
        ],
    )


def _nmf_section(r: RecordingReport) -> Section:
    if r.nmf_components.empty:
        return Section("NMF ensembles", [Note("NMF was skipped for this recording", "skipped")])
    k = int(r.nmf_components["n_components"].iloc[0])
    fig = plot_recording_nmf(r.nmf_components, r.nmf_curves, r.name)
    return Section(
        "NMF ensembles",
        [
            f"AIC selects k = {k} components (the first k where AIC rises).",
            Figure(fig, "AIC against k; time courses and neuron weights.", "NMF components"),
        ],
    )


def _dynamics_sections(r: RecordingReport) -> list[Section]:
    tables = r.dynamics_tables
    if tables is None:
        return [Section("Latent dynamics", [Note("no trials table: no latent models", "skipped")])]
    if "skipped" in tables:
        return [Section("Latent dynamics", [Note(str(tables["skipped"]), "skipped")])]
    arrays = r.dynamics or {}
    notes = [Note(text, level) for level, text in tables.get("notes", [])]
    n_trials = int(np.asarray(arrays["test_trial"]).size)
    n_test = int(np.asarray(arrays["test_trial"]).sum())
    intro = (
        f"{n_trials} trials: {n_trials - n_test} for fitting, {n_test} test trials never fitted "
        "on; conditions "
        f"{np.asarray(arrays.get('conditions', [])).tolist()}."
    )
    blocks: list = [intro, *notes]
    traj = plot_latent_trajectories(arrays)
    if traj is not None:
        blocks.append(
            Figure(
                traj, "Trial-averaged latent trajectories per condition (dot: start).", "latents"
            )
        )
    sections = [Section("Latent dynamics", blocks)]
    hmm_fig = plot_hmm_states(arrays)
    if hmm_fig is not None:
        curve = pd.DataFrame(tables.get("hmm_curve", []))
        sections.append(
            Section(
                "HMM states",
                [
                    Figure(hmm_fig, "Most probable state per bin and trial.", "HMM state raster"),
                    Table(curve, "K chosen by cross-validated log-likelihood (nats / bin)."),
                ],
            )
        )
    scores = pd.DataFrame(tables.get("scores", []))
    if not scores.empty:
        summary = (
            scores.groupby("model", sort=False)[["r2", "ll_per_bin", "ll_gain_per_bin"]]
            .median()
            .reset_index()
            .rename(columns=lambda c: c if c == "model" else f"median {c}")
        )
        sections.append(
            Section(
                "Held-out comparison",
                [
                    "Co-smoothing: each model sees the held-in neurons only; a ridge readout "
                    "fitted on the training trials predicts the held-out neurons' ΔF/F on the "
                    "test trials. `mean` and `psth` (condition average) are references.",
                    Figure(plot_model_comparison(scores), "R² per held-out neuron.", "scores"),
                    Table(summary, "Medians over held-out neurons (log-likelihood: nats / bin)."),
                    Table(pd.DataFrame(tables.get("timings", [])), "Fit time and peak memory."),
                ],
            )
        )
    return sections


def render_recording_report(r: RecordingReport, generated: str | None = None) -> str:
    """The HTML page of one recording (see :class:`RecordingReport`)."""
    sections = [
        _qc_section(r),
        _spikes_section(r),
        _nmf_section(r),
        *_dynamics_sections(r),
        Section("Provenance", [KeyValues(r.provenance, "Code, models and parameters.")]),
    ]
    return render_report(f"Recording {r.name}", sections, subtitle=r.source, generated=generated)
