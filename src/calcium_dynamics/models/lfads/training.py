"""Variants of the LFADS family, training from parameters, and model (de)serialisation."""

from __future__ import annotations

import time
from typing import Any

import lightning as L
import numpy as np
from lightning.pytorch.callbacks import LearningRateMonitor

from calcium_dynamics.models.allocator import keep_freed_memory
from calcium_dynamics.models.fit import training_logger
from calcium_dynamics.models.lfads.data import LFADSDataModule, split_trials, validate_lfads_data
from calcium_dynamics.models.lfads.model import LFADS
from calcium_dynamics.models.lfads.observations import build_observation
from calcium_dynamics.models.matmul_precision import (
    DEFAULT_PRECISION,
    check_matmul_precision,
    float32_matmul_precision,
)

#: defaults of the named variants (the parameters, ``lfads.variants.NAME``, set them too)
VARIANTS: dict[str, dict[str, Any]] = {
    "radical": {"observation": "zig", "sbtt": True},
    "autolfads": {"observation": "poisson", "sbtt": False},
    "calcium_lfads": {"observation": "calcium", "sbtt": False},
    "gaussian_lfads": {"observation": "gaussian", "sbtt": False},
}

#: ``lightning.Trainer`` arguments accepted from the ``lfads.trainer`` parameters
_TRAINER_KEYS = (
    "max_epochs",
    "accelerator",
    "devices",
    "num_nodes",
    "strategy",
    "precision",
    "gradient_clip_val",
    "enable_progress_bar",
    "log_every_n_steps",
    "deterministic",
)


def variant_model_params(lfads_params: dict[str, Any], variant: str) -> dict[str, Any]:
    """The model settings of one variant: ``lfads.model`` overlaid with ``lfads.variants.NAME``
    (the one place they are merged; unknown variants raise, naming the known ones)."""
    variants = lfads_params.get("variants") or {}
    if variant not in variants:
        raise ValueError(f"unknown LFADS variant {variant!r}; configured: {sorted(variants)}")
    return {**lfads_params["model"], **(variants[variant] or {})}


def variant_settings(variant: str, model_params: dict[str, Any]) -> dict[str, Any]:
    """Model keyword arguments of one variant: ``model_params`` (the merged settings of
    :func:`variant_model_params`, where ``observation`` and ``sbtt`` are parameters) over the
    defaults of the four named variants (:data:`VARIANTS`).

    A new variant needs only its parameters (``lfads.variants.NAME`` with an ``observation``).
    """
    settings = {"sbtt": False, **VARIANTS.get(variant, {}), **model_params}
    if "observation" not in settings:
        raise ValueError(
            f"LFADS variant {variant!r} names no observation model: set "
            f"lfads.variants.{variant}.observation (zig, poisson, calcium or gaussian)"
        )
    return settings


def build_model(data: np.ndarray, variant: str, model_params: dict[str, Any]) -> LFADS:
    """An LFADS model sized for ``data`` (trials, T, N); the data are checked first."""
    settings = variant_settings(variant, model_params)
    probe = build_observation(
        settings["observation"], data.shape[2], **(settings.get("observation_kwargs") or {})
    )
    x = validate_lfads_data(data, probe, bool(settings.get("sbtt", False)))
    return LFADS(n_neurons=x.shape[2], n_steps=x.shape[1], **settings)


class EpochTimer(L.Callback):
    """Wall-clock seconds of each training epoch (without validation)."""

    def __init__(self):
        self.epoch_s: list[float] = []
        self._start = 0.0

    def on_train_epoch_start(self, trainer, pl_module):
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module):
        self.epoch_s.append(time.perf_counter() - self._start)


class BestValidation(L.Callback):
    """Keep the weights of the epoch with the lowest validation reconstruction cost
    (``valid/recon``: for RADICaL the SBTT-masked one, i.e. sampled entries only) and stop
    after ``patience`` epochs without improvement (``None``: train every epoch). The choice
    never looks at latent-recovery scores; restore the weights with :meth:`restore`.

    Epochs before ``start_epoch`` (the end of the KL / L2 ramps, where the objective is still
    changing) are not candidates and do not count towards the patience."""

    def __init__(
        self, patience: int | None = None, monitor: str = "valid/recon", start_epoch: int = 0
    ):
        self.patience = patience
        self.monitor = monitor
        self.start_epoch = int(start_epoch)
        self.best = float("inf")
        self.best_epoch: int | None = None
        self.best_state: dict[str, Any] | None = None
        self._waited = 0

    def on_validation_epoch_end(self, trainer, pl_module):
        if trainer.sanity_checking or self.monitor not in trainer.callback_metrics:
            return
        if trainer.current_epoch < self.start_epoch:
            return
        value = float(trainer.callback_metrics[self.monitor])
        if value < self.best:
            self.best, self.best_epoch, self._waited = value, int(trainer.current_epoch), 0
            self.best_state = {k: v.detach().clone() for k, v in pl_module.state_dict().items()}
        else:
            self._waited += 1
            if self.patience is not None and self._waited >= self.patience:
                trainer.should_stop = True

    def restore(self, model: L.LightningModule) -> None:
        if self.best_state is not None:
            model.load_state_dict(self.best_state)


