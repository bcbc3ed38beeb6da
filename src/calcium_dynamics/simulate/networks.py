"""Artificial neuronal networks with known structure, imaged through a jGCaMP7f model.

Two architectures (Carbonero et al. 2024, Sci Rep):

* **Nodal network** — ``n_nodes`` groups of neurons, all-to-all connected within a group and
  unconnected between groups. A neuron spikes with probability
  ``r·k/N·dt + Σ_j A_nj · spike_j[t−1]``, set to zero while it is refractory.
* **Random-process network** — ``n_processes`` independent Bernoulli (Poisson) spike trains of
  rate ``r`` drive every neuron with a weight ``w_kn``; a neuron spikes with probability
  ``Σ_k w_kn · process_k[t−1]``, set to zero while it is refractory.

Spike trains become calcium through a first-order (AR(1)) model with additive noise and then
fluorescence through an affine map with measurement noise::

    Ca[t] − Ca[t−1] = −dt/τ · (Ca[t−1] − Ca_b) + A · spike[t] + σ_c · √dt · ε
    F[t]            = α · Ca[t] + β + σ_F · ε

ΔF/F is computed against the noise-free resting fluorescence ``F0 = α · Ca_b + β``.

Every simulation keeps its ground truth: the node membership or process weights, the adjacency,
the spikes of every neuron and the activity of every latent source (node or process). The time
loop is vectorised over neurons; the calcium filter runs over all neurons at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.signal import lfilter

__all__ = [
    "CalciumModel",
    "NetworkSimulation",
    "calcium_response",
    "process_weights",
    "simulate_nodal_network",
    "simulate_process_network",
    "spikes_to_fluorescence",
]


@dataclass(frozen=True)
class CalciumModel:
    """jGCaMP7f calcium and fluorescence model (defaults: the paper's values).

    Attributes:
        tau_s: calcium decay time constant τ (s).
        sigma_calcium: calcium noise σ_c (concentration units / √s).
        calcium_baseline: resting calcium Ca_b (concentration units).
        spike_amplitude: calcium jump A per spike (concentration units).
        alpha: fluorescence gain α (fluorescence units per concentration unit).
        beta: fluorescence offset β (fluorescence units).
        sigma_fluorescence: fluorescence measurement noise σ_F (fluorescence units).
    """

    tau_s: float = 0.265
    sigma_calcium: float = 0.5
    calcium_baseline: float = 0.1
    spike_amplitude: float = 5.0
    alpha: float = 5.0
    beta: float = 10.0
    sigma_fluorescence: float = 1.0

    def __post_init__(self) -> None:
        for name in ("tau_s", "alpha"):
            if not getattr(self, name) > 0:
                raise ValueError(f"calcium model parameter {name} must be > 0")
        for name in ("sigma_calcium", "sigma_fluorescence", "spike_amplitude"):
            if getattr(self, name) < 0:
                raise ValueError(f"calcium model parameter {name} must be ≥ 0")

    @property
    def resting_fluorescence(self) -> float:
        """F0 = α · Ca_b + β (fluorescence units)."""
        return self.alpha * self.calcium_baseline + self.beta


@dataclass
class NetworkSimulation:
    """One simulated network and its ground truth.

    Shapes: ``T`` time steps, ``N`` neurons, ``K`` latent sources (nodes or processes).

    Attributes:
        frame_rate_hz: sampling rate 1/dt (Hz).
        dff: ΔF/F, (T, N), float32.
        fluorescence: F, (T, N), float32 (fluorescence units).
        calcium: Ca, (T, N), float32 (concentration units).
        spikes: spikes of every neuron, (T, N), bool.
        weights: true source → neuron weights, (K, N). For the nodal network the one-hot
            membership (1 where the neuron belongs to the node).
        source_spikes: spikes per step of each source, (T, K): for nodes the number of the
            node's neurons spiking, for processes the process's own spike train.
        source_activity: each source's spikes through the noise-free calcium kernel,
            (T, K), shifted by the one-step synaptic delay so it lines up with the neurons it
            drives (concentration units).
        membership: node of each neuron, (N,), int, or ``None`` for the process network.
        adjacency: (N, N) neuron → neuron adjacency (row: receiving neuron) for the nodal
            network, or the (K, N) process → neuron weights for the process network.
        kind: ``"nodal"`` or ``"process"``.
        seed: the seed the simulation was drawn with.
    """

    frame_rate_hz: float
    dff: np.ndarray
    fluorescence: np.ndarray
    calcium: np.ndarray
    spikes: np.ndarray
    weights: np.ndarray
    source_spikes: np.ndarray
    source_activity: np.ndarray
    membership: np.ndarray | None
    adjacency: np.ndarray
    kind: str
    seed: int
    calcium_model: CalciumModel = field(default_factory=CalciumModel)

    @property
    def n_neurons(self) -> int:
        return self.dff.shape[1]

    @property
    def n_sources(self) -> int:
        return self.weights.shape[0]


def _check_positive(name: str, value: float) -> None:
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"network parameter {name} must be a positive number, got {value!r}")


def _n_steps(duration_s: float, dt_s: float) -> int:
    _check_positive("duration_s", duration_s)
    _check_positive("dt_s", dt_s)
    n = int(round(duration_s / dt_s))
    if n < 2:
        raise ValueError(f"duration_s={duration_s} with dt_s={dt_s} gives fewer than 2 steps")
    return n


def _check_refractory(refractory_steps: int) -> int:
    if int(refractory_steps) != refractory_steps or refractory_steps < 0:
        raise ValueError(f"refractory_steps must be a non-negative integer, got {refractory_steps}")
    return int(refractory_steps)


def calcium_response(
    drive: np.ndarray, dt_s: float, model: CalciumModel, noise: np.ndarray | None = None
) -> np.ndarray:
    """Calcium concentration from spikes, for all columns at once.

    Args:
        drive: spikes (or spike counts) per step, (T, N).
        dt_s: time step (s).
        model: calcium model.
        noise: standard-normal draws ε, (T, N); ``None`` for the noise-free response.

    Returns:
        Ca, (T, N), float64, starting from the baseline (Ca[−1] = Ca_b).
    """
    decay = dt_s / model.tau_s
    if not 0 < decay < 1:
        raise ValueError(f"dt_s / tau_s must lie in (0, 1), got {decay:.3g}")
    inp = model.spike_amplitude * np.asarray(drive, float) + decay * model.calcium_baseline
    if noise is not None:
        inp = inp + model.sigma_calcium * np.sqrt(dt_s) * noise
    a = 1.0 - decay
    zi = np.full((1, inp.shape[1]), a * model.calcium_baseline)
    calcium, _ = lfilter([1.0], [1.0, -a], inp, axis=0, zi=zi)
    return calcium


def spikes_to_fluorescence(
    spikes: np.ndarray, dt_s: float, model: CalciumModel, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Calcium, fluorescence and ΔF/F of spike trains (T, N) under the calcium model."""
    calcium = calcium_response(spikes, dt_s, model, rng.standard_normal(spikes.shape))
    fluorescence = (
        model.alpha * calcium
        + model.beta
        + model.sigma_fluorescence * rng.standard_normal(spikes.shape)
    )
    f0 = model.resting_fluorescence
    if f0 == 0:
        raise ValueError("resting fluorescence α·Ca_b + β is 0: ΔF/F is undefined")
    dff = (fluorescence - f0) / f0
    return calcium, fluorescence, dff


def _spike_loop(
    drive_fn,
    n_steps: int,
    n_neurons: int,
    refractory_steps: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Bernoulli spikes with a refractory period; ``drive_fn(t, previous_spikes)`` → P (N,)."""
    spikes = np.zeros((n_steps, n_neurons), dtype=bool)
    uniform = rng.random((n_steps, n_neurons))
    refractory_left = np.zeros(n_neurons, dtype=np.int64)
    previous = np.zeros(n_neurons, dtype=bool)
    for t in range(n_steps):
        p = drive_fn(t, previous)
        now = (uniform[t] < p) & (refractory_left == 0)
        np.subtract(refractory_left, 1, out=refractory_left, where=refractory_left > 0)
        refractory_left[now] = refractory_steps
        spikes[t] = now
        previous = now
    return spikes


def _source_activity(source_spikes: np.ndarray, dt_s: float, model: CalciumModel) -> np.ndarray:
    """Noise-free calcium response of source spikes, delayed one step (the synaptic delay)."""
    delayed = np.zeros_like(source_spikes, dtype=float)
    delayed[1:] = source_spikes[:-1]
    return calcium_response(delayed, dt_s, model) - model.calcium_baseline


def simulate_nodal_network(
    n_neurons: int = 100,
    n_nodes: int = 5,
    rate_hz: float = 3.0,
    dt_s: float = 1 / 30,
    duration_s: float = 300.0,
    refractory_steps: int = 2,
    calcium_model: CalciumModel | None = None,
    shuffle_neurons: bool = True,
    seed: int = 0,
) -> NetworkSimulation:
    """Nodal network: ``n_nodes`` all-to-all groups, no connections between groups.

    Args:
        n_neurons: N, divisible by ``n_nodes``.
        n_nodes: k, the number of nodes.
        rate_hz: nominal rate r (Hz); each neuron's spontaneous spike probability per step is
            ``r · k / N · dt`` so that each node starts about ``r`` events per second.
        dt_s: time step (s).
        duration_s: simulated time (s).
        refractory_steps: steps after a spike in which the neuron cannot spike. Must be ≥ 2 for
            node events to stop (with 1, two halves of a node keep re-exciting each other).
        calcium_model: calcium and fluorescence model (default: jGCaMP7f values).
        shuffle_neurons: randomly order the neurons so that node membership is not the column
            order (the decomposition must not profit from it).
        seed: random seed.

    Returns:
        The simulation; ``membership`` gives each neuron's node.
    """
    model = calcium_model or CalciumModel()
    n_steps = _n_steps(duration_s, dt_s)
    refractory_steps = _check_refractory(refractory_steps)
    _check_positive("rate_hz", rate_hz)
    if n_nodes < 1 or n_neurons < n_nodes or n_neurons % n_nodes:
        raise ValueError(f"n_neurons={n_neurons} must be a positive multiple of n_nodes={n_nodes}")
    rng = np.random.default_rng(seed)
    membership = np.repeat(np.arange(n_nodes), n_neurons // n_nodes)
    if shuffle_neurons:
        membership = rng.permutation(membership)
    adjacency = (membership[:, None] == membership[None, :]).astype(float)
    np.fill_diagonal(adjacency, 0.0)
    base = rate_hz * n_nodes / n_neurons * dt_s

    def drive(_t: int, previous: np.ndarray) -> np.ndarray:
        return base + adjacency @ previous

    spikes = _spike_loop(drive, n_steps, n_neurons, refractory_steps, rng)
    weights = (membership[None, :] == np.arange(n_nodes)[:, None]).astype(float)
    source_spikes = spikes.astype(float) @ weights.T
    calcium, fluorescence, dff = spikes_to_fluorescence(spikes, dt_s, model, rng)
    source_activity = calcium_response(source_spikes, dt_s, model) - model.calcium_baseline
    return NetworkSimulation(
        frame_rate_hz=1.0 / dt_s,
        dff=dff.astype(np.float32),
        fluorescence=fluorescence.astype(np.float32),
        calcium=calcium.astype(np.float32),
        spikes=spikes,
        weights=weights,
        source_spikes=source_spikes,
        source_activity=source_activity,
        membership=membership,
        adjacency=adjacency,
        kind="nodal",
        seed=seed,
        calcium_model=model,
    )


def process_weights(
    n_processes: int,
    n_neurons: int,
    strong_fraction: float,
    strong_range: tuple[float, float],
    weak_rate: float,
    weak_cap: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Process → neuron weights, (K, N).

    Each connection is strong with probability ``strong_fraction`` (weight ~ U(strong_range))
    and weak otherwise (weight ~ exponential of rate ``weak_rate`` truncated to
    ``[0, weak_cap]``, drawn by inverse CDF). With the paper's rate 8.0472 and cap 0.2,
    ``P(Exp > 0.2) = 0.2``: the two parts are the upper and lower quantiles of one distribution.
    """
    lo, hi = strong_range
    if not 0 <= strong_fraction <= 1:
        raise ValueError(f"strong_fraction must lie in [0, 1], got {strong_fraction}")
    if not 0 <= lo <= hi:
        raise ValueError(f"strong_range must be 0 ≤ low ≤ high, got {strong_range}")
    _check_positive("weak_rate", weak_rate)
    _check_positive("weak_cap", weak_cap)
    shape = (n_processes, n_neurons)
    strong = rng.random(shape) < strong_fraction
    u = rng.random(shape)
    weak = -np.log1p(-u * (1.0 - np.exp(-weak_rate * weak_cap))) / weak_rate
    return np.where(strong, rng.uniform(lo, hi, shape), weak)


def simulate_process_network(
    n_neurons: int = 150,
    n_processes: int = 5,
    rate_hz: float = 3.0,
    dt_s: float = 1 / 30,
    duration_s: float = 300.0,
    refractory_steps: int = 2,
    strong_fraction: float = 0.2,
    strong_range: tuple[float, float] = (0.2, 1.0),
    weak_rate: float = 8.0472,
    weak_cap: float = 0.2,
    calcium_model: CalciumModel | None = None,
    seed: int = 0,
) -> NetworkSimulation:
    """Random-process network: K independent spike processes drive N neurons with weights.

    Args:
        n_neurons: N.
        n_processes: K.
        rate_hz: rate r of each process (Hz); a process spikes with probability ``r · dt``.
        dt_s: time step (s).
        duration_s: simulated time (s).
        refractory_steps: steps after a spike in which the neuron cannot spike.
        strong_fraction, strong_range, weak_rate, weak_cap: the weight distribution
            (see :func:`process_weights`).
        calcium_model: calcium and fluorescence model (default: jGCaMP7f values).
        seed: random seed.

    Returns:
        The simulation; ``weights`` holds the (K, N) process → neuron weights.
    """
    model = calcium_model or CalciumModel()
    n_steps = _n_steps(duration_s, dt_s)
    refractory_steps = _check_refractory(refractory_steps)
    _check_positive("rate_hz", rate_hz)
    if n_processes < 1 or n_neurons < 1:
        raise ValueError("n_processes and n_neurons must be ≥ 1")
    if rate_hz * dt_s > 1:
        raise ValueError(f"rate_hz · dt_s = {rate_hz * dt_s:.3g} exceeds 1")
    rng = np.random.default_rng(seed)
    weights = process_weights(
        n_processes, n_neurons, strong_fraction, tuple(strong_range), weak_rate, weak_cap, rng
    )
    process_spikes = rng.random((n_steps, n_processes)) < rate_hz * dt_s
    # P(spike[t]) = Σ_k w_kn · process_k[t−1]: precomputed for all steps, one matrix product
    drive_all = np.zeros((n_steps, n_neurons))
    drive_all[1:] = process_spikes[:-1].astype(float) @ weights

    def drive(t: int, _previous: np.ndarray) -> np.ndarray:
        return drive_all[t]

    spikes = _spike_loop(drive, n_steps, n_neurons, refractory_steps, rng)
    calcium, fluorescence, dff = spikes_to_fluorescence(spikes, dt_s, model, rng)
    source_spikes = process_spikes.astype(float)
    return NetworkSimulation(
        frame_rate_hz=1.0 / dt_s,
        dff=dff.astype(np.float32),
        fluorescence=fluorescence.astype(np.float32),
        calcium=calcium.astype(np.float32),
        spikes=spikes,
        weights=weights,
        source_spikes=source_spikes,
        source_activity=_source_activity(source_spikes, dt_s, model),
        membership=None,
        adjacency=weights,
        kind="process",
        seed=seed,
        calcium_model=model,
    )
