"""A trial-structured session whose neurons follow a known two-dimensional latent.

Each trial (``trial_s`` long, trials separated by jittered inter-trial intervals) holds a
stimulus period ``[stim_start_s, stim_start_s + stim_s)``. During it the latent leaves the
origin along a smooth envelope g(t) (logistic edges of width ``edge_s``) and turns by
``turn_rad`` while it is out:

    z(t) = a · g(t) · (cos(φ_c + turn · u), sin(φ_c + turn · u)),  u = (t − stim_start) / stim_s

with φ_c = 0 for condition 0 and π for condition 1 (the two conditions leave in opposite
directions and turn the same way), and a per-trial gain a ~ U(1 − ``gain_jitter``,
1 + ``gain_jitter``) so single trials differ from the condition average. Outside the stimulus
z = 0. The discrete state is 0 (rest: g < ½) or 1 + condition (stimulus).

Neuron i fires as an inhomogeneous Poisson process of rate λ_i(t) = b_i · exp(c_i · z(t)) (Hz)
with baseline b_i ~ U(``base_rate_hz``) and loading c_i a random 2-D direction of length
~ U(``gain_range``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass
class TrialSession:
    """A simulated session's time line, trials and latent (at the frame rate).

    Attributes:
        frame_rate_hz: frames per second (Hz).
        latents: (n_frames, 2) latent z at every frame (0 outside stimuli).
        states: (n_frames,) int: 0 rest, 1 + condition during a stimulus.
        trials: one row per trial: ``start_time``, ``stop_time`` (s from the first frame),
            ``stimulus`` (the condition, 0 or 1) and ``gain`` (the trial's latent gain).
    """

    frame_rate_hz: float
    latents: np.ndarray
    states: np.ndarray
    trials: pd.DataFrame

    @property
    def n_frames(self) -> int:
        return int(self.latents.shape[0])


def _logistic(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def simulate_trial_session(
    n_trials: int = 60,
    frame_rate_hz: float = 15.0,
    *,
    trial_s: float = 3.0,
    stim_start_s: float = 0.75,
    stim_s: float = 1.5,
    iti_s: tuple[float, float] = (0.8, 1.2),
    lead_s: float = 2.0,
    tail_s: float = 2.0,
    edge_s: float = 0.08,
    turn_rad: float = np.pi / 2,
    gain_jitter: float = 0.3,
    seed: int = 0,
) -> TrialSession:
    """Trials, latent and states of one session (see the module docstring).

    Args:
        n_trials: trials; conditions are balanced and shuffled.
        frame_rate_hz: frame rate (Hz).
        trial_s: trial length (s); stim_start_s, stim_s: stimulus onset in the trial and length.
        iti_s: inter-trial interval range (s), uniform.
        lead_s, tail_s: rest before the first and after the last trial (s).
        edge_s: width of the envelope's logistic edges (s).
        turn_rad: how far the latent turns during a stimulus (rad).
        gain_jitter: half-width of the per-trial gain's uniform range.
        seed: random seed.
    """
    if n_trials < 2:
        raise ValueError(f"n_trials must be ≥ 2, got {n_trials}")
    if not 0 <= stim_start_s < stim_start_s + stim_s <= trial_s:
        raise ValueError("the stimulus must lie inside the trial (0 ≤ start < end ≤ trial_s)")
    rng = np.random.default_rng(seed)
    conditions = rng.permutation(np.arange(n_trials) % 2)
    gains = rng.uniform(1 - gain_jitter, 1 + gain_jitter, n_trials)
    gaps = rng.uniform(*iti_s, n_trials - 1)
    starts = lead_s + np.concatenate([[0.0], np.cumsum(trial_s + gaps)])
    duration = starts[-1] + trial_s + tail_s
    n_frames = int(np.ceil(duration * frame_rate_hz))
    t = np.arange(n_frames) / frame_rate_hz
    latents = np.zeros((n_frames, 2))
    states = np.zeros(n_frames, dtype=np.int64)
    for start, cond, gain in zip(starts, conditions, gains, strict=True):
        on, off = start + stim_start_s, start + stim_start_s + stim_s
        near = (t >= start) & (t < start + trial_s)
        tt = t[near]
        envelope = _logistic((tt - on) / edge_s) * _logistic((off - tt) / edge_s)
        angle = np.pi * cond + turn_rad * np.clip((tt - on) / stim_s, 0.0, 1.0)
        latents[near] = gain * envelope[:, None] * np.column_stack([np.cos(angle), np.sin(angle)])
        states[np.flatnonzero(near)[envelope >= 0.5]] = 1 + cond
    trials = pd.DataFrame(
        {
            "start_time": np.round(starts, 4),
            "stop_time": np.round(starts + trial_s, 4),
            "stimulus": conditions.astype(np.int64),
            "gain": np.round(gains, 4),
        }
    )
    return TrialSession(float(frame_rate_hz), latents, states, trials)


def latent_rates(
    latents: np.ndarray,
    n_neurons: int,
    *,
    base_rate_hz: tuple[float, float] = (0.2, 0.6),
    gain_range: tuple[float, float] = (1.2, 2.2),
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Firing rates λ = b · exp(C z) of ``n_neurons`` neurons driven by ``latents``.

    Args:
        latents: (n_frames, q) latent trajectory.
        n_neurons: number of neurons.
        base_rate_hz: range of the baseline rates b (Hz, uniform).
        gain_range: range of the loadings' lengths (log-rate per unit latent, uniform).
        seed: random seed.

    Returns:
        ``(rates_hz (n_neurons, n_frames), loadings (n_neurons, q), base_hz (n_neurons,))``.
    """
    rng = np.random.default_rng(seed)
    q = latents.shape[1]
    directions = rng.standard_normal((n_neurons, q))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    loadings = directions * rng.uniform(*gain_range, (n_neurons, 1))
    base = rng.uniform(*base_rate_hz, n_neurons)
    rates = base[:, None] * np.exp(loadings @ latents.T)
    return rates, loadings, base
