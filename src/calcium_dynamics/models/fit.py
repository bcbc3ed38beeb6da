"""Lightning ``Trainer`` construction from parameters (one place for every model family).

Training curves are logged with DVCLive's Lightning logger when the trainer parameters name a
folder (``logger: data/08_reporting/training_logs/ens2``): losses and validation metrics as the
model logs them, the learning rate of every optimiser (``LearningRateMonitor``), written as TSV
under ``FOLDER/plots/metrics/`` and the last values in ``FOLDER/metrics.json``; ``dvc plots show``
renders them. ``logger: false`` (the default) logs nothing. Logging stays on this machine: no DVC
experiment is saved, no ``dvc.yaml`` is written and DVC Studio is never contacted.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import EarlyStopping, LearningRateMonitor

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

#: log folders already used by a trainer of this process (resolved path → number of uses)
_USED_LOG_DIRS: dict[Path, int] = {}


def training_logger(folder: str | os.PathLike | bool | None, run_name: str | None = None):
    """DVCLive's Lightning logger writing into ``folder`` (``/run_name`` when given).

    ``folder`` false or ``None`` gives ``False`` (no logger). A folder that an earlier trainer of
    this process already logged into (several unnamed trainings, e.g. the members of an
    ensemble) is numbered, ``FOLDER_2``, ``FOLDER_3``, … so no run overwrites another.

    Nothing leaves the machine: ``save_dvc_exp=False`` (no DVC experiment), ``dvcyaml=False``
    (the project's ``dvc.yaml`` declares the plots), no report, and ``DVC_STUDIO_OFFLINE`` is
    set so DVC Studio is not contacted even where a Studio token is configured.
    """
    if folder is None or folder is False:
        return False
    if folder is True or not str(folder).strip():
        raise ValueError(
            "trainer parameter 'logger' must be false or a folder for the training logs, "
            f"got {folder!r}"
        )
    path = Path(folder) / run_name if run_name else Path(folder)
    key = path.resolve()
    uses = _USED_LOG_DIRS.get(key, 0) + 1
    _USED_LOG_DIRS[key] = uses
    if uses > 1:
        path = path.with_name(f"{path.name}_{uses}")
    os.environ["DVC_STUDIO_OFFLINE"] = "true"  # DVCLive posts to DVC Studio unless offline
    from dvclive.lightning import DVCLiveLogger

    return DVCLiveLogger(
        dir=str(path), save_dvc_exp=False, dvcyaml=False, report=None, monitor_system=False
    )


class TrainingLossPlateau(L.Callback):
    """Stop when the training batch loss has not reached a new low for ``patience`` steps.

    The published ENS² code's stopping rule: no held-out data, the loss of every batch
    compared with the lowest so far (a tie counts as a new low). ``stopped_step`` is the
    global step at which it stopped (``None`` if it never did).
    """

    def __init__(self, patience: int):
        if int(patience) < 1:
            raise ValueError(f"training-loss patience must be >= 1 step, got {patience}")
        self.patience = int(patience)
        self.best = float("inf")
        self.steps_since_best = 0
        self.stopped_step: int | None = None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        value = float(loss.detach()) if torch.is_tensor(loss) else float(loss)
        if value <= self.best:
            self.best, self.steps_since_best = value, 0
            return
        self.steps_since_best += 1
        if self.steps_since_best >= self.patience:
            trainer.should_stop = True
            self.stopped_step = int(trainer.global_step)


def build_trainer(
    params: dict[str, Any],
    *,
    early_stopping_patience: int | None = None,
    monitor: str = "val_loss",
    logger: Any = None,
    callbacks: list | None = None,
    run_name: str | None = None,
) -> L.Trainer:
    """A ``Trainer`` from a parameter block.

    Recognised keys: ``max_steps, max_epochs, accelerator, devices, num_nodes, strategy,
    precision, val_check_interval, gradient_clip_val, log_every_n_steps, enable_progress_bar,
    limit_val_batches, check_val_every_n_epoch`` (Lightning's meaning), ``seed``,
    ``num_threads`` (CPU threads for torch) and ``logger`` (``false``, or the folder for
    DVCLive's training logs, see :func:`training_logger`; ``run_name`` names a sub-folder).
    Unknown keys raise, naming the key. A Lightning logger passed as ``logger`` is used as is.

    Several devices or machines: ``strategy: ddp`` with ``devices`` (per machine) and
    ``num_nodes`` runs ``devices × num_nodes`` processes that average their gradients, so every
    process ends with the same weights; the data block's ``batch_size`` is then per process.
    """
    params = dict(params)
    seed = params.pop("seed", 0)
    threads = params.pop("num_threads", None)
    log_folder = params.pop("logger", False)
    unknown = set(params) - TRAINER_KEYS
    if unknown:
        raise ValueError(
            f"unknown trainer parameter(s) {sorted(unknown)}; known: {sorted(TRAINER_KEYS)}"
        )
    if threads:
        torch.set_num_threads(int(threads))
    L.seed_everything(int(seed), workers=True, verbose=False)
    if logger is None:
        logger = training_logger(log_folder, run_name)
    cbs = list(callbacks or [])
    if logger:
        cbs.append(LearningRateMonitor(logging_interval="step"))
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
