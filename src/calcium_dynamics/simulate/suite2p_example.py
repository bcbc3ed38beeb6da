"""A small synthetic recording laid out like Suite2p's output folder, with its ground truth.

Each ROI: Poisson spikes → ΔF/F as a sum of double-exponential transients → somatic
fluorescence F0(t) · (1 + ΔF/F) on a slowly bleaching baseline F0(t), plus ``neuropil_coefficient``
times a neuropil trace shared (with a private part) across the plane, plus Gaussian noise.
Some ROIs are not cells (neuropil only, low classifier probability in ``iscell.npy``).

Written files per plane (``plane0/``, ``plane1/`` …): ``F.npy`` and ``Fneu.npy``
(float32, (n_rois, n_frames)), ``iscell.npy`` ((n_rois, 2): label, probability) and ``ops.npy``
(a dict saved by numpy, as Suite2p does, holding ``fs`` in Hz).

The example shipped with the project (:func:`write_trials_example`) is a two-plane session of
60 trials in two conditions whose cells follow a known two-dimensional latent
(``simulate/trial_latents``), with one trials table per plane. Regenerate it with::

    python -m calcium_dynamics.simulate.suite2p_example data/01_raw/example_suite2p \
        --trials data/01_raw/example_suite2p_trials
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from calcium_dynamics.simulate.trial_latents import (
    TrialSession,
    latent_rates,
    simulate_trial_session,
)


@dataclass
class Suite2pPlane:
    """One simulated plane. Arrays have shape (n_rois, n_frames) unless stated.

    Attributes:
        F, Fneu: raw and neuropil fluorescence (arbitrary units).
        iscell: (n_rois, 2) label (0/1) and classifier probability.
        frame_rate_hz: frames per second.
        dff: true ΔF/F (fraction) of the somatic signal (zero for non-cells).
        baseline: true baseline F0(t) of the somatic signal.
        spike_times_s: per ROI, the true spike times (s from the first frame).
    """

    F: np.ndarray
    Fneu: np.ndarray
    iscell: np.ndarray
    frame_rate_hz: float
    dff: np.ndarray
    baseline: np.ndarray
    spike_times_s: list[np.ndarray]


def simulate_plane(
    n_rois: int = 8,
    n_frames: int = 1200,
    frame_rate_hz: float = 15.0,
    *,
    n_noncells: int = 2,
    rate_hz: float = 0.3,
    amplitude: float = 0.2,
    tau_rise_s: float = 0.05,
    tau_decay_s: float = 0.7,
    neuropil_coefficient: float = 0.7,
    noise_fraction: float = 0.03,
    bleaching: float = 0.15,
    rates_hz: np.ndarray | None = None,
    seed: int = 0,
) -> Suite2pPlane:
    """Simulate one plane (see the module docstring).

    Args:
        n_rois: ROIs in the plane, the last ``n_noncells`` of which are not cells.
        n_frames, frame_rate_hz: recording length (frames) and rate (Hz).
        rate_hz: mean Poisson spike rate of a cell (Hz).
        amplitude: ΔF/F peak of one spike's transient (fraction).
        tau_rise_s, tau_decay_s: transient time constants (s).
        neuropil_coefficient: how much neuropil contaminates F.
        noise_fraction: Gaussian noise s.d. as a fraction of the baseline.
        bleaching: largest fractional loss of baseline over the recording (photobleaching;
            each ROI draws its own from [0.05, bleaching]).
        rates_hz: optional (n_rois − n_noncells, n_frames) time-varying rates (Hz) of the cells
            (inhomogeneous Poisson spikes, uniform within a frame) instead of ``rate_hz``.
        seed: random seed.
    """
    if not 0 <= n_noncells <= n_rois:
        raise ValueError(f"n_noncells={n_noncells} must lie in [0, n_rois={n_rois}]")
    if rates_hz is not None and np.shape(rates_hz) != (n_rois - n_noncells, n_frames):
        raise ValueError(
            f"rates_hz must be (n_cells, n_frames) = ({n_rois - n_noncells}, {n_frames}); "
            f"got {np.shape(rates_hz)}"
        )
    rng = np.random.default_rng(seed)
    t = np.arange(n_frames) / frame_rate_hz
    kt = np.arange(int(np.ceil(8 * tau_decay_s * frame_rate_hz))) / frame_rate_hz
    kernel = np.exp(-kt / tau_decay_s) - np.exp(-kt / tau_rise_s)
    kernel /= kernel.max()
    duration = n_frames / frame_rate_hz
    shared = 80.0 * (1 + 0.05 * np.sin(2 * np.pi * t / 40.0))
    f = np.empty((n_rois, n_frames))
    fneu = np.empty((n_rois, n_frames))
    dff = np.zeros((n_rois, n_frames))
    base = np.empty((n_rois, n_frames))
    spikes: list[np.ndarray] = []
    n_cells = n_rois - n_noncells
    for i in range(n_rois):
        level = rng.uniform(150.0, 300.0)
        bleach = rng.uniform(0.05, bleaching)  # slow loss of baseline over the recording
        base[i] = level * (1 - bleach * t / duration)
        if i < n_cells and rates_hz is not None:
            per_frame = rng.poisson(np.asarray(rates_hz[i], float) / frame_rate_hz)
            frames = np.repeat(np.arange(n_frames), per_frame)
            times = np.sort((frames + rng.uniform(0, 1, frames.size)) / frame_rate_hz)
        elif i < n_cells:
            times = np.sort(rng.uniform(0, duration, rng.poisson(rate_hz * duration)))
        if i < n_cells:
            counts = np.bincount((times * frame_rate_hz).astype(int), minlength=n_frames)
            dff[i] = amplitude * np.convolve(counts, kernel)[:n_frames]
        else:
            times = np.empty(0)
        spikes.append(times)
        fneu[i] = shared + 5.0 * rng.standard_normal(n_frames)
        soma = base[i] * (1 + dff[i]) if i < n_cells else 0.2 * base[i]
        noise = noise_fraction * level * rng.standard_normal(n_frames)
        f[i] = soma + neuropil_coefficient * fneu[i] + noise
    prob = np.concatenate([rng.uniform(0.7, 1.0, n_cells), rng.uniform(0.0, 0.3, n_noncells)])
    iscell = np.column_stack([(prob >= 0.5).astype(float), prob])
    return Suite2pPlane(f, fneu, iscell, float(frame_rate_hz), dff, base, spikes)


def write_suite2p_plane(folder: str | Path, plane: Suite2pPlane, nplanes: int = 1) -> Path:
    """Write one plane's ``F.npy``, ``Fneu.npy``, ``iscell.npy`` and ``ops.npy`` to ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "F.npy", plane.F.astype(np.float32))
    np.save(folder / "Fneu.npy", plane.Fneu.astype(np.float32))
    np.save(folder / "iscell.npy", plane.iscell)
    ops = {
        "fs": plane.frame_rate_hz,
        "nplanes": nplanes,
        "nchannels": 1,
        "nframes": plane.F.shape[1],
    }
    np.save(folder / "ops.npy", ops, allow_pickle=True)
    return folder


