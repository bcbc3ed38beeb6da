"""Discrete spike events from inferred spike rates.

Both methods take a rate in spikes per frame and the Gaussian kernel the model was trained
with (its single-spike template), and return spike times in seconds (frame centres; frame 0
is at ``t0_s``).
"""

from __future__ import annotations

import numpy as np

from calcium_dynamics.signal.smoothing import gaussian_kernel
from calcium_dynamics.signal.validation import as_trace, check_frame_rate


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


#: mean spikes per frame above which event inference refuses a rate (e.g. 10 per frame at
#: 30 Hz is 300 Hz sustained over the whole trace: an outlier, not a neuron)
MAX_SPIKES_PER_FRAME = 10.0


def _check_total(rate: np.ndarray, max_per_frame: float, fr: float) -> None:
    total = float(np.clip(rate, 0, None).sum())
    if total > max_per_frame * max(rate.size, 1):
        raise ValueError(
            f"rate implies {total:.3g} spikes in {rate.size} frames (> {max_per_frame:g} per "
            f"frame, {max_per_frame * fr:.3g} Hz sustained): implausible; events not inferred"
        )


def greedy_spike_events(
    rate: np.ndarray,
    frame_rate_hz: float,
    sigma_s: float,
    *,
    epsilon: float | None = None,
    t0_s: float = 0.0,
    max_spikes_per_frame: float = MAX_SPIKES_PER_FRAME,
) -> np.ndarray:
    """ENS²'s greedy method: spikes whose smoothed train best matches the rate (least squares).

    The rate is cut into fragments where it exceeds ``epsilon`` (default 0.02 / σ in frames).
    In each fragment, spikes are added one at a time at the frame where the kernel-convolved
    spike train lowers the squared error to the rate the most; a fragment is done when no
    frame lowers it. The gain of a spike at frame j is 2·(r ⋆ k)[j] − Σ k² (over the part of
    the kernel inside the fragment), with r the current residual, so each step is one
    correlation.

    Args:
        rate: spikes per frame, shape (n_frames,); NaN frames are treated as 0.
        frame_rate_hz: frame rate in Hz.
        sigma_s: s.d. of the Gaussian kernel the rates were smoothed with (s).
        epsilon: fragment threshold in spikes per frame.
        t0_s: time of frame 0 in seconds.
        max_spikes_per_frame: a rate whose mean over the trace exceeds this is refused
            (ValueError): it bounds the work on any input.

    Returns:
        Spike times in seconds, sorted (a frame can hold several spikes).
    """
    fr = check_frame_rate(frame_rate_hz)
    r_all = np.nan_to_num(as_trace(rate, "rate"), nan=0.0)
    _check_total(r_all, max_spikes_per_frame, fr)
    sigma_frames = sigma_s * fr
    kernel = gaussian_kernel(sigma_frames)
    energy_k = kernel**2
    eps = 0.02 / max(sigma_frames, 1e-6) if epsilon is None else epsilon
    frames: list[int] = []
    for start, stop in _runs(r_all > eps):
        residual = r_all[start:stop].copy()
        n = residual.size
        self_energy = (
            np.correlate(np.ones(n), energy_k, mode="same")
            if n >= kernel.size
            else (
                np.convolve(np.ones(n), energy_k, mode="full")[
                    kernel.size // 2 : kernel.size // 2 + n
                ]
            )
        )
        max_spikes = int(np.ceil(residual.sum() * 3)) + 5
        for _ in range(max_spikes):
            corr = np.convolve(residual, kernel[::-1], mode="full")[
                kernel.size // 2 : kernel.size // 2 + n
            ]
            gain = 2 * corr - self_energy
            j = int(np.argmax(gain))
            if gain[j] <= 0:
                break
            frames.append(start + j)
            lo, hi = max(0, j - kernel.size // 2), min(n, j + kernel.size // 2 + 1)
            k_lo = lo - (j - kernel.size // 2)
            residual[lo:hi] -= kernel[k_lo : k_lo + hi - lo]
    return np.sort(t0_s + np.asarray(frames, float) / fr)


def sampled_spike_events(
    rate: np.ndarray,
    frame_rate_hz: float,
    sigma_s: float,
    *,
    rng: np.random.Generator | None = None,
    support_threshold: float = 1e-3,
    n_proposals_per_spike: int = 20,
    t0_s: float = 0.0,
    max_spikes_per_frame: float = MAX_SPIKES_PER_FRAME,
    max_proposals: int = 2_000_000,
) -> np.ndarray:
    """CASCADE's method: sample spikes in proportion to the rate, then refine the placement.

    The rate is split into stretches where it exceeds ``support_threshold``. In each stretch,
    round(Σ rate) spikes are drawn with probability ∝ rate (importance sampling); then random
    proposals — move a spike to a frame drawn ∝ rate, shift it by one frame, drop it, or add
    one — are accepted when they lower the L1 error between the spikes convolved with the
    Gaussian template and the rate.

    ``max_spikes_per_frame`` (mean over the trace; more is refused with a ValueError) and
    ``max_proposals`` (refinement proposals per stretch) bound the work on any input.

    Returns:
        Spike times in seconds, sorted.
    """
    fr = check_frame_rate(frame_rate_hz)
    rng = rng or np.random.default_rng(0)
    r_all = np.nan_to_num(as_trace(rate, "rate"), nan=0.0)
    _check_total(r_all, max_spikes_per_frame, fr)
    kernel = gaussian_kernel(sigma_s * fr)
    half = kernel.size // 2
    frames: list[int] = []
    for start, stop in _runs(r_all > support_threshold):
        r = r_all[start:stop]
        n = r.size
        n_spikes = int(round(r.sum()))
        if n_spikes == 0:
            continue
        p = r / r.sum()
        counts = np.bincount(rng.choice(n, size=n_spikes, p=p), minlength=n).astype(float)
        fit = np.convolve(counts, kernel, mode="full")[half : half + n]
        # Each proposal changes the fit only within half a kernel of the frames it touches,
        # so its L1 gain is computed there (constant time per proposal).
        n_prop = min(n_proposals_per_spike * n_spikes, int(max_proposals))
        kinds = rng.integers(4, size=n_prop)
        drawn = rng.choice(n, size=n_prop, p=p)
        picks = rng.random(n_prop)
        # frames holding ≥ 1 spike, kept up to date in O(1) per change (swap-remove)
        occupied = [int(f) for f in np.flatnonzero(counts > 0)]
        where = {f: i for i, f in enumerate(occupied)}
        for kind, new, pick in zip(kinds, drawn, picks):
            changes: list[tuple[int, float]] = []
            if kind == 3 or not occupied:  # add a spike
                changes = [(int(new), 1.0)]
            else:
                j = occupied[int(pick * len(occupied))]
                if kind == 0:  # re-draw its position
                    changes = [(j, -1.0), (int(new), 1.0)]
                elif kind == 1:  # shift it by one frame
                    changes = [(j, -1.0), (int(np.clip(j + rng.choice([-1, 1]), 0, n - 1)), 1.0)]
                else:  # drop it
                    changes = [(j, -1.0)]
            lo = max(0, min(c for c, _ in changes) - half)
            hi = min(n, max(c for c, _ in changes) + half + 1)
            local = fit[lo:hi].copy()
            for c, sign in changes:
                k0 = max(0, c - half)
                k1 = min(n, c + half + 1)
                local[k0 - lo : k1 - lo] += sign * kernel[k0 - (c - half) : k1 - (c - half)]
            if np.abs(local - r[lo:hi]).sum() < np.abs(fit[lo:hi] - r[lo:hi]).sum() - 1e-12:
                fit[lo:hi] = local
                for c, sign in changes:
                    counts[c] += sign
                    if counts[c] > 0 and c not in where:
                        where[c] = len(occupied)
                        occupied.append(c)
                    elif counts[c] == 0 and c in where:
                        i, last = where.pop(c), occupied.pop()
                        if last != c:
                            occupied[i], where[last] = last, i
        frames.extend(np.repeat(start + np.arange(n), counts.astype(int)))
    return np.sort(t0_s + np.asarray(frames, float) / fr)


#: longest stretch one chain of the vectorised sampler refines (frames; longer stretches are
#: cut: a chain's work grows with its spikes, and all chains of a batch step together)
SEGMENT_FRAMES = 1024
#: chains advanced together (memory ≈ 3 × 8 bytes × this × (SEGMENT_FRAMES + 4 × kernel))
CHAINS_PER_BATCH = 4096


def sampled_spike_events_many(
    rates: list[np.ndarray],
    frame_rate_hz: float,
    sigma_s: float,
    *,
    rng: np.random.Generator | None = None,
    support_threshold: float = 1e-3,
    n_proposals_per_spike: int = 20,
    t0_s: float = 0.0,
    max_spikes_per_frame: float = MAX_SPIKES_PER_FRAME,
    max_proposals: int = 2_000_000,
) -> list[np.ndarray]:
    """:func:`sampled_spike_events` for many traces at once, vectorised over stretches.

    The same method — in each stretch where the rate exceeds ``support_threshold``,
    round(Σ rate) spikes drawn ∝ rate, then proposals (move a spike to a frame drawn ∝ rate,
    shift it by one frame, drop it, add one) accepted when they lower the L1 error between
    the spikes convolved with the Gaussian template and the rate — with the stretches of all
    traces refined together: one chain per stretch, all chains advanced in lockstep (one
    proposal per chain per step, as numpy operations over the chains). Stretches longer than
    :data:`SEGMENT_FRAMES` are cut into pieces of that length, each its own chain. The error
    of a chain counts its template's spill just outside its stretch (where the rate is below
    the threshold, or the neighbouring piece's), so spikes are not pushed against the edges.

    Args:
        rates: spikes per frame, one 1-D array per trace (lengths may differ; NaN → 0).
        frame_rate_hz, sigma_s: frame rate (Hz) and the template's s.d. (s).
        rng: random generator (default: seeded 0).
        n_proposals_per_spike, max_proposals: proposals per chain: this many per initial
            spike, at most ``max_proposals``.

    Returns:
        One array of spike times (s, sorted) per trace.

    Raises:
        ValueError: a trace whose mean rate exceeds ``max_spikes_per_frame`` (named by index).
    """
    fr = check_frame_rate(frame_rate_hz)
    rng = rng or np.random.default_rng(0)
    segments: list[np.ndarray] = []
    owner: list[tuple[int, int]] = []  # (trace, first frame) of each segment
    for i, r in enumerate(rates):
        r = np.clip(np.nan_to_num(as_trace(r, f"rate of trace {i}"), nan=0.0), 0, None)
        try:
            _check_total(r, max_spikes_per_frame, fr)
        except ValueError as exc:
            raise ValueError(f"trace {i}: {exc}") from exc
        for start, stop in _runs(r > support_threshold):
            for a in range(start, stop, SEGMENT_FRAMES):
                b = min(a + SEGMENT_FRAMES, stop)
                if round(float(r[a:b].sum())) > 0:
                    segments.append(r[a:b])
                    owner.append((i, a))
    frames: list[list[np.ndarray]] = [[] for _ in rates]
    if segments:
        kernel = gaussian_kernel(sigma_s * fr)
        counts = np.array([round(float(seg.sum())) for seg in segments])
        order = np.argsort(counts, kind="stable")  # similar chain lengths step together
        for lo in range(0, order.size, CHAINS_PER_BATCH):
            chunk = order[lo : lo + CHAINS_PER_BATCH]
            found = _refine_in_lockstep(
                [segments[k] for k in chunk],
                kernel,
                rng,
                n_proposals_per_spike=n_proposals_per_spike,
                max_proposals=max_proposals,
            )
            for k, f in zip(chunk, found):
                trace, first = owner[k]
                frames[trace].append(f + first)
    return [
        np.sort(t0_s + np.concatenate(f).astype(float) / fr) if f else np.empty(0) for f in frames
    ]


def _refine_in_lockstep(
    segments: list[np.ndarray],
    kernel: np.ndarray,
    rng: np.random.Generator,
    *,
    n_proposals_per_spike: int,
    max_proposals: int,
) -> list[np.ndarray]:
    """Spike frames (with repeats) of each segment: initial draw ∝ rate, then L1-refinement,
    every segment a chain, all chains one proposal per step."""
    K, half = kernel.size, kernel.size // 2
    pad = 2 * K  # windows around any spike stay inside the padded row
    C = len(segments)
    lengths = np.array([seg.size for seg in segments])
    n_cols = int(lengths.max()) + 2 * pad
    target = np.zeros((C, n_cols))
    for c, seg in enumerate(segments):
        target[c, pad : pad + seg.size] = seg
    totals = target.sum(axis=1)
    n_spikes = np.maximum(np.round(totals).astype(np.int64), 1)
    # inverse-CDF sampling of frames ∝ rate for all rows in one searchsorted: row c's CDF is
    # shifted by c, so the concatenated CDF is non-decreasing
    cdf = (np.cumsum(target, axis=1) / totals[:, None] + np.arange(C)[:, None]).ravel()

    def draw(rows: np.ndarray) -> np.ndarray:
        u = rows + (1.0 - rng.random(rows.size))  # in (row, row + 1]
        return np.minimum(np.searchsorted(cdf, u, side="left") - rows * n_cols, n_cols - 1)

    cap = int(2 * n_spikes.max() + 16)
    spikes = np.zeros((C, cap), dtype=np.int64)
    rows_all = np.repeat(np.arange(C), n_spikes)
    slot = np.arange(rows_all.size) - np.repeat(np.cumsum(n_spikes) - n_spikes, n_spikes)
    spikes[rows_all, slot] = draw(rows_all)
    n_sp = n_spikes.copy()
    counts = np.zeros((C, n_cols))
    np.add.at(counts, (rows_all, spikes[rows_all, slot]), 1.0)
    from scipy.ndimage import convolve1d

    fit = convolve1d(counts, kernel, axis=1, mode="constant")
    del counts
    lo_valid, hi_valid = np.full(C, pad), pad + lengths - 1
    n_prop = np.minimum(n_proposals_per_spike * n_spikes, int(max_proposals))
    ar_k = np.arange(K) - half
    span = 2 * K  # one window over two changes less than K apart
    ar_span = np.arange(span)
    active = np.arange(C)
    for step in range(int(n_prop.max())):
        if n_prop[active].min() <= step:
            active = active[n_prop[active] > step]
        m = active.size
        kind = rng.integers(4, size=m)  # 0 re-draw, 1 shift, 2 drop, 3 add
        new = draw(active)
        pick = rng.random(m)
        direction = rng.integers(2, size=m) * 2 - 1
        n_here = n_sp[active]
        kind = np.where(n_here > 0, kind, 3)
        kind = np.where((kind == 3) & (n_here >= cap), 2, kind)
        idx = np.minimum((pick * n_here).astype(np.int64), np.maximum(n_here - 1, 0))
        j = spikes[active, idx]
        shifted = np.clip(j + direction, lo_valid[active], hi_valid[active])
        # change 1 at p1 (sign s1), change 2 at p2 (sign s2; 0: none)
        p1 = np.where(kind == 3, new, j)
        s1 = np.where(kind == 3, 1.0, -1.0)
        p2 = np.where(kind == 0, new, np.where(kind == 1, shifted, p1))
        s2 = np.where(kind <= 1, 1.0, 0.0)
        near = (s2 == 0) | (np.abs(p2 - p1) < K)
        accept = np.zeros(m, dtype=bool)
        rn = np.flatnonzero(near)
        if rn.size:
            lo = np.minimum(p1[rn], p2[rn]) - half
            cols = lo[:, None] + ar_span
            rows = active[rn][:, None]
            old = fit[rows, cols]
            delta = np.zeros((rn.size, span))
            sub = np.arange(rn.size)[:, None]
            delta[sub, (p1[rn] - lo)[:, None] + ar_k] += s1[rn][:, None] * kernel
            delta[sub, (p2[rn] - lo)[:, None] + ar_k] += s2[rn][:, None] * kernel
            tgt = target[rows, cols]
            ok = np.abs(old - tgt).sum(1) - np.abs(old + delta - tgt).sum(1) > 1e-12
            accept[rn[ok]] = True
            fit[rows[ok], cols[ok]] = old[ok] + delta[ok]
        rf = np.flatnonzero(~near)
        if rf.size:
            rows = active[rf][:, None]
            c1, c2 = p1[rf][:, None] + ar_k, p2[rf][:, None] + ar_k
            o1, o2 = fit[rows, c1], fit[rows, c2]
            t1, t2 = target[rows, c1], target[rows, c2]
            n1, n2 = o1 + s1[rf][:, None] * kernel, o2 + s2[rf][:, None] * kernel
            gain = (
                np.abs(o1 - t1).sum(1)
                + np.abs(o2 - t2).sum(1)
                - np.abs(n1 - t1).sum(1)
                - np.abs(n2 - t2).sum(1)
            )
            ok = gain > 1e-12
            accept[rf[ok]] = True
            fit[rows[ok], c1[ok]] = n1[ok]
            fit[rows[ok], c2[ok]] = n2[ok]
        if not accept.any():
            continue
        a, k, c = np.flatnonzero(accept), kind[accept], active[accept]
        move = k <= 1
        spikes[c[move], idx[a][move]] = p2[a][move]
        add = k == 3
        spikes[c[add], n_sp[c[add]]] = p1[a][add]
        n_sp[c[add]] += 1
        drop = k == 2
        cd = c[drop]
        spikes[cd, idx[a][drop]] = spikes[cd, n_sp[cd] - 1]
        n_sp[cd] -= 1
    return [spikes[c, : n_sp[c]] - pad for c in range(C)]
