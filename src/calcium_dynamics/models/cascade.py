"""CASCADE (Rupprecht et al. 2021): a small 1-D CNN mapping a 64-frame window to one rate."""

from __future__ import annotations

import lightning as L
import torch
from torch import nn
from torch.nn import functional as F

from calcium_dynamics.models.training import SpikeModelTrainingMixin


class CascadeNet(nn.Module):
    """Conv(1→20, k31) → Conv(20→30, k19) → pool 2 → Conv(30→40, k5) → pool 2 → dense 40→10 per
    position → linear 20→1. ReLU on hidden layers, linear output, no padding: 18,541 parameters.

    ``forward`` takes windows (batch, 64) and returns (batch,). ``forward_trace`` computes the
    same numbers for every sample of whole traces at once: pooling with stride 2 is replaced by
    stride-1 pooling and the layers after it are dilated, so every window position is evaluated
    without cutting windows (identical results, about 60× less work at stride 1).
    """

    window = 64

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv1d(1, 20, 31)
        self.conv2 = nn.Conv1d(20, 30, 19)
        self.conv3 = nn.Conv1d(30, 40, 5)
        self.dense = nn.Linear(40, 10)
        self.out = nn.Linear(20, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.conv2(F.relu(self.conv1(x.unsqueeze(1)))))
        h = F.max_pool1d(h, 2)
        h = F.max_pool1d(F.relu(self.conv3(h)), 2)  # (batch, 40, 2)
        h = F.relu(self.dense(h.transpose(1, 2)))  # (batch, 2, 10)
        return self.out(h.flatten(1)).squeeze(-1)

    def forward_trace(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, n_frames + 63) zero-padded traces → (batch, n_frames) rates, one per frame."""
        h = F.relu(self.conv2(F.relu(self.conv1(x.unsqueeze(1)))))
        h = F.max_pool1d(h, 2, stride=1)
        h = F.relu(F.conv1d(h, self.conv3.weight, self.conv3.bias, dilation=2))
        h = F.max_pool1d(h, 2, stride=1, dilation=2)
        h = F.relu(F.conv1d(h, self.dense.weight.unsqueeze(-1), self.dense.bias))
        w = self.out.weight.view(1, 2, 10).transpose(1, 2)  # (out=1, in=10, k=2)
        return F.conv1d(h, w, self.out.bias, dilation=4).squeeze(1)


class Cascade(SpikeModelTrainingMixin, L.LightningModule):
    """One CASCADE network (an ensemble member): MSE loss, Adagrad.

    Args:
        learning_rate: Adagrad learning rate (not given by the paper; 0.05 is a starting point).
        frame_rate_hz: sampling rate the network is trained at.
        sigma_s: s.d. of the Gaussian target kernel in seconds.
        noise_level_nu: the noise level (%·Hz^-½) its training data was matched to.
    """

    kind = "cascade"

    def __init__(
        self,
        learning_rate: float = 0.05,
        frame_rate_hz: float = 30.0,
        sigma_s: float = 0.05,
        noise_level_nu: float = 2.0,
    ):
        super().__init__()
        self.save_hyperparameters()
        self.net = CascadeNet()

    @property
    def window(self) -> int:
        return CascadeNet.window

    @property
    def sequence_output(self) -> bool:
        return False

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        """(batch, 64) ΔF/F → (batch,) rate at the centre sample (spikes per frame)."""
        return self.net(windows)

    def configure_optimizers(self):
        return torch.optim.Adagrad(self.parameters(), lr=self.hparams.learning_rate)
