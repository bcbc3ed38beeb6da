"""ENS² (Zhou et al. 2023): a 1-D U-Net mapping 96-sample ΔF/F windows to 96 spike rates."""

from __future__ import annotations

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn

from calcium_dynamics.models.training import SpikeModelTrainingMixin


class InstanceNormTime(nn.Module):
    """Instance normalisation over time without affine parameters: every (window, channel)
    row of a ``(batch, channels, time)`` tensor is scaled to mean 0 and variance 1.

    The same function as ``nn.InstanceNorm1d(affine=False)`` (biased variance, ε = 1e-5; no
    parameters or buffers, so state dicts are unchanged), computed as a layer norm over the
    last axis: PyTorch's CPU layer-norm kernel handles the many short rows of a batch of
    windows 1.5–2× faster than the instance-norm kernel, and it keeps bfloat16 inputs in
    bfloat16.
    """

    def __init__(self, eps: float = 1e-5):
        super().__init__()
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, (x.shape[-1],), eps=self.eps)


def _double_conv(c_in: int, c_out: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in ((c_in, c_out), (c_out, c_out)):
        layers += [
            nn.Conv1d(a, b, kernel_size=3, padding=1, bias=False),
            InstanceNormTime(),
            nn.LeakyReLU(0.2),
        ]
    return nn.Sequential(*layers)


class UNet1d(nn.Module):
    """1-D U-Net: 3 contracting blocks, a bottleneck, 3 expanding blocks with skips.

    Channels 1 → w → 2w → 4w → 8w (bottleneck) and back; max-pool 2 down, transposed
    convolution (k=2, s=2) up; final 1×1 convolution and ReLU (rates are non-negative).

    Input (batch, window) ΔF/F; output (batch, window) rate in spikes per frame. The window
    length must be divisible by 8.
    """

    def __init__(self, base_channels: int = 9, depth: int = 3):
        super().__init__()
        widths = [base_channels * 2**i for i in range(depth + 1)]
        self.down = nn.ModuleList()
        c_prev = 1
        for w in widths[:-1]:
            self.down.append(_double_conv(c_prev, w))
            c_prev = w
        self.bottleneck = _double_conv(widths[-2], widths[-1])
        self.up = nn.ModuleList()
        self.decode = nn.ModuleList()
        for w_hi, w_lo in zip(widths[:0:-1], widths[-2::-1]):
            self.up.append(nn.ConvTranspose1d(w_hi, w_lo, kernel_size=2, stride=2, bias=False))
            self.decode.append(_double_conv(2 * w_lo, w_lo))
        self.head = nn.Conv1d(widths[0], 1, kernel_size=1)
        self.pool = nn.MaxPool1d(2)
        self.depth = depth
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Weights ~ N(0, 0.02), biases 0 (as in the paper)."""
        for m in self.modules():
            if isinstance(m, nn.Conv1d | nn.ConvTranspose1d):
                nn.init.normal_(m.weight, 0.0, 0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % 2**self.depth:
            raise ValueError(f"window length {x.shape[-1]} is not divisible by {2**self.depth}")
        h = x.unsqueeze(1)
        skips = []
        for block in self.down:
            h = block(h)
            skips.append(h)
            h = self.pool(h)
        h = self.bottleneck(h)
        for up, block, skip in zip(self.up, self.decode, reversed(skips)):
            h = block(torch.cat([up(h), skip], dim=1))
        return torch.relu(self.head(h)).squeeze(1)


class ENS2(SpikeModelTrainingMixin, L.LightningModule):
    """ENS² spike-rate model: sequence to sequence over windows of ``window`` samples.

    Args:
        window: window length in samples (96 at 60 Hz in the paper).
        base_channels: width of the first U-Net level (paper: 9; also tried 5 and 16).
        learning_rate: Adam learning rate.
        frame_rate_hz: the sampling rate the model is trained at (traces are resampled to it).
        sigma_s: s.d. of the Gaussian target kernel in seconds (ENS²: 0.025).
        lr_schedule: ``"constant"`` (the paper: Adam at ``learning_rate`` throughout) or
            ``"onecycle"`` (warm up to ``max_learning_rate`` over the first 10 % of the
            trainer's ``max_steps``, then cosine annealing towards 0; for short budgets).
        max_learning_rate: peak learning rate of the one-cycle schedule.
    """

    kind = "ens2"

    def __init__(
        self,
        window: int = 96,
        base_channels: int = 9,
        learning_rate: float = 1e-3,
        frame_rate_hz: float = 60.0,
        sigma_s: float = 0.025,
        lr_schedule: str = "constant",
        max_learning_rate: float = 5e-3,
    ):
        super().__init__()
        if lr_schedule not in ("constant", "onecycle"):
            raise ValueError(f"lr_schedule must be 'constant' or 'onecycle'; got {lr_schedule!r}")
        self.save_hyperparameters()
        self.net = UNet1d(base_channels)

    @property
    def sequence_output(self) -> bool:
        return True

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        """(batch, window) ΔF/F → (batch, window) rate (spikes per frame)."""
        return self.net(windows)

    def configure_optimizers(self):
        opt = torch.optim.Adam(self.parameters(), lr=self.hparams.learning_rate)
        if self.hparams.lr_schedule == "constant":
            return opt
        total = self.trainer.max_steps
        if total is None or total <= 0:
            total = int(self.trainer.estimated_stepping_batches)
        total = max(int(total), 3)
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            opt,
            max_lr=self.hparams.max_learning_rate,
            total_steps=total,
            pct_start=max(0.1, 2.0 / total),  # at least 2 warm-up steps (short test runs)
        )
        return {"optimizer": opt, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}
