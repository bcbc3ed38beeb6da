"""Training-time augmentations for LFADS, composable: each maps (inputs, cost mask) to new ones.

- :class:`SelectiveBackprop` (SBTT): NaN marks unsampled entries; the encoders see 0 there and
  the reconstruction cost (training and validation) counts only sampled entries, so unsampled
  entries have no effect on the loss or its gradient.
- :class:`CoordinatedDropout`: during training, each input entry is kept with probability
  ``keep_ratio`` (kept inputs scaled by 1/keep_ratio); the reconstruction cost and its gradient
  count only the dropped entries, so the model cannot learn to copy its input.

``inputs`` and ``cost_mask`` are tensors of shape (B, T, N); ``cost_mask`` is boolean.

:func:`keep_mask_16bit` draws the keep masks of dropout faster than PyTorch's Bernoulli and
uniform draws on a CPU (two entries per 32-bit random word); LFADS uses it with
``fast_dropout_draws``.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence

import torch

#: resolution of the keep probability of :func:`keep_mask_16bit`
KEEP_STEPS = 65536


def keep_mask_16bit(
    shape: Sequence[int],
    keep: float,
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Boolean mask of independent draws, each True with probability ``keep`` rounded to a
    multiple of 1 / 65536 (|error| ≤ 7.7e-6).

    One 32-bit random word per two entries, each half read as a signed 16-bit number ``h``
    (uniform on −32768…32767) and kept when ``h < round(keep · 65536) − 32768``. PyTorch's
    ``bernoulli_`` and ``uniform_`` draw one number per entry from the serial generator;
    this draws half as many, with no conversion to floating point.

    Args:
        shape: the mask's shape.
        keep: probability of True, in [0, 1].
        generator: the random generator (the default one if None).
        device: where the mask is made.
    """
    if not 0.0 <= keep <= 1.0:
        raise ValueError(f"keep must be in [0, 1]; got {keep}")
    threshold = round(keep * KEEP_STEPS) - KEEP_STEPS // 2
    if threshold >= KEEP_STEPS // 2:
        return torch.ones(tuple(shape), dtype=torch.bool, device=device)
    n = math.prod(shape)
    words = torch.empty((n + 1) // 2, dtype=torch.int32, device=device)
    words.random_(-(2**31), 2**31, generator=generator)
    return words.view(torch.int16)[:n].view(tuple(shape)) < threshold


class Augmentation(abc.ABC):
    """Interface: ``__call__(inputs, cost_mask, training) -> (inputs, cost_mask)``."""

    @abc.abstractmethod
    def __call__(
        self, inputs: torch.Tensor, cost_mask: torch.Tensor, training: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the (possibly changed) inputs and the mask of entries that carry cost."""


class SelectiveBackprop(Augmentation):
    """SBTT: zero-fill NaN (unsampled) inputs and drop them from the cost."""

    def __call__(self, inputs, cost_mask, training):
        sampled = ~torch.isnan(inputs)
        return torch.where(sampled, inputs, 0.0), cost_mask & sampled


class CoordinatedDropout(Augmentation):
    """Coordinated dropout with keep probability ``keep_ratio`` (training only)."""

    def __init__(
        self,
        keep_ratio: float,
        generator: torch.Generator | None = None,
        fast_draws: bool = False,
    ):
        if not 0.0 < keep_ratio <= 1.0:
            raise ValueError(f"coordinated dropout keep_ratio must be in (0, 1]; got {keep_ratio}")
        self.keep_ratio = float(keep_ratio)
        self.generator = generator
        self.fast_draws = bool(fast_draws)  # keep_mask_16bit instead of a uniform draw

    def __call__(self, inputs, cost_mask, training):
        if not training or self.keep_ratio >= 1.0:
            return inputs, cost_mask
        if self.fast_draws:
            keep = keep_mask_16bit(
                inputs.shape, self.keep_ratio, generator=self.generator, device=inputs.device
            )
        else:
            keep = (
                torch.rand(inputs.shape, generator=self.generator, device=inputs.device)
                < self.keep_ratio
            )
        return (inputs * keep).div_(self.keep_ratio), cost_mask & ~keep  # no second full copy


class AugmentationStack(Augmentation):
    """Apply augmentations in order."""

    def __init__(self, augmentations: Sequence[Augmentation]):
        self.augmentations = list(augmentations)

    def __call__(self, inputs, cost_mask, training):
        for aug in self.augmentations:
            inputs, cost_mask = aug(inputs, cost_mask, training)
        return inputs, cost_mask
