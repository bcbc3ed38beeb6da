"""Lightning ``Trainer`` construction from parameters (one place for every model family)."""

from __future__ import annotations

import logging
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import EarlyStopping

TRAINER_KEYS = {
    "max_steps",
    "max_epochs",
    "accelerator",
    "devices",
    "num_nodes",
    "strategy",
    "precision",
    "val_check_interval",
    "gradient_clip_val",
    "log_every_n_steps",
    "enable_progress_bar",
    "limit_val_batches",
    "check_val_every_n_epoch",
}


def build_trainer(
    params: dict[str, Any],
    *,
    early_stopping_patience: int | None = None,
    monitor: str = "val_loss",
    logger: Any = False,
    callbacks: list | None = None,
) -> L.Trainer:
    """A ``Trainer`` from a parameter block.

    Recognised keys: ``max_steps, max_epochs, accelerator, devices, num_nodes, strategy,
    precision, val_check_interval, gradient_clip_val, log_every_n_steps, enable_progress_bar,
    limit_val_batches, check_val_every_n_epoch`` (Lightning's meaning) and ``seed`` and
    ``num_threads`` (CPU threads for torch). Unknown keys raise, naming the key.
    """
    params = dict(params)
    seed = params.pop("seed", 0)
    threads = params.pop("num_threads", None)
    unknown = set(params) - TRAINER_KEYS
    if unknown:
        raise ValueError(
            f"unknown trainer parameter(s) {sorted(unknown)}; known: {sorted(TRAINER_KEYS)}"
        )
    if threads:
        torch.set_num_threads(int(threads))
    L.seed_everything(int(seed), workers=True, verbose=False)
    cbs = list(callbacks or [])
    if early_stopping_patience:
        cbs.append(EarlyStopping(monitor=monitor, patience=early_stopping_patience, mode="min"))
    params.setdefault("accelerator", "cpu")
    params.setdefault("devices", 1)
    params.setdefault("enable_progress_bar", True)
    logging.getLogger("lightning.pytorch.utilities.rank_zero").setLevel(logging.WARNING)
    return L.Trainer(
        logger=logger,
        callbacks=cbs,
        enable_checkpointing=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        deterministic=False,
        **params,
    )
