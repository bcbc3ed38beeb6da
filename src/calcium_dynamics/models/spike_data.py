"""Training windows for the supervised spike models, cut from a training table without copies.

A training table (see ``pipelines/data_engineering``) holds one row per recording with ``dff``
(ΔF/F per frame, NaNs kept) and ``target_rate`` (spikes per frame) at one frame rate. The
:class:`WindowBank` lays every recording end to end with a window of zeros between them, so a
batch of windows is one fancy-indexing operation ``x[centres[:, None] + offsets]``.
"""

from __future__ import annotations

from collections.abc import Iterator

import lightning as L
import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, IterableDataset

from calcium_dynamics.signal.noise import noise_level_nu
from calcium_dynamics.signal.noise_matching import match_noise_level, n_noise_replicas
from calcium_dynamics.signal.windows import window_offsets


class WindowBank:
    """All recordings of a table, concatenated, with the valid window centres per dataset.

    A centre is valid when its window holds no NaN and lies inside one recording, or, with
    ``pad_edges``, when the centre lies inside a recording and the part of its window beyond
    the recording's ends falls on the zeros between recordings (and the rest holds no NaN):
    the zero padding that inference applies at trace ends, so the model also learns the first
    and last half-window of a trace.

    Args:
        dffs, targets: per-recording arrays (n_frames,), ΔF/F and target rate.
        groups: per-recording group label (the dataset name) used for balancing.
        window: window length in samples.
        pad_edges: also cut windows that overhang a recording's ends (zero-padded input and
            zero target there).
        causal: windows end at the predicted sample (see ``window_offsets``).
    """

    def __init__(
        self, dffs, targets, groups, window: int, pad_edges: bool = False, causal: bool = False
    ):
        if not len(dffs) == len(targets) == len(groups):
            raise ValueError("dffs, targets and groups must have the same length")
        if not dffs:
            raise ValueError("no recordings to cut windows from")
        self.window = window
        before, after = window_offsets(window, causal)
        self.offsets = np.arange(-before, after + 1)
        gap = window
        total = sum(len(d) for d in dffs) + gap * (len(dffs) + 1)
        self.x = np.zeros(total, np.float32)
        self.y = np.zeros(total, np.float32)
        centres: dict[str, list[np.ndarray]] = {}
        pos = gap
        for dff, target, group in zip(dffs, targets, groups):
            dff = np.asarray(dff, np.float32)
            if len(target) != len(dff):
                raise ValueError(f"{group}: dff has {len(dff)} frames but target {len(target)}")
            n = dff.size
            nan = np.isnan(dff)
            self.x[pos : pos + n] = np.where(nan, 0.0, dff)
            self.y[pos : pos + n] = target
            bad = np.concatenate([[0], np.cumsum(nan)])
            if pad_edges:  # window starts from -before to n - 1 - before: centres 0 … n - 1
                first = np.arange(-before, n - before)
                lo, hi = np.clip(first, 0, n), np.clip(first + window, 0, n)
            else:
                first = np.arange(0, n - window + 1)  # window start within the recording
                lo, hi = first, first + window
            clean = bad[hi] - bad[lo] == 0
            if clean.any():
                centres.setdefault(group, []).append(pos + first[clean] + before)
            pos += n + gap
        self.centres = {g: np.concatenate(c) for g, c in centres.items()}  # none empty
        if not self.centres:
            raise ValueError(
                f"no recording is at least one window ({window} samples) long"
                if not pad_edges
                else f"every sample of every recording has a NaN within its {window}-sample window"
            )

    @property
    def n_samples(self) -> int:
        return int(sum(len(c) for c in self.centres.values()))

    def cap(self, max_samples: int | None, rng: np.random.Generator) -> None:
        """Keep at most ``max_samples`` centres, split as evenly as possible across groups."""
        if max_samples is None or self.n_samples <= max_samples:
            return
        share = max_samples // len(self.centres)
        sizes = {g: len(c) for g, c in self.centres.items()}
        # Groups smaller than the equal share keep everything; the rest share what is left.
        budget, open_groups = max_samples, dict(sizes)
        quota = {}
        while open_groups:
            share = budget // len(open_groups)
            small = {g: n for g, n in open_groups.items() if n <= share}
            if not small:
                quota.update({g: share for g in open_groups})
                break
            quota.update(small)
            budget -= sum(small.values())
            open_groups = {g: n for g, n in open_groups.items() if g not in small}
        self.centres = {
            g: np.sort(rng.choice(c, size=quota[g], replace=False)) if quota[g] < len(c) else c
            for g, c in self.centres.items()
        }

    def sample_centres(self, n: int, rng: np.random.Generator, balanced: bool) -> np.ndarray:
        """``n`` random centres: uniformly over all, or a uniformly drawn group first."""
        groups = list(self.centres)
        if balanced:
            which = rng.integers(len(groups), size=n)
            out = np.empty(n, np.int64)
            for i, g in enumerate(groups):
                sel = which == i
                out[sel] = rng.choice(self.centres[g], size=int(sel.sum()))
            return out
        allc = np.concatenate([self.centres[g] for g in groups])
        return rng.choice(allc, size=n)

    def batch(self, centres: np.ndarray, sequence: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """Windows (n, window) and targets: (n, window) for sequence models, else (n,)."""
        idx = centres[:, None] + self.offsets[None, :]
        x = torch.from_numpy(self.x[idx])
        y = torch.from_numpy(self.y[idx] if sequence else self.y[centres])
        return x, y


class _RandomBatches(IterableDataset):
    def __init__(
        self, bank: WindowBank, batch_size: int, balanced: bool, sequence: bool, seed: int
    ):
        self.bank, self.batch_size, self.balanced = bank, batch_size, balanced
        self.sequence, self.seed = sequence, seed

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        info = torch.utils.data.get_worker_info()
        key = [self.seed, info.id if info else 0]
        dist = torch.distributed
        rank = dist.get_rank() if dist.is_available() and dist.is_initialized() else 0
        if rank:  # each DDP process draws its own windows; one process keeps its stream
            key.append(rank)
        rng = np.random.default_rng(key)
        while True:
            centres = self.bank.sample_centres(self.batch_size, rng, self.balanced)
            yield self.bank.batch(centres, self.sequence)


class _FixedBatches(IterableDataset):
    def __init__(self, batches):
        self.batches = batches

    def __iter__(self):
        return iter(self.batches)


def noise_matched_table(
    table: pd.DataFrame, nu_target: float, max_replicas: int, seed: int
) -> pd.DataFrame:
    """Replace each recording by noise-matched replicas at ``nu_target`` (CASCADE).

    Recordings already noisier than the target are left out; each replica gets its own noise.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for row in table.itertuples(index=False):
        nu_own = noise_level_nu(row.dff, row.frame_rate_hz)
        if not np.isfinite(nu_own) or nu_own <= 0:
            continue
        for _ in range(n_noise_replicas(nu_own, nu_target, max_replicas)):
            noisy = match_noise_level(row.dff, row.frame_rate_hz, nu_target, rng)
            rows.append({**row._asdict(), "dff": noisy, "noise_level_nu": nu_target})
    return pd.DataFrame(rows, columns=table.columns)


def split_by_neuron(
    table: pd.DataFrame, validation_fraction: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out whole neurons (every recording of a held-out neuron goes to validation)."""
    neurons = table[["dataset", "neuron"]].drop_duplicates().to_numpy()
    rng = np.random.default_rng(seed)
    n_val = int(round(validation_fraction * len(neurons)))
    if validation_fraction > 0:
        n_val = min(max(n_val, 1), len(neurons) - 1)
    order = rng.permutation(len(neurons))
    held = {tuple(neurons[i]) for i in order[:n_val]}
    is_val = np.array([(d, n) in held for d, n in zip(table["dataset"], table["neuron"])], bool)
    return table[~is_val].reset_index(drop=True), table[is_val].reset_index(drop=True)


class SpikeWindowDataModule(L.LightningDataModule):
    """Random training batches and a fixed validation set of windows from a training table.

    Args:
        train_table, val_table: training-table rows (``dataset, dff, target_rate``).
        window: window length (96 for ENS², 64 for CASCADE).
        sequence: targets are whole windows (ENS²) rather than the centre sample (CASCADE).
        batch_size: windows per batch.
        balanced: draw a dataset uniformly before drawing a window (CASCADE's balancing).
        pad_edges: also train on windows that overhang a recording's ends, zero-padded as at
            inference (see :class:`WindowBank`).
        causal: windows end at the predicted sample (no future frames; CASCADE only).
        max_samples: cap on distinct training windows (CASCADE: 5·10⁶), split across datasets.
        n_val_batches: size of the fixed validation set, in batches.
        seed: random seed.
    """

    def __init__(
        self,
        train_table: pd.DataFrame,
        val_table: pd.DataFrame | None,
        window: int,
        sequence: bool,
        batch_size: int = 1024,
        balanced: bool = False,
        max_samples: int | None = None,
        n_val_batches: int = 4,
        seed: int = 0,
        pad_edges: bool = False,
        causal: bool = False,
    ):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.train_bank = WindowBank(
            list(train_table["dff"]),
            list(train_table["target_rate"]),
            list(train_table["dataset"]),
            window,
            pad_edges,
            causal,
        )
        self.train_bank.cap(max_samples, rng)
        self.batch_size, self.balanced, self.sequence, self.seed = (
            batch_size,
            balanced,
            sequence,
            seed,
        )
        self.val_batches = []
        if val_table is not None and len(val_table):
            bank = WindowBank(
                list(val_table["dff"]),
                list(val_table["target_rate"]),
                list(val_table["dataset"]),
                window,
                pad_edges,
                causal,
            )
            for _ in range(n_val_batches):
                centres = bank.sample_centres(batch_size, rng, balanced=True)
                self.val_batches.append(bank.batch(centres, sequence))

    def train_dataloader(self) -> DataLoader:
        data = _RandomBatches(
            self.train_bank, self.batch_size, self.balanced, self.sequence, self.seed
        )
        return DataLoader(data, batch_size=None)

    def val_dataloader(self) -> DataLoader | list:
        if not self.val_batches:
            return []
        return DataLoader(_FixedBatches(self.val_batches), batch_size=None)
