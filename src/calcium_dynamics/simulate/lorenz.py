"""Lorenz-driven Poisson spiking with known latent states (RADICaL and calcium-LFADS data).

The Lorenz system (σ, ρ, β) is integrated with fourth-order Runge–Kutta; the speed of the
dynamics seen at a fixed bin width is set by how many integration steps fall in one bin (the
downsampling factor). Firing rates are the exponential of a random linear readout of the
normalised state, so the state can be read back from the rates by a linear map of log rates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LORENZ_SIGMA = 10.0
LORENZ_RHO = 28.0
LORENZ_BETA = 8.0 / 3.0


def _lorenz_derivative(x: np.ndarray, sigma: float, rho: float, beta: float) -> np.ndarray:
    dx = sigma * (x[..., 1] - x[..., 0])
    dy = x[..., 0] * (rho - x[..., 2]) - x[..., 1]
    dz = x[..., 0] * x[..., 1] - beta * x[..., 2]
    return np.stack([dx, dy, dz], axis=-1)


def integrate_lorenz(
    initial_states: np.ndarray,
    n_steps: int,
    dt: float = 0.01,
    sigma: float = LORENZ_SIGMA,
    rho: float = LORENZ_RHO,
    beta: float = LORENZ_BETA,
) -> np.ndarray:
    """Integrate many Lorenz trajectories at once with RK4.

    Args:
        initial_states: starting points, shape (n_trajectories, 3).
        n_steps: number of integration steps after the initial state.
        dt: integration step (Lorenz time units).
        sigma, rho, beta: Lorenz parameters.

    Returns:
        States, shape (n_trajectories, n_steps + 1, 3); index 0 is the initial state.
    """
    x = np.asarray(initial_states, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 3:
        raise ValueError(f"initial_states must have shape (n, 3); got {x.shape}")
    if n_steps < 0:
        raise ValueError(f"n_steps must be >= 0; got {n_steps}")
    out = np.empty((x.shape[0], n_steps + 1, 3))
    out[:, 0] = x
    for i in range(n_steps):
        k1 = _lorenz_derivative(x, sigma, rho, beta)
        k2 = _lorenz_derivative(x + 0.5 * dt * k1, sigma, rho, beta)
        k3 = _lorenz_derivative(x + 0.5 * dt * k2, sigma, rho, beta)
        k4 = _lorenz_derivative(x + dt * k3, sigma, rho, beta)
        x = x + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        out[:, i + 1] = x
    return out


def lorenz_latents(
    n_conditions: int,
    n_bins: int,
    downsample: int,
    *,
    dt: float = 0.01,
    burn_in_steps: int = 1000,
    seed: int = 0,
) -> np.ndarray:
    """Lorenz states on the attractor, one trajectory per condition, normalised per dimension.

    Each condition starts from a random point, runs ``burn_in_steps`` to reach the attractor,
    then ``n_bins * downsample`` steps of which every ``downsample``-th is kept (a larger factor
    gives faster dynamics per bin). Each dimension is then centred and scaled to unit s.d. over
    all conditions and bins.

    Returns:
        Normalised states, shape (n_conditions, n_bins, 3) (x, y, z).
    """
    for name, value in (("n_conditions", n_conditions), ("n_bins", n_bins)):
        if value < 1:
            raise ValueError(f"{name} must be >= 1; got {value}")
    if downsample < 1:
        raise ValueError(f"downsample must be >= 1; got {downsample}")
    rng = np.random.default_rng(seed)
    start = rng.uniform(-15, 15, size=(n_conditions, 3)) + np.array([0.0, 0.0, 25.0])
    warm = integrate_lorenz(start, burn_in_steps, dt)[:, -1]
    states = integrate_lorenz(warm, n_bins * downsample - 1, dt)[:, ::downsample]
    flat = states.reshape(-1, 3)
    return ((states - flat.mean(0)) / flat.std(0)).astype(np.float64)


@dataclass(frozen=True)
class LorenzSpikes:
    """Lorenz-driven Poisson population, all arrays (trials, bins, ·).

    Attributes:
        latents: normalised Lorenz states per trial, shape (trials, bins, 3).
        rates: firing rates in spikes per bin, shape (trials, bins, neurons).
        spikes: Poisson spike counts, shape (trials, bins, neurons), int.
        condition: condition index of each trial, shape (trials,).
        readout: readout weights, shape (3, neurons); log rate = latents @ readout + log_baseline.
        bin_s: bin width in seconds.
    """

    latents: np.ndarray
    rates: np.ndarray
    spikes: np.ndarray
    condition: np.ndarray
    readout: np.ndarray
    bin_s: float


def lorenz_poisson_population(
    latents: np.ndarray,
    n_trials_per_condition: int,
    n_neurons: int,
    *,
    bin_s: float,
    baseline_rate_hz: float | None = None,
    mean_spikes_per_bin: float | None = None,
    readout_scale: float = 1.0,
    seed: int = 0,
) -> LorenzSpikes:
    """Poisson spikes from rates ``exp(W·z + b)`` of the Lorenz states ``z``.

    Args:
        latents: Lorenz states, shape (conditions, bins, 3) (one trajectory per condition,
            repeated for every trial of that condition).
        n_trials_per_condition: trials per condition.
        n_neurons: number of neurons.
        bin_s: bin width in seconds.
        baseline_rate_hz: rate at the zero state (exp(b) / bin_s) in spikes/s; or
        mean_spikes_per_bin: the population mean rate in spikes per bin (exactly one of the two).
        readout_scale: s.d. of the readout weights W (log-rate units per unit of latent s.d.).
        seed: random seed for weights and spikes.
    """
    if (baseline_rate_hz is None) == (mean_spikes_per_bin is None):
        raise ValueError("give exactly one of baseline_rate_hz and mean_spikes_per_bin")
    if n_trials_per_condition < 1 or n_neurons < 1:
        raise ValueError("n_trials_per_condition and n_neurons must be >= 1")
    rng = np.random.default_rng(seed)
    n_cond = latents.shape[0]
    weights = rng.normal(0.0, readout_scale / np.sqrt(3.0), size=(3, n_neurons))
    drive = latents @ weights  # (conditions, bins, neurons)
    if baseline_rate_hz is not None:
        log_base = np.log(baseline_rate_hz * bin_s)
    else:
        log_base = np.log(mean_spikes_per_bin / np.exp(drive).mean())
    cond_rates = np.exp(drive + log_base)
    condition = np.repeat(np.arange(n_cond), n_trials_per_condition)
    rates = cond_rates[condition]
    spikes = rng.poisson(rates)
    return LorenzSpikes(
        latents=latents[condition],
        rates=rates,
        spikes=spikes.astype(np.int64),
        condition=condition,
        readout=weights,
        bin_s=float(bin_s),
    )


def lorenz_single_trials(
    n_trials: int,
    n_bins: int,
    *,
    dt: float = 0.025,
    burn_in_steps: int = 500,
    seed: int = 0,
) -> np.ndarray:
    """Independent Lorenz trajectories, one per trial (the calcium-LFADS data of Keeley et al.).

    Every trial starts at a random point, runs ``burn_in_steps`` to the attractor, then keeps
    ``n_bins`` RK4 steps of ``dt``. Each dimension is normalised to zero mean and unit s.d.

    Returns:
        States, shape (n_trials, n_bins, 3).
    """
    return lorenz_latents(n_trials, n_bins, 1, dt=dt, burn_in_steps=burn_in_steps, seed=seed)
