"""Synthetic calcium data driven by a discrete HMM or by GPFA latents, with ground truth kept.

Both generators follow the same recipe: latent structure → Poisson spike counts per bin →
autoregressive calcium ``c_t = Σ_i a_i c_{t−i} + jump · s_t + ε_t`` (ε ~ N(0, σ²)) → ΔF/F
observation ``y_t = c_t + η_t`` with independent measurement noise η. The measurement noise is not
part of any fitted model, so no model is exactly the generating process.

Time is in bins throughout; rates are spikes / bin; ΔF/F is in units of the per-spike jump.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "GPFASimulation",
    "HMMSimulation",
    "ar_calcium",
    "se_kernel",
    "sequential_transition_matrix",
    "simulate_gpfa_calcium",
    "simulate_gpfa_gcamp6f",
    "simulate_hmm_calcium",
]


@dataclass
class HMMSimulation:
    """HMM-driven calcium data: a training and a test sequence from the same model.

    Attributes:
        states_train, states_test: true state per bin, shape ``(T,)``, ints in ``[0, K)``.
        spikes_train, spikes_test: spike counts, shape ``(T, N)``.
        calcium_train, calcium_test: observed ΔF/F, shape ``(T, N)``.
        state_rates: spikes / bin of each neuron in each state, shape ``(K, N)``.
        transition_matrix: ``(K, K)``, rows sum to one; ``start_probabilities``: ``(K,)``.
        ar_coef, jump, noise_var: per-neuron AR(1) calcium parameters, shape ``(N,)``.
        measurement_noise_sd: sd of the extra observation noise (ΔF/F).
    """

    states_train: np.ndarray
    states_test: np.ndarray
    spikes_train: np.ndarray
    spikes_test: np.ndarray
    calcium_train: np.ndarray
    calcium_test: np.ndarray
    state_rates: np.ndarray
    transition_matrix: np.ndarray
    start_probabilities: np.ndarray
    ar_coef: np.ndarray
    jump: np.ndarray
    noise_var: np.ndarray
    measurement_noise_sd: float


@dataclass
class GPFASimulation:
    """GPFA-driven calcium data.

    Attributes:
        latents: true latents, shape ``(T, q)``.
        length_scales: GP length scale of each latent (bins), shape ``(q,)``.
        loading: ``C``, shape ``(N, q)``; offset: ``d``, shape ``(N,)``.
        rates: softplus(C x + d) in spikes / bin, shape ``(T, N)``.
        spikes: spike counts, shape ``(T, N)``.
        calcium: observed ΔF/F, shape ``(T, N)``.
        ar_coefs: calcium AR coefficients, shape ``(p, N)``; jump, noise_var: shape ``(N,)``.
        measurement_noise_sd: sd of the extra observation noise (ΔF/F).
    """

    latents: np.ndarray
    length_scales: np.ndarray
    loading: np.ndarray
    offset: np.ndarray
    rates: np.ndarray
    spikes: np.ndarray
    calcium: np.ndarray
    ar_coefs: np.ndarray
    jump: np.ndarray
    noise_var: np.ndarray
    measurement_noise_sd: float


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}")
    return int(value)


def sequential_transition_matrix(n_states: int, p_stay: float) -> np.ndarray:
    """Transition matrix that stays with ``p_stay`` and otherwise moves to the next state.

    The last state advances to the first, so the chain cycles ``0 → 1 → … → K−1 → 0``.
    """
    n_states = _positive_int(n_states, "n_states")
    if not 0.0 <= p_stay <= 1.0:
        raise ValueError(f"p_stay must be in [0, 1]; got {p_stay}")
    trans = np.eye(n_states) * p_stay
    for k in range(n_states):
        trans[k, (k + 1) % n_states] += 1.0 - p_stay
    return trans


def ar_calcium(
    spikes: np.ndarray,
    ar_coefs: np.ndarray,
    jump: np.ndarray,
    noise_var: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Autoregressive calcium ``c_t = Σ_i a_i c_{t−i} + jump · s_t + ε_t`` from rest (c = 0).

    Args:
        spikes: spike counts, shape ``(T, N)``.
        ar_coefs: ``(p, N)`` AR coefficients; jump, noise_var: ``(N,)``.
        rng: random generator for the innovations ε ~ N(0, noise_var).

    Returns:
        Calcium, shape ``(T, N)``.
    """
    n_time, n_neurons = spikes.shape
    p = ar_coefs.shape[0]
    innovations = rng.normal(size=(n_time, n_neurons)) * np.sqrt(noise_var)
    drive = jump * spikes + innovations
    calcium = np.zeros((n_time + p, n_neurons))
    for t in range(n_time):
        past = calcium[t : t + p][::-1]  # c_{t-1}, ..., c_{t-p}
        calcium[t + p] = np.sum(ar_coefs * past, axis=0) + drive[t]
    return calcium[p:]


