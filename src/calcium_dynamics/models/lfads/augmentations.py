"""Training-time augmentations for LFADS, composable: each maps (inputs, cost mask) to new ones.

- :class:`SelectiveBackprop` (SBTT): NaN marks unsampled entries; the encoders see 0 there and
  the reconstruction cost (training and validation) counts only sampled entries, so unsampled
  entries have no effect on the loss or its gradient.
- :class:`CoordinatedDropout`: during training, each input entry is kept with probability
  ``keep_ratio`` (kept inputs scaled by 1/keep_ratio); the reconstruction cost and its gradient
  count only the dropped entries, so the model cannot learn to copy its input.

``inputs`` and ``cost_mask`` are tensors of shape (B, T, N); ``cost_mask`` is boolean.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence

import torch


class Augmentation(abc.ABC):
    """Interface: ``__call__(inputs, cost_mask, training) -> (inputs, cost_mask)``."""

    @abc.abstractmethod
    def __call__(
        self, inputs: torch.Tensor, cost_mask: torch.Tensor, training: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the (possibly changed) inputs and the mask of entries that carry cost."""


class SelectiveBackprop(Augmentation):
    """SBTT: zero-fill NaN (unsampled) inputs and drop them from the cost.

    Called with data alone, returns the zero-filled data and the boolean mask of the sampled
    entries (the cost mask when no other mask applies).
    """

    def __call__(self, inputs, cost_mask=None, training=True):
        sampled = ~torch.isnan(inputs)
        filled = torch.where(sampled, inputs, 0.0)
        return filled, (sampled if cost_mask is None else cost_mask & sampled)


class CoordinatedDropout(Augmentation):
    """Coordinated dropout with keep probability ``keep_ratio`` (training only)."""

    def __init__(self, keep_ratio: float, generator: torch.Generator | None = None):
        if not 0.0 < keep_ratio <= 1.0:
            raise ValueError(f"coordinated dropout keep_ratio must be in (0, 1]; got {keep_ratio}")
        self.keep_ratio = float(keep_ratio)
        self.generator = generator

    def __call__(self, inputs, cost_mask, training):
        if not training or self.keep_ratio >= 1.0:
            return inputs, cost_mask
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
