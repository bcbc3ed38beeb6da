"""Data checks and the Lightning data module for LFADS (arrays of shape (trials, T, N))."""

from __future__ import annotations

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from calcium_dynamics.models.lfads.observations import Observation


def validate_lfads_data(data: np.ndarray, observation: Observation, sbtt: bool) -> np.ndarray:
    """Check a (trials, T, N) array for LFADS and return it as float32.

    Raises ValueError when: the array is not 3-D; a neuron has no sampled entry (every entry
    NaN); NaN entries appear while SBTT is off; a whole trial is unsampled; or the observation
    model rejects the values (negative counts or event sizes, NaN for the calcium model).
    """
    x = np.asarray(data, dtype=np.float32)
    if x.ndim != 3:
        raise ValueError(f"LFADS data must have shape (trials, bins, neurons); got {x.shape}")
    if np.isinf(x).any():
        raise ValueError("LFADS data contain infinite values")
    nan = np.isnan(x)
    empty = np.flatnonzero(nan.all(axis=(0, 1)))
    if empty.size:
        raise ValueError(
            f"neurons {empty[:10].tolist()} have no sampled entries (every entry NaN); "
            "drop them before training"
        )
    if nan.any() and not sbtt:
        raise ValueError(
            f"{int(nan.sum())} entries are NaN but SBTT is off; use sbtt: true for "
            "NaN-masked (line-scan) data"
        )
    observation.check_data(x)
    return x


class LFADSDataModule(L.LightningDataModule):
    """Training / validation loaders over trial indices of one (trials, T, N) array."""

    def __init__(
        self,
        data: np.ndarray,
        train_idx: np.ndarray,
        valid_idx: np.ndarray,
        batch_size: int = 128,
        seed: int = 0,
    ):
        super().__init__()
        self.data = torch.as_tensor(np.asarray(data, dtype=np.float32))
        self.train_idx = np.asarray(train_idx, dtype=np.int64)
        self.valid_idx = np.asarray(valid_idx, dtype=np.int64)
        if self.train_idx.size == 0:
            raise ValueError("no training trials")
        self.batch_size = int(batch_size)
        self.seed = int(seed)

    def train_dataloader(self):
        generator = torch.Generator().manual_seed(self.seed)
        return DataLoader(
            TensorDataset(self.data[self.train_idx]),
            batch_size=self.batch_size,
            shuffle=True,
            generator=generator,
        )

    def val_dataloader(self):
        idx = self.valid_idx if self.valid_idx.size else self.train_idx
        return DataLoader(TensorDataset(self.data[idx]), batch_size=self.batch_size)


def split_trials(n_trials: int, valid_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random train / validation split of trial indices (sorted)."""
    if not 0.0 <= valid_fraction < 1.0:
        raise ValueError(f"valid_fraction must be in [0, 1); got {valid_fraction}")
    order = np.random.default_rng(seed).permutation(n_trials)
    n_valid = round(valid_fraction * n_trials)
    return np.sort(order[n_valid:]), np.sort(order[:n_valid])