def _sample_states(
    n_time: int, start: np.ndarray, trans: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    states = np.empty(n_time, dtype=np.int64)
    states[0] = rng.choice(len(start), p=start)
    cumulative = np.cumsum(trans, axis=1)
    uniforms = rng.random(n_time)
    for t in range(1, n_time):
        states[t] = min(np.searchsorted(cumulative[states[t - 1]], uniforms[t]), len(start) - 1)
    return states


def simulate_hmm_calcium(
    n_states: int = 5,
    neurons_per_state: int = 5,
    n_time_train: int = 2000,
    n_time_test: int = 2000,
    rate_on: float = 0.2,
    rate_off: float = 0.01,
    p_stay: float = 0.83,
    ar_coef_mean: float = 0.8,
    ar_coef_sd: float = 0.1,
    ar_coef_range: tuple[float, float] = (0.6, 0.95),
    jump: float = 1.0,
    noise_var: float = 1e-2,
    measurement_noise_sd: float = 0.2,
    seed: int = 0,
) -> HMMSimulation:
    """Sequential-state HMM driving groups of neurons, observed through AR(1) calcium.

    Neurons come in ``n_states`` groups of ``neurons_per_state``; group ``k`` fires ``rate_on``
    spikes / bin in state ``k`` and ``rate_off`` otherwise. The chain stays with ``p_stay`` and
    otherwise advances to the next state (the last wraps to the first). Per-neuron AR(1)
    coefficients are drawn from N(ar_coef_mean, ar_coef_sd) clipped to ``ar_coef_range``. The
    training and test sequences are independent draws, each starting at rest.
    """
    n_states = _positive_int(n_states, "n_states")
    neurons_per_state = _positive_int(neurons_per_state, "neurons_per_state")
    for name, value in (("n_time_train", n_time_train), ("n_time_test", n_time_test)):
        if _positive_int(value, name) < n_states:
            raise ValueError(f"{name}={value} is fewer time bins than n_states={n_states}")
    if rate_on < 0 or rate_off < 0:
        raise ValueError("rate_on and rate_off must be ≥ 0 spikes / bin")
    rng = np.random.default_rng(seed)
    n_neurons = n_states * neurons_per_state
    group = np.repeat(np.arange(n_states), neurons_per_state)
    state_rates = np.where(group[None, :] == np.arange(n_states)[:, None], rate_on, rate_off)
    trans = sequential_transition_matrix(n_states, p_stay)
    start = np.full(n_states, 1.0 / n_states)
    ar_coef = np.clip(rng.normal(ar_coef_mean, ar_coef_sd, n_neurons), *ar_coef_range)
    jumps = np.full(n_neurons, float(jump))
    noise_vars = np.full(n_neurons, float(noise_var))

    def one_sequence(n_time: int):
        states = _sample_states(n_time, start, trans, rng)
        spikes = rng.poisson(state_rates[states]).astype(np.float64)
        calcium = ar_calcium(spikes, ar_coef[None, :], jumps, noise_vars, rng)
        observed = calcium + rng.normal(scale=measurement_noise_sd, size=calcium.shape)
        return states, spikes, observed

    s_tr, sp_tr, y_tr = one_sequence(int(n_time_train))
    s_te, sp_te, y_te = one_sequence(int(n_time_test))
    return HMMSimulation(
        states_train=s_tr,
        states_test=s_te,
        spikes_train=sp_tr,
        spikes_test=sp_te,
        calcium_train=y_tr,
        calcium_test=y_te,
        state_rates=state_rates,
        transition_matrix=trans,
        start_probabilities=start,
        ar_coef=ar_coef,
        jump=jumps,
        noise_var=noise_vars,
        measurement_noise_sd=float(measurement_noise_sd),
    )


def se_kernel(n_time: int, length_scale: float, gp_noise_var: float = 0.0) -> np.ndarray:
    """Squared-exponential covariance ``(1 − ν) exp(−Δt² / 2ℓ²) + ν δ`` on bins ``0..T−1``.

    Args:
        n_time: number of bins T.
        length_scale: ℓ in bins.
        gp_noise_var: ν, the small independent variance that keeps the matrix well conditioned
            (the marginal variance stays 1).

    Returns:
        ``(T, T)`` covariance matrix.
    """
    if length_scale <= 0:
        raise ValueError(f"length_scale must be > 0 bins; got {length_scale}")
    t = np.arange(n_time, dtype=np.float64)
    sq = (t[:, None] - t[None, :]) ** 2
    return (1.0 - gp_noise_var) * np.exp(-sq / (2.0 * length_scale**2)) + gp_noise_var * np.eye(
        n_time
    )


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


def _gpfa_spikes(
    n_time: int,
    n_neurons: int,
    length_scales: np.ndarray,
    loading_sd: float,
    mean_rate: float,
    rng: np.random.Generator,
):
    """GP latents (T, q), loadings (N, q), offsets (N,), rates and Poisson spikes (T, N)."""
    latents = np.empty((n_time, len(length_scales)))
    for j, ell in enumerate(length_scales):
        chol = np.linalg.cholesky(se_kernel(n_time, ell, gp_noise_var=1e-6))
        latents[:, j] = chol @ rng.normal(size=n_time)
    loading = rng.normal(scale=loading_sd, size=(n_neurons, len(length_scales)))
    offset = np.full(n_neurons, np.log(np.expm1(mean_rate)))
    rates = _softplus(latents @ loading.T + offset)
    spikes = rng.poisson(rates).astype(np.float64)
    return latents, loading, offset, rates, spikes


def _check_gpfa_sizes(n_time, n_neurons, length_scales, mean_rate):
    n_time = _positive_int(n_time, "n_time")
    n_neurons = _positive_int(n_neurons, "n_neurons")
    length_scales_arr = np.asarray(length_scales, dtype=np.float64)
    if length_scales_arr.ndim != 1 or len(length_scales_arr) < 1:
        raise ValueError("length_scales must list one length scale (bins) per latent")
    if mean_rate <= 0:
        raise ValueError(f"mean_rate must be > 0 spikes / bin; got {mean_rate}")
    return n_time, n_neurons, length_scales_arr


def simulate_gpfa_calcium(
    n_time: int = 4000,
    n_neurons: int = 30,
    length_scales: tuple[float, ...] = (250.0, 450.0, 500.0),
    loading_sd: float = 0.4,
    mean_rate: float = 0.25,
    ar_coefs: tuple[float, ...] = (1.3, -0.4),
    ar_coef_jitter: float = 0.02,
    jump_range: tuple[float, float] = (0.8, 1.2),
    noise_var: float = 1e-3,
    measurement_noise_sd: float = 0.2,
    seed: int = 0,
) -> GPFASimulation:
    """Poisson GPFA spikes through softplus(Cx + d), observed through AR(p) calcium.

    Latent ``j`` is a draw from a zero-mean GP with squared-exponential covariance of length
    scale ``length_scales[j]`` bins and unit variance. Loadings are N(0, loading_sd²); offsets
    are set so that softplus(d) = ``mean_rate`` spikes / bin. The calcium of every neuron follows
    the AR(p) recursion with coefficients ``ar_coefs`` (the default AR(2) has a rise and a decay:
    roots 0.8 and 0.5) plus per-neuron jitter of sd ``ar_coef_jitter`` on the first coefficient,
    a jump per spike drawn uniformly from ``jump_range`` and innovation variance ``noise_var``.
    """
    n_time, n_neurons, length_scales_arr = _check_gpfa_sizes(
        n_time, n_neurons, length_scales, mean_rate
    )
    rng = np.random.default_rng(seed)
    latents, loading, offset, rates, spikes = _gpfa_spikes(
        n_time, n_neurons, length_scales_arr, loading_sd, mean_rate, rng
    )
    coefs = np.tile(np.asarray(ar_coefs, dtype=np.float64)[:, None], (1, n_neurons))
    coefs[0] += rng.normal(scale=ar_coef_jitter, size=n_neurons)
    jumps = rng.uniform(*jump_range, size=n_neurons)
    noise_vars = np.full(n_neurons, float(noise_var))
    calcium = ar_calcium(spikes, coefs, jumps, noise_vars, rng)
    observed = calcium + rng.normal(scale=measurement_noise_sd, size=calcium.shape)
    return GPFASimulation(
        latents=latents,
        length_scales=length_scales_arr,
        loading=loading,
        offset=offset,
        rates=rates,
        spikes=spikes,
        calcium=observed,
        ar_coefs=coefs,
        jump=jumps,
        noise_var=noise_vars,
        measurement_noise_sd=float(measurement_noise_sd),
    )


def simulate_gpfa_gcamp6f(
    n_time: int = 4000,
    n_neurons: int = 30,
    length_scales: tuple[float, ...] = (250.0, 450.0, 500.0),
    loading_sd: float = 0.4,
    mean_rate: float = 0.25,
    bin_s: float = 1.0 / 30.0,
    tau_on_s: float = 0.05,
    tau_off_s: float = 0.4,
    half_saturation: float = 5.0,
    noise_sd_mean: float = 0.12,
    noise_sd_sd: float = 0.02,
    noise_sd_min: float = 0.06,
    seed: int = 0,
) -> GPFASimulation:
    """Poisson GPFA spikes observed through the GCaMP6f indicator model, not an AR(p) process.

    The spikes are those of :func:`simulate_gpfa_calcium` (same seed, same latents); the
    fluorescence comes from :func:`calcium_dynamics.simulate.calcium.gcamp6f_fluorescence`:
    jittered spike amplitudes, a rise-and-decay kernel (τ_on, τ_off at ``bin_s`` bins), Hill
    saturation with half-saturation ``half_saturation`` single-spike peaks, per-neuron min–max
    normalisation and Gaussian plus signal-dependent noise. None of the fitted observation
    models is this process (saturation, amplitude jitter and signal-dependent noise are outside
    all of them), which is the point of a biophysically flavoured benchmark.

    The returned ``ar_coefs`` are the kernel's AR(2) coefficients before saturation, ``jump``
    the normalised fluorescence peak of one isolated spike from rest, ``noise_var`` the
    per-neuron baseline noise variance sn² and ``measurement_noise_sd`` the mean sn.
    """
    from calcium_dynamics.simulate.calcium import gcamp6f_fluorescence, hill_saturation

    n_time, n_neurons, length_scales_arr = _check_gpfa_sizes(
        n_time, n_neurons, length_scales, mean_rate
    )
    rng = np.random.default_rng(seed)
    latents, loading, offset, rates, spikes = _gpfa_spikes(
        n_time, n_neurons, length_scales_arr, loading_sd, mean_rate, rng
    )
    traces = gcamp6f_fluorescence(
        spikes[None],
        bin_s=bin_s,
        tau_on_s=tau_on_s,
        tau_off_s=tau_off_s,
        half_saturation=half_saturation,
        noise_sd_mean=noise_sd_mean,
        noise_sd_sd=noise_sd_sd,
        noise_sd_min=noise_sd_min,
        seed=seed + 1,
    )
    f = hill_saturation(traces.calcium[0], half_saturation, 1.0)
    span = np.ptp(f, axis=0)
    jump = 1.0 / np.where(span > 0, span, 1.0)  # f(1) − f(0) = 1 before normalisation
    coefs = np.tile(np.asarray(traces.ar_coefs, dtype=np.float64)[:, None], (1, n_neurons))
    return GPFASimulation(
        latents=latents,
        length_scales=length_scales_arr,
        loading=loading,
        offset=offset,
        rates=rates,
        spikes=spikes,
        calcium=traces.fluorescence[0],
        ar_coefs=coefs,
        jump=jump,
        noise_var=traces.noise_sd**2,
        measurement_noise_sd=float(traces.noise_sd.mean()),
    )