def make_trainer(
    trainer_params: dict[str, Any], callbacks: list | None = None, run_name: str | None = None
) -> L.Trainer:
    """Lightning Trainer from parameters.

    Lightning arguments: ``max_epochs, accelerator, devices, num_nodes, strategy, precision,
    gradient_clip_val, enable_progress_bar, log_every_n_steps, deterministic`` (e.g.
    ``strategy: ddp, devices: 4, num_nodes: 2`` trains data-parallel on 8 devices; each process
    then draws its own share of the training trials). ``seed`` and ``batch_size`` (trials per
    batch and process), ``early_stopping_patience`` (epochs without a lower ``valid/recon``
    before training stops; null: never) and ``restore_best`` (end with the weights of the
    lowest ``valid/recon``) are read by :func:`train_lfads`, as is ``keep_freed_memory``
    (default true: freed activations stay in the process heap between steps, see
    :mod:`calcium_dynamics.models.allocator`) and ``float32_matmul_precision`` ('highest',
    the default; 'medium': bfloat16 matrix products while fitting where the hardware has them,
    see :mod:`calcium_dynamics.models.matmul_precision`). Unknown keys raise, naming the key.
    ``logger``: ``false`` or a folder for DVCLive's training curves (``run_name`` sub-folder),
    see :func:`calcium_dynamics.models.fit.training_logger`.
    """
    own = {
        "seed",
        "batch_size",
        "logger",
        "early_stopping_patience",
        "restore_best",
        "keep_freed_memory",
        "float32_matmul_precision",
    }
    unknown = set(trainer_params) - set(_TRAINER_KEYS) - own
    if unknown:
        raise ValueError(
            f"unknown LFADS trainer parameter(s) {sorted(unknown)}; known: "
            f"{sorted({*_TRAINER_KEYS, *own})}"
        )
    matmul_precision(trainer_params)
    kwargs = {k: trainer_params[k] for k in _TRAINER_KEYS if k in trainer_params}
    logger = training_logger(trainer_params.get("logger") or False, run_name)
    callbacks = list(callbacks or [])
    if logger:
        callbacks.append(LearningRateMonitor(logging_interval="epoch"))
    return L.Trainer(
        logger=logger,
        enable_checkpointing=False,
        enable_model_summary=False,
        callbacks=callbacks,
        num_sanity_val_steps=0,
        **kwargs,
    )


def matmul_precision(trainer_params: dict[str, Any]) -> str:
    """The trainer parameter ``float32_matmul_precision`` (default 'highest'), checked."""
    return check_matmul_precision(trainer_params.get("float32_matmul_precision", DEFAULT_PRECISION))


def _freeze_unused_parameters(model: LFADS) -> None:
    """Stop gradients to weights the forward pass never uses.

    Without a controller (``co_dim: 0``) the generator has no input, so its input weights take
    no part in the loss. They receive no gradient either way; freezing them lets data-parallel
    training (``strategy: ddp``), which otherwise waits for a gradient of every trainable
    parameter and stops with an error, run the model unchanged.
    """
    if not model.use_controller:
        model.generator.weight_ih.requires_grad_(False)


def train_lfads(
    data: np.ndarray,
    variant: str,
    model_params: dict[str, Any],
    trainer_params: dict[str, Any],
    *,
    valid_fraction: float = 0.2,
    seed: int = 0,
    callbacks: list[L.Callback] | None = None,
) -> tuple[LFADS, dict[str, Any]]:
    """Train one LFADS variant on ``data`` (trials, T, N).

    ``callbacks``: extra Lightning callbacks (e.g. a learning curve evaluated during training).

    Returns:
        The trained model (eval mode) and a summary: train / valid trial indices, seconds per
        training epoch, and the final training and validation losses.
    """
    precision = matmul_precision(trainer_params)  # a bad value fails before any work
    L.seed_everything(seed, workers=True, verbose=False)
    if trainer_params.get("keep_freed_memory", True):
        keep_freed_memory()
    model = build_model(data, variant, model_params)
    x = np.asarray(data, dtype=np.float32)
    train_idx, valid_idx = split_trials(x.shape[0], valid_fraction, seed)
    model.initialise_from_data(x[train_idx])
    _freeze_unused_parameters(model)
    dm = LFADSDataModule(
        x, train_idx, valid_idx, batch_size=trainer_params.get("batch_size", 128), seed=seed
    )
    timer = EpochTimer()
    patience = trainer_params.get("early_stopping_patience")
    hp = model.hparams
    ramps_end = max(
        int(hp.kl_start_epoch) + int(hp.kl_ramp_epochs),
        int(hp.l2_start_epoch) + int(hp.l2_ramp_epochs),
    )
    best = BestValidation(None if patience is None else int(patience), start_epoch=ramps_end)
    trainer = make_trainer(
        trainer_params, callbacks=[timer, best, *(callbacks or [])], run_name=variant
    )
    with float32_matmul_precision(precision):
        trainer.fit(model, datamodule=dm)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    if trainer_params.get("restore_best", False):
        best.restore(model)
    model.eval()
    return model, {
        "variant": variant,
        "train_idx": train_idx,
        "valid_idx": valid_idx,
        "epoch_s": np.asarray(timer.epoch_s),
        "metrics": metrics,
        "best_epoch": best.best_epoch,
        "best_valid_recon": best.best,
        "epochs_run": len(timer.epoch_s),
    }


def model_to_dict(model: LFADS) -> dict[str, Any]:
    """State dict and constructor configuration (plain types: loads with weights_only=True)."""
    config = {k: v for k, v in dict(model.hparams).items()}
    return {
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "config": config,
    }


def model_from_dict(saved: dict[str, Any]) -> LFADS:
    """Rebuild a model saved with :func:`model_to_dict`."""
    if "state_dict" not in saved or "config" not in saved:
        raise ValueError("a saved LFADS model must hold 'state_dict' and 'config'")
    model = LFADS(**saved["config"])
    model.load_state_dict(saved["state_dict"])
    model.eval()
    return model
