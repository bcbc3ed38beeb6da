"""ENS²'s optional one-cycle learning-rate schedule."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from calcium_dynamics.models.ens2 import ENS2


class _LearningRates(L.Callback):
    def __init__(self):
        self.rates: list[float] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.rates.append(trainer.optimizers[0].param_groups[0]["lr"])


def _fit(module: ENS2, steps: int) -> list[float]:
    torch.manual_seed(0)
    x = torch.randn(64, 96)
    data = DataLoader(TensorDataset(x, torch.relu(x)), batch_size=16)
    record = _LearningRates()
    trainer = L.Trainer(
        max_steps=steps,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[record],
    )
    trainer.fit(module, data)
    return record.rates


def test_constant_schedule_keeps_the_paper_rate():
    rates = _fit(ENS2(base_channels=2), steps=6)
    assert rates == pytest.approx([1e-3] * 6)


def test_onecycle_warms_up_to_the_peak_then_anneals():
    rates = _fit(ENS2(base_channels=2, lr_schedule="onecycle", max_learning_rate=4e-3), steps=20)
    assert len(rates) == 20
    peak = max(range(20), key=rates.__getitem__)
    assert peak == int(0.1 * 20) - 1  # warm-up over 10 % of the steps (OneCycleLR counts from 0)
    assert rates[peak] == pytest.approx(4e-3, rel=1e-6)
    assert rates[0] == pytest.approx(4e-3 / 25, rel=1e-6)  # OneCycle's initial max / 25
    assert all(a >= b for a, b in zip(rates[peak:], rates[peak + 1 :]))
    assert rates[-1] < 0.02 * 4e-3


def test_unknown_schedule_is_refused():
    with pytest.raises(ValueError, match="lr_schedule"):
        ENS2(lr_schedule="cosine")


def test_onecycle_on_a_very_short_run_still_warms_up_and_anneals():
    # 10 % of 6 steps is under one step: the warm-up takes 2 steps instead of failing
    rates = _fit(ENS2(base_channels=2, lr_schedule="onecycle", max_learning_rate=4e-3), steps=6)
    assert len(rates) == 6
    assert rates[1] == pytest.approx(4e-3, rel=1e-6) and max(rates) == rates[1]
    assert rates[-1] < rates[1] / 10