def write_example_suite2p(
    folder: str | Path, n_planes: int = 2, seed: int = 0, **plane_kwargs
) -> list[Suite2pPlane]:
    """A multi-plane Suite2p output folder (``plane0/`` … ``plane{n-1}/``); returns the truth."""
    planes = [simulate_plane(seed=seed + p, **plane_kwargs) for p in range(n_planes)]
    for p, plane in enumerate(planes):
        write_suite2p_plane(Path(folder) / f"plane{p}", plane, nplanes=n_planes)
    return planes


#: the shipped example: ROIs per plane (the last two are not cells), trials, frame rate (Hz)
EXAMPLE = {"n_rois": 30, "n_noncells": 2, "n_trials": 60, "frame_rate_hz": 15.0}


@dataclass
class TrialsExample:
    """The truth of :func:`write_trials_example`: the session (latent, states, trials) and,
    per plane, the simulated plane and its cells' loadings (n_cells, 2) and rates (Hz)."""

    session: TrialSession
    planes: list[Suite2pPlane]
    loadings: list[np.ndarray]
    rates_hz: list[np.ndarray]


def simulate_trials_example(n_planes: int = 2, seed: int = 0, **overrides) -> TrialsExample:
    """The shipped example's truth (no files written): one session shared by every plane,
    each plane's cells driven by the session's latent with their own loadings."""
    cfg = {**EXAMPLE, **overrides}
    session = simulate_trial_session(cfg["n_trials"], cfg["frame_rate_hz"], seed=seed)
    n_cells = cfg["n_rois"] - cfg["n_noncells"]
    planes, loadings, rates = [], [], []
    for p in range(n_planes):
        rate, load, _ = latent_rates(session.latents, n_cells, seed=seed + 100 + p)
        planes.append(
            simulate_plane(
                n_rois=cfg["n_rois"],
                n_noncells=cfg["n_noncells"],
                n_frames=session.n_frames,
                frame_rate_hz=cfg["frame_rate_hz"],
                rates_hz=rate,
                seed=seed + p,
            )
        )
        loadings.append(load)
        rates.append(rate)
    return TrialsExample(session, planes, loadings, rates)


def write_trials_example(
    folder: str | Path, trials_folder: str | Path, n_planes: int = 2, seed: int = 0
) -> TrialsExample:
    """Write the trial-structured example: ``plane*/`` Suite2p folders under ``folder`` and one
    trials table per plane (``plane0.csv`` …: ``start_time``, ``stop_time`` in s, ``stimulus``
    and ``gain``) under ``trials_folder``. Returns the truth."""
    example = simulate_trials_example(n_planes, seed)
    Path(trials_folder).mkdir(parents=True, exist_ok=True)
    for p, plane in enumerate(example.planes):
        write_suite2p_plane(Path(folder) / f"plane{p}", plane, nplanes=n_planes)
        example.session.trials.to_csv(Path(trials_folder) / f"plane{p}.csv", index=False)
    return example


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="output folder (plane0/, plane1/ … are created in it)")
    parser.add_argument(
        "--trials", help="write the shipped trial-structured example, its tables in this folder"
    )
    parser.add_argument("--planes", type=int, default=2)
    parser.add_argument("--rois", type=int, default=8)
    parser.add_argument("--frames", type=int, default=1200)
    parser.add_argument("--frame-rate", type=float, default=15.0, help="Hz")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.trials:
        write_trials_example(args.folder, args.trials, n_planes=args.planes, seed=args.seed)
        return
    write_example_suite2p(
        args.folder,
        n_planes=args.planes,
        seed=args.seed,
        n_rois=args.rois,
        n_frames=args.frames,
        frame_rate_hz=args.frame_rate,
    )


if __name__ == "__main__":
    main()
