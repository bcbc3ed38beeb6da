"""The Lorenz data sets of the LFADS-family benchmarks, from one parameter dictionary each.

``simulate_lorenz_imaging`` (RADICaL / AutoLFADS: Lorenz → Poisson spikes → GCaMP6f
fluorescence → staggered line-scan samples), ``deconvolve_lorenz_imaging`` (OASIS events at
sub-frame bins and frame-binned views) and ``simulate_calcium_lorenz`` (the calcium-LFADS data
of Keeley et al.). The parameters are those of ``conf/base/parameters_latent_lfads.yml``.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from calcium_dynamics.simulate.calcium import ar1_calcium_traces, gcamp6f_fluorescence
from calcium_dynamics.simulate.line_scan import (
    apply_sampling,
    deconvolve_sampled,
    discretise_events,
    line_scan_sampling,
    to_frames,
)
from calcium_dynamics.simulate.lorenz import (
    lorenz_latents,
    lorenz_poisson_population,
    lorenz_single_trials,
)

log = logging.getLogger(__name__)


def downsample_for_speed(params: dict[str, Any]) -> int:
    """Lorenz downsampling factor of the configured speed (``speed_hz``)."""
    table = {float(k): int(v) for k, v in params["downsample_by_speed_hz"].items()}
    speed = float(params["speed_hz"])
    if speed not in table:
        raise ValueError(
            f"lorenz_simulation.speed_hz={speed} has no downsampling factor; known speeds "
            f"{sorted(table)}"
        )
    return table[speed]


def simulate_lorenz_imaging(
    params: dict[str, Any],
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Lorenz → Poisson spikes → GCaMP6f fluorescence → staggered line-scan samples.

    Returns:
        ``lorenz_truth``: latents (trials, T, 3), rates and spikes (trials, T, N) per bin,
        condition (trials,), bin_s. ``lorenz_imaging``: fluorescence (trials, T, N) at the bin
        rate, sampled fluorescence (NaN where not sampled), mask, phase (N,), shift (trials,),
        noise_sd (N,), frame_bins, bin_s.
    """
    seed = int(params["seed"])
    bin_s = float(params["bin_s"])
    latents = lorenz_latents(
        int(params["n_conditions"]),
        int(params["n_bins"]),
        downsample_for_speed(params),
        burn_in_steps=int(params["burn_in_steps"]),
        seed=seed,
    )
    pop = lorenz_poisson_population(
        latents,
        int(params["n_trials_per_condition"]),
        int(params["n_neurons"]),
        bin_s=bin_s,
        baseline_rate_hz=float(params["baseline_rate_hz"]),
        readout_scale=float(params["readout_scale"]),
        seed=seed + 1,
    )
    traces = gcamp6f_fluorescence(pop.spikes, bin_s=bin_s, seed=seed + 2, **params["calcium"])
    n_trials, n_bins, n_neurons = pop.spikes.shape
    sampling = line_scan_sampling(
        n_trials, n_bins, n_neurons, int(params["frame_bins"]), seed=seed + 3
    )
    truth = {
        "latents": pop.latents.astype(np.float32),
        "rates": pop.rates.astype(np.float32),
        "spikes": pop.spikes.astype(np.int32),
        "condition": pop.condition,
        "bin_s": np.float64(bin_s),
    }
    imaging = {
        "fluorescence": traces.fluorescence.astype(np.float32),
        "sampled": apply_sampling(traces.fluorescence, sampling.mask),
        "mask": sampling.mask,
        "phase": sampling.phase,
        "shift": sampling.shift,
        "noise_sd": traces.noise_sd,
        "frame_bins": np.int64(sampling.frame_bins),
        "bin_s": np.float64(bin_s),
    }
    log.info(
        "Lorenz imaging: %d trials × %d bins × %d neurons, mean rate %.2f Hz",
        n_trials,
        n_bins,
        n_neurons,
        pop.rates.mean() / bin_s,
    )
    return truth, imaging


def deconvolve_lorenz_imaging(
    imaging: dict[str, np.ndarray], params: dict[str, Any]
) -> dict[str, np.ndarray]:
    """OASIS events at their sub-frame bins (RADICaL input) and frame-binned views.

    Returns:
        ``events`` (trials, T, N), NaN where not sampled; ``frame_events`` (trials, T/fb, N)
        continuous events at frame times; ``frame_counts`` discretised events (AutoLFADS input);
        ``frame_fluorescence`` sampled fluorescence at frame times; ``frame_rate_hz``.
    """
    frame_bins = int(imaging["frame_bins"])
    frame_rate = 1.0 / (float(imaging["bin_s"]) * frame_bins)
    events = deconvolve_sampled(
        imaging["sampled"],
        frame_rate,
        s_min=float(params["s_min"]),
        penalty=int(params["penalty"]),
    )
    mask = imaging["mask"]
    frame_events = to_frames(events, mask, frame_bins)
    return {
        "events": events,
        "frame_events": frame_events,
        "frame_counts": discretise_events(frame_events),
        "frame_fluorescence": to_frames(imaging["sampled"], mask, frame_bins),
        "frame_rate_hz": np.float64(frame_rate),
    }


def simulate_calcium_lorenz(params: dict[str, Any]) -> dict[str, np.ndarray]:
    """Calcium-LFADS data of Keeley et al.: single-trial Lorenz → Poisson → AR(1) calcium.

    Returns latents (trials, T, 3), rates / spikes (trials, T, N), calcium and dff
    (trials, T, N), and the true alpha / jump (N,).
    """
    seed = int(params["seed"])
    latents = lorenz_single_trials(
        int(params["n_trials"]),
        int(params["n_bins"]),
        dt=float(params["dt"]),
        burn_in_steps=int(params["burn_in_steps"]),
        seed=seed,
    )
    pop = lorenz_poisson_population(
        latents,
        1,
        int(params["n_neurons"]),
        bin_s=1.0,
        mean_spikes_per_bin=float(params["mean_spikes_per_bin"]),
        readout_scale=float(params["readout_scale"]),
        seed=seed + 1,
    )
    traces = ar1_calcium_traces(
        pop.spikes,
        alpha_range=tuple(params["alpha_range"]),
        jump_range=tuple(params["jump_range"]),
        ar_noise_var=float(params["ar_noise_var"]),
        measurement_noise_sd=float(params["measurement_noise_sd"]),
        seed=seed + 2,
    )
    return {
        "latents": pop.latents.astype(np.float32),
        "rates": pop.rates.astype(np.float32),
        "spikes": pop.spikes.astype(np.int32),
        "calcium": traces.calcium.astype(np.float32),
        "dff": traces.dff.astype(np.float32),
        "alpha": traces.alpha,
        "jump": traces.jump,
    }
