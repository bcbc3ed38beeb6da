"""Training and validation steps shared by the supervised spike models (MSE on spike rates)."""

from __future__ import annotations

import torch
from torch.nn import functional as F


class SpikeModelTrainingMixin:
    """MSE between predicted and target rates; batches are ``(windows, targets)``.

    Sequence models (ENS²) predict a whole window, per-sample models (CASCADE) the centre only;
    the data module sends targets of the matching shape.
    """

    def training_step(self, batch, batch_idx):
        windows, targets = batch
        loss = F.mse_loss(self(windows), targets)
        self.log("train_loss", loss, prog_bar=True, on_step=True, on_epoch=False)
        return loss

    def validation_step(self, batch, batch_idx):
        windows, targets = batch
        loss = F.mse_loss(self(windows), targets)
        self.log("val_loss", loss, prog_bar=True, on_step=False, on_epoch=True, sync_dist=True)
        return loss

    @torch.no_grad()
    def predict_windows(self, windows: torch.Tensor) -> torch.Tensor:
        self.eval()
        return self(windows)
