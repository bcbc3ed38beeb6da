"""Early stopping on the training batch loss (the published ENS² rule)."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from calcium_dynamics.models.fit import TrainingLossPlateau, build_trainer

# lowest 2.0 at step 2, tied at step 5 (a tie counts as a new low), then 3 steps without one
LOSSES = [3.0, 2.0, 2.5, 2.1, 2.0, 2.2, 2.3, 2.4, 1.0, 0.5]


class _ScriptedLoss(L.LightningModule):
    """Returns the scripted loss of each step (plus a zero term so there is a gradient)."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.seen: list[float] = []

    def training_step(self, batch, batch_idx):
        value = LOSSES[self.global_step]
        self.seen.append(value)
        return self.w.sum() * 0 + value

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def _fit(patience: int):
    plateau = TrainingLossPlateau(patience=patience)
    module = _ScriptedLoss()
    trainer = build_trainer(
        {"max_steps": len(LOSSES), "enable_progress_bar": False}, callbacks=[plateau]
    )
    trainer.fit(module, DataLoader(TensorDataset(torch.zeros(len(LOSSES), 1)), batch_size=1))
    return module, trainer, plateau


def test_training_stops_after_patience_steps_without_a_new_low():
    module, trainer, plateau = _fit(patience=3)
    assert module.seen == LOSSES[:8]  # the better losses of steps 9 and 10 are never reached
    assert trainer.global_step == 8 and plateau.stopped_step == 8
    assert plateau.best == 2.0


def test_without_a_plateau_training_runs_to_max_steps():
    _, trainer, plateau = _fit(patience=5)
    assert trainer.global_step == len(LOSSES) and plateau.stopped_step is None
    assert plateau.best == 0.5


def test_patience_below_one_step_is_refused():
    with pytest.raises(ValueError, match="patience"):
        TrainingLossPlateau(0)
