"""Train ENS² and the CASCADE model zoo on training tables (one function each)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import torch

from calcium_dynamics.models.cascade import Cascade
from calcium_dynamics.models.ens2 import ENS2
from calcium_dynamics.models.fit import TrainingLossPlateau, build_trainer
from calcium_dynamics.models.spike_data import (
    SpikeWindowDataModule,
    noise_matched_table,
    split_by_neuron,
)
from calcium_dynamics.models.spike_models import SpikeModel

logger = logging.getLogger(__name__)


def _check_table(table: pd.DataFrame, what: str) -> float:
    missing = {"dataset", "neuron", "dff", "target_rate", "frame_rate_hz"} - set(table.columns)
    if missing:
        raise ValueError(f"{what}: training table lacks column(s) {sorted(missing)}")
    if table.empty:
        raise ValueError(f"{what}: training table is empty")
    rates = table["frame_rate_hz"].to_numpy(float)
    if np.ptp(rates) > 0.05 * rates.mean():
        raise ValueError(
            f"{what}: recordings at different frame rates ({rates.min():.3g}–"
            f"{rates.max():.3g} Hz); build the table at one rate"
        )
    return float(np.median(rates))


def _fit(
    module,
    data: SpikeWindowDataModule,
    trainer_params: dict,
    patience: int | None,
    train_loss_patience: int | None = None,
):
    params = {"check_val_every_n_epoch": None, **trainer_params}
    if not data.val_batches:
        params.pop("val_check_interval", None)
        params["limit_val_batches"] = 0
        patience = None
    callbacks = [TrainingLossPlateau(train_loss_patience)] if train_loss_patience else []
    trainer = build_trainer(params, early_stopping_patience=patience, callbacks=callbacks)
    start = time.perf_counter()
    trainer.fit(module, datamodule=data)
    seconds = time.perf_counter() - start
    val = trainer.callback_metrics.get("val_loss")
    return {
        "train_seconds": seconds,
        "steps": int(trainer.global_step),
        "val_loss": float(val) if val is not None else None,
    }


def _train_ens2_member(table: pd.DataFrame, params: dict[str, Any], rate: float, seed: int):
    """One ENS² network trained with ``seed`` (validation split, initialisation, batches)."""
    data_p = dict(params.get("data", {}))
    train, val = split_by_neuron(table, float(data_p.pop("validation_fraction", 0.1)), seed)
    model_p = dict(params.get("model", {}))
    module = ENS2(frame_rate_hz=rate, sigma_s=float(params["sigma_s"]), **model_p)
    data = SpikeWindowDataModule(
        train, val, module.hparams.window, sequence=True, seed=seed, **data_p
    )
    torch.manual_seed(seed)
    module.net.reset_parameters()
    info = _fit(
        module,
        data,
        {"seed": seed, **params.get("trainer", {})},
        params.get("early_stopping_patience"),
        params.get("train_loss_patience"),
    )
    return module, info, train, val


def train_ens2(table: pd.DataFrame, params: dict[str, Any]) -> SpikeModel:
    """Train an ENS² ensemble (one network by default).

    ``params``: ``model`` (window, base_channels, learning_rate, lr_schedule,
    max_learning_rate), ``data`` (batch_size,
    validation_fraction, balanced, max_samples, n_val_batches), ``trainer`` (see
    ``build_trainer``), ``early_stopping_patience`` (validation checks),
    ``train_loss_patience`` (steps without a new lowest training batch loss before stopping,
    the published rule; none by default), ``seed``, ``sigma_s`` (the table's target kernel s.d.)
    and ``n_members`` (networks in the ensemble, default 1; member m is trained with seed
    ``seed + 1000·m``, its own validation split and initialisation; the model's rate is the
    members' mean).
    """
    rate = _check_table(table, "ENS²")
    seed = int(params.get("seed", 0))
    n_members = int(params.get("n_members", 1))
    if n_members < 1:
        raise ValueError(f"n_members must be ≥ 1; got {n_members}")
    nets, infos = [], []
    for member in range(n_members):
        module, info, train, val = _train_ens2_member(table, params, rate, seed + 1000 * member)
        nets.append(module.net.eval())
        infos.append(info)
    config = {
        "frame_rate_hz": rate,
        "sigma_s": float(params["sigma_s"]),
        "window": int(module.hparams.window),
        "base_channels": int(module.hparams.base_channels),
    }
    training = infos[0]
    if n_members > 1:
        training = {
            "members": infos,
            "train_seconds": float(sum(i["train_seconds"] for i in infos)),
            "steps": [i["steps"] for i in infos],
        }
    metadata = {
        "training": training,
        "n_train_recordings": len(train),
        "n_val_recordings": len(val),
        "datasets": sorted(set(train["dataset"])),
        "params": params,
    }
    return SpikeModel("ens2", config, {float("nan"): nets}, metadata)


def train_cascade_zoo(
    table: pd.DataFrame,
    params: dict[str, Any],
    on_member: Callable[[str], None] | None = None,
) -> SpikeModel:
    """Train the CASCADE model zoo: for each noise level, an ensemble of networks trained on
    ground truth noise-matched to that level (a fresh noise realisation per member).

    ``params``: ``noise_levels`` (list of ν), ``n_members``, ``first_member`` (index of the
    first member, default 0: members ``first_member … first_member + n_members - 1``, whose
    seeds depend only on the base seed, the level and the index, so members trained in
    separate runs add up to the ensemble one run trains), ``max_noise_replicas``, ``model``
    (learning_rate), ``data``, ``trainer``, ``early_stopping_patience``, ``seed``,
    ``sigma_s``, ``causal`` (windows end at the predicted frame: no future frames, for
    closed-loop use; default False), ``causal_target`` (with ``causal``: ``"causal"``, the
    default: train on the table's ``target_rate_causal``, spikes smoothed with a causal kernel,
    so a rate depends on nothing the window cannot see; ``"gaussian"``: the symmetric target).
    ``on_member`` is called with a short text after each
    trained member.
    """
    rate = _check_table(table, "CASCADE")
    causal = bool(params.get("causal", False))
    causal_target = str(params.get("causal_target", "causal"))
    if causal_target not in ("causal", "gaussian"):
        raise ValueError(f"causal_target must be 'causal' or 'gaussian', got {causal_target!r}")
    if causal and causal_target == "causal":
        if "target_rate_causal" not in table.columns:
            raise ValueError(
                "CASCADE causal: the training table lacks 'target_rate_causal' (build it with "
                "training_table)"
            )
        table = table.assign(target_rate=table["target_rate_causal"])
    seed = int(params.get("seed", 0))
    levels = [float(v) for v in params.get("noise_levels", [2.0])]
    if not levels:
        raise ValueError("CASCADE: noise_levels is empty")
    data_p = dict(params.get("data", {}))
    val_fraction = float(data_p.pop("validation_fraction", 0.1))
    train, val = split_by_neuron(table, val_fraction, seed)
    first = int(params.get("first_member", 0))
    if not (first >= 0 and first + int(params.get("n_members", 5)) <= 10):
        raise ValueError("CASCADE: member indices must lie in 0 … 9")
    ensembles, info = {}, {}
    for level in levels:
        members = []
        for member in range(first, first + int(params.get("n_members", 5))):
            member_seed = seed * 1000 + int(round(level * 10)) * 10 + member
            noisy_train = noise_matched_table(
                train, level, int(params.get("max_noise_replicas", 3)), member_seed
            )
            if noisy_train.empty:
                raise ValueError(f"CASCADE: every training recording is noisier than ν={level}")
            noisy_val = noise_matched_table(val, level, 1, member_seed + 1) if len(val) else None
            torch.manual_seed(member_seed)  # initial weights from the member's seed alone
            module = Cascade(
                frame_rate_hz=rate,
                sigma_s=float(params["sigma_s"]),
                noise_level_nu=level,
                **params.get("model", {}),
            )
            data = SpikeWindowDataModule(
                noisy_train,
                noisy_val,
                64,
                sequence=False,
                seed=member_seed,
                causal=causal,
                **data_p,
            )
            logger.info(
                "CASCADE ν=%s member %d: %d training windows",
                level,
                member,
                data.train_bank.n_samples,
            )
            info[f"nu_{level:g}_member_{member}"] = _fit(
                module,
                data,
                {"seed": member_seed, **params.get("trainer", {})},
                params.get("early_stopping_patience"),
            )
            members.append(module.net.eval())
            if on_member is not None:
                on_member(f"ν={level:g} member {member + 1}")
        ensembles[level] = members
    config = {"frame_rate_hz": rate, "sigma_s": float(params["sigma_s"]), "window": 64}
    if causal:
        config["causal"] = True
        config["target_kernel"] = causal_target
    metadata = {"training": info, "datasets": sorted(set(train["dataset"])), "params": params}
    return SpikeModel("cascade", config, ensembles, metadata)
