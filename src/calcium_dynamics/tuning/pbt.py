"""Population-based training (PBT) of LFADS-family models on Ray Tune.

Each member of the population is a Lightning training of one LFADS variant with its own
hyperparameters (:mod:`calcium_dynamics.tuning.search_space`). One *generation* is
``epochs_per_generation`` epochs. After every generation (all members in step) the members in
the bottom ``quantile_fraction`` by validation reconstruction loss copy the weights, optimiser
state and hyperparameters of a member in the top fraction (*exploit*) and perturb the
hyperparameters by random factors in ``[0.7, 1.3]`` (*explore*). The search stops when the
population's best loss has not improved for ``patience`` generations, or after
``max_generations``.

The exploit criterion is the reconstruction term only (``valid/recon``: the mean negative
log-likelihood over the validation trials' cost entries — for RADICaL only the sampled entries,
SBTT), not the full loss, whose KL and L2 terms are scaled by the searched hyperparameters and so
are not comparable between members.

Ray runs in this process's machine by default (``address=None``: a local Ray with ``num_cpus``
CPUs, no dashboard, usage statistics off) or joins an existing Ray cluster (``address``, e.g.
``"auto"`` or ``"ray://head:10001"``); members then run wherever the cluster has room, so the
checkpoint folder (``storage_dir``) must be reachable by every node.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import pandas as pd
import torch

from calcium_dynamics.models.lfads.data import LFADSDataModule, split_trials
from calcium_dynamics.models.lfads.model import LFADS
from calcium_dynamics.models.lfads.training import (
    VARIANTS,
    _freeze_unused_parameters,
    build_model,
    make_trainer,
    matmul_precision,
)
from calcium_dynamics.models.matmul_precision import float32_matmul_precision
from calcium_dynamics.tuning.search_space import (
    HyperParameter,
    apply_hyperparameters,
    explore,
    initial_population,
    parse_search_space,
)
from calcium_dynamics.tuning.stopping import PopulationPlateau

log = logging.getLogger(__name__)

# Ray reports usage statistics to its developers unless told not to; nothing here leaves the
# machine (an explicit RAY_USAGE_STATS_ENABLED=1 in the environment is respected).
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

#: metric members are ranked by (lower is better)
METRIC = "valid_recon"
_CKPT = "member.ckpt"
_META = "member.json"


@dataclass
class PBTSettings:
    """Settings of one population-based training run (see the module docstring).

    Attributes:
        variant: LFADS variant (``radical``, ``autolfads``, ``calcium_lfads``, ``gaussian_lfads``).
        population_size: members trained side by side (paper: 20).
        epochs_per_generation: epochs between exploit / explore steps (paper: 50).
        max_generations: hard limit on generations.
        patience: stop after this many generations without improvement (paper: 25).
        min_delta: smallest decrease of the best loss that counts as an improvement.
        quantile_fraction: fraction of members replaced (bottom) / copied from (top).
        search_space: ``{name: {low, high, log, clip, explore_weight}}``.
        seed: seeds the initial hyperparameters, the perturbations and the weights.
        address: Ray cluster address; ``None`` starts a local Ray.
        num_cpus: CPUs of the local Ray (``None``: all of this machine's).
        cpus_per_member, gpus_per_member: resources each member reserves.
        storage_dir: folder for Ray's checkpoints and logs (``None``: a temporary folder that is
            removed afterwards).
    """

    variant: str
    population_size: int = 20
    epochs_per_generation: int = 50
    max_generations: int = 100
    patience: int = 25
    min_delta: float = 0.0
    quantile_fraction: float = 0.25
    search_space: dict[str, dict[str, Any]] = field(default_factory=dict)
    seed: int = 0
    address: str | None = None
    num_cpus: int | None = None
    cpus_per_member: float = 1.0
    gpus_per_member: float = 0.0
    storage_dir: str | None = None

    def __post_init__(self):
        if self.variant not in VARIANTS:
            raise ValueError(
                f"unknown LFADS variant {self.variant!r}; choose one of {sorted(VARIANTS)}"
            )
        for name in ("population_size", "epochs_per_generation", "max_generations", "patience"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1; got {getattr(self, name)}")
        if self.population_size < 2:
            raise ValueError(
                f"population_size must be >= 2 for exploitation; got {self.population_size}"
            )
        if not 0.0 < self.quantile_fraction <= 0.5:
            raise ValueError(f"quantile_fraction must be in (0, 0.5]; got {self.quantile_fraction}")
        if "sig_prior" in self.search_space and VARIANTS[self.variant]["observation"] != "zig":
            raise ValueError(
                f"sig_prior (the zero-inflated gamma scale prior) cannot be searched for the "
                f"{self.variant!r} variant; remove it from the search space"
            )
        parse_search_space(self.search_space)

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> PBTSettings:
        """Settings from the ``lfads_search`` parameters (``ray`` block flattened)."""
        params = dict(params)
        ray_params = dict(params.pop("ray", None) or {})
        unknown = set(params) - set(cls.__dataclass_fields__) | (
            set(ray_params)
            - {"address", "num_cpus", "cpus_per_member", "gpus_per_member", "storage_dir"}
        )
        if unknown:
            raise ValueError(f"unknown lfads_search parameter(s): {sorted(unknown)}")
        return cls(**params, **ray_params)


@dataclass
class PBTResult:
    """Outcome of a run.

    Attributes:
        model: the best member (lowest validation reconstruction loss over every member and
            generation), in eval mode, carrying that member's hyperparameters.
        best: its trial id, generation, loss and hyperparameters.
        history: one row per member and generation: ``member``, ``generation``, ``epoch``,
            ``valid_recon``, ``valid_loss``, the hyperparameters, ``exploited_from`` (the member
            whose weights this one started the generation from, if not its own),
            ``start_digest`` / ``end_digest`` (SHA-1 of the weights before / after the
            generation) and ``wall_s``.
        wall_s: seconds of the whole search; cpus: CPUs Ray had.
    """

    model: LFADS
    best: dict[str, Any]
    history: pd.DataFrame
    wall_s: float
    cpus: float


def weights_digest(state_dict: dict[str, torch.Tensor]) -> str:
    """SHA-1 over every tensor of a state dict (sorted by name): equal weights, equal digest."""
    h = hashlib.sha1()
    for key in sorted(state_dict):
        h.update(key.encode())
        h.update(state_dict[key].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


class _SetLearningRate(L.Callback):
    """After a checkpoint restore (which brings back the old learning rate), use the model's."""

    def on_train_start(self, trainer, pl_module):
        for optimizer in trainer.optimizers:
            for group in optimizer.param_groups:
                group["lr"] = float(pl_module.hparams.lr)


def _load_lightning_checkpoint(path: Path) -> dict[str, Any]:
    # weights_only: tensors and plain containers only; a checkpoint cannot run code
    return torch.load(path, map_location="cpu", weights_only=True)


def _member(
    config: dict[str, Any],
    *,
    data: np.ndarray,
    settings: PBTSettings,
    model_params: dict[str, Any],
    trainer_params: dict[str, Any],
    valid_fraction: float,
) -> None:
    """Ray Tune function trainable: train one member generation by generation."""
    from ray import tune

    threads = max(1, int(math.floor(settings.cpus_per_member)))
    torch.set_num_threads(threads)
    trial_id = tune.get_context().get_trial_id()
    params = apply_hyperparameters(model_params, config)
    x = np.asarray(data, dtype=np.float32)
    train_idx, valid_idx = split_trials(x.shape[0], valid_fraction, settings.seed)

    work = Path(tempfile.mkdtemp(prefix="lfads_pbt_"))
    restore: Path | None = None
    generation, exploited_from = 0, ""
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            meta = json.loads((Path(folder) / _META).read_text())
            restore = work / "restore.ckpt"
            shutil.copy(Path(folder) / _CKPT, restore)
        generation = int(meta["generation"])
        if meta["trial_id"] != trial_id:
            exploited_from = str(meta["trial_id"])

    L.seed_everything(settings.seed + 1000 * int(config.get("member", 0)), verbose=False)
    model = build_model(x, settings.variant, params)
    model.initialise_from_data(x[train_idx])
    _freeze_unused_parameters(model)
    dm = LFADSDataModule(
        x,
        train_idx,
        valid_idx,
        batch_size=int(trainer_params.get("batch_size", 128)),
        seed=settings.seed + generation,
    )
    member_trainer = {
        **trainer_params,
        "logger": False,
        "enable_progress_bar": False,
        "devices": 1,
        "num_nodes": 1,
        "strategy": "auto",
    }
    try:
        while generation < settings.max_generations:
            generation += 1
            start = time.perf_counter()
            if restore is not None:
                start_digest = weights_digest(_load_lightning_checkpoint(restore)["state_dict"])
            else:
                start_digest = weights_digest(model.state_dict())
            trainer = make_trainer(
                {**member_trainer, "max_epochs": generation * settings.epochs_per_generation},
                callbacks=[_SetLearningRate()],
            )
            with float32_matmul_precision(matmul_precision(member_trainer)):
                trainer.fit(model, datamodule=dm, ckpt_path=str(restore) if restore else None)
            metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
            out = work / f"generation_{generation}"
            out.mkdir()
            trainer.save_checkpoint(out / _CKPT)
            (out / _META).write_text(json.dumps({"trial_id": trial_id, "generation": generation}))
            restore = work / "latest.ckpt"
            shutil.copy(out / _CKPT, restore)
            row = {
                "generation": generation,
                "epoch": generation * settings.epochs_per_generation,
                METRIC: metrics.get("valid/recon", math.nan),
                "valid_loss": metrics.get("valid/loss", math.nan),
                "train_loss": metrics.get("train/loss", math.nan),
                "exploited_from": exploited_from,
                "start_digest": start_digest,
                "end_digest": weights_digest(model.state_dict()),
                "generation_s": time.perf_counter() - start,
                **{k: float(config[k]) for k in settings.search_space},
            }
            exploited_from = ""
            tune.report(row, checkpoint=tune.Checkpoint.from_directory(str(out)))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _ray_objects(settings: PBTSettings, space: dict[str, HyperParameter]):
    """The PBT scheduler, the stopper and the history-collecting callback."""
    from ray import tune
    from ray.tune.schedulers import PopulationBasedTraining

    rng = np.random.default_rng(settings.seed + 1)

    def _explore(config: dict[str, Any]) -> dict[str, Any]:
        return explore(config, space, rng)

    # Ray's own perturbation is switched off (factor 1, no resampling); ours runs after it.
    mutations = {
        name: (tune.loguniform if hp.log else tune.uniform)(hp.low, hp.high)
        for name, hp in space.items()
    }
    scheduler = PopulationBasedTraining(
        time_attr="generation",
        perturbation_interval=1,
        hyperparam_mutations=mutations,
        quantile_fraction=settings.quantile_fraction,
        resample_probability=0.0,
        perturbation_factors=(1.0, 1.0),
        custom_explore_fn=_explore,
        synch=True,
    )
    plateau = PopulationPlateau(
        settings.population_size, settings.patience, settings.max_generations, settings.min_delta
    )

    class _Stop(tune.Stopper):
        def __call__(self, trial_id, result):
            plateau.record(trial_id, result["generation"], result[METRIC])
            return plateau.member_done(result["generation"])

        def stop_all(self):
            return plateau.population_done()

    class _History(tune.Callback):
        def __init__(self):
            self.rows: list[dict[str, Any]] = []

        def on_trial_result(self, iteration, trials, trial, result, **info):
            row = {"member": trial.trial_id}
            row.update({k: result[k] for k in result if k in _HISTORY_KEYS or k in space})
            self.rows.append(row)

    return scheduler, _Stop(), _History()


_HISTORY_KEYS = (
    "generation",
    "epoch",
    METRIC,
    "valid_loss",
    "train_loss",
    "exploited_from",
    "start_digest",
    "end_digest",
    "generation_s",
)


def _start_ray(settings: PBTSettings) -> bool:
    """Connect to Ray; return whether this call started it (and must shut it down)."""
    import ray

    if ray.is_initialized():
        return False
    if settings.address:
        ray.init(address=settings.address, log_to_driver=False)
    else:
        ray.init(
            num_cpus=settings.num_cpus,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
    return True


def run_pbt(
    data: np.ndarray,
    model_params: dict[str, Any],
    trainer_params: dict[str, Any],
    settings: PBTSettings,
    *,
    valid_fraction: float = 0.2,
) -> PBTResult:
    """Population-based training of ``settings.variant`` on ``data`` (trials, T, N).

    Args:
        data: the variant's input (e.g. NaN-masked events for RADICaL).
        model_params: LFADS model settings shared by every member (sizes, ramps, …); the
            searched hyperparameters replace their entries.
        trainer_params: ``lfads.trainer`` parameters (``batch_size``, ``accelerator``,
            ``gradient_clip_val``, …); each member trains on one device without a logger.
        settings: the population (see :class:`PBTSettings`).
        valid_fraction: validation share of the trials (same split for every member).
    """
    from ray import tune

    space = parse_search_space(settings.search_space)
    x = np.asarray(data, dtype=np.float32)
    build_model(x, settings.variant, model_params)  # checks the data before any Ray start
    initial = initial_population(space, settings.population_size, settings.seed)
    param_space: dict[str, Any] = {"member": tune.grid_search(list(range(len(initial))))}
    for name in space:
        param_space[name] = tune.sample_from(
            lambda spec, name=name: initial[spec.config["member"]][name]
        )

    owned_storage = settings.storage_dir is None
    storage = Path(
        tempfile.mkdtemp(prefix="lfads_pbt_ray_") if owned_storage else settings.storage_dir
    )
    storage = storage.resolve()
    started = _start_ray(settings)
    t0 = time.perf_counter()
    try:
        import ray

        cpus = float(ray.cluster_resources().get("CPU", 0.0))
        scheduler, stopper, history_cb = _ray_objects(settings, space)
        trainable = tune.with_resources(
            tune.with_parameters(
                _member,
                data=x,
                settings=settings,
                model_params=dict(model_params),
                trainer_params=dict(trainer_params),
                valid_fraction=float(valid_fraction),
            ),
            {"cpu": settings.cpus_per_member, "gpu": settings.gpus_per_member},
        )
        tuner = tune.Tuner(
            trainable,
            param_space=param_space,
            tune_config=tune.TuneConfig(
                scheduler=scheduler,
                metric=METRIC,
                mode="min",
                num_samples=1,
                reuse_actors=True,  # a paused member resumes in a warm process
            ),
            run_config=tune.RunConfig(
                name=f"lfads_pbt_{settings.variant}",
                storage_path=str(storage),
                stop=stopper,
                callbacks=[history_cb],
                checkpoint_config=tune.CheckpointConfig(
                    num_to_keep=4,  # fewer can delete a checkpoint PBT is about to copy
                    checkpoint_score_attribute=METRIC,
                    checkpoint_score_order="min",
                ),
                failure_config=tune.FailureConfig(max_failures=0),
                verbose=1,
            ),
        )
        results = tuner.fit()
        if results.errors:
            raise RuntimeError(f"population-based training failed: {results.errors[0]}")
        wall = time.perf_counter() - t0
        history = pd.DataFrame(history_cb.rows)
        model, best = _best_member(results, x, settings, model_params)
    finally:
        if started:
            import ray

            ray.shutdown()
        if owned_storage:
            shutil.rmtree(storage, ignore_errors=True)
    history = history.sort_values(["generation", "member"], kind="stable").reset_index(drop=True)
    return PBTResult(model=model, best=best, history=history, wall_s=wall, cpus=cpus)


def _best_member(results, x: np.ndarray, settings: PBTSettings, model_params: dict[str, Any]):
    """Load the checkpoint with the lowest validation loss over every member and generation."""
    best_loss, best_ckpt, best_metrics = math.inf, None, None
    for result in results:
        for checkpoint, metrics in result.best_checkpoints or []:
            loss = float(metrics.get(METRIC, math.inf))
            if loss < best_loss:
                best_loss, best_ckpt, best_metrics = loss, checkpoint, metrics
    if best_ckpt is None:
        raise RuntimeError("population-based training produced no checkpoint with a finite loss")
    config = {k: best_metrics[k] for k in settings.search_space}
    model = build_model(x, settings.variant, apply_hyperparameters(model_params, config))
    with best_ckpt.as_directory() as folder:
        state = _load_lightning_checkpoint(Path(folder) / _CKPT)["state_dict"]
    model.load_state_dict(state)
    model.eval()
    best = {
        "member": str(best_metrics.get("trial_id", "")),
        "generation": int(best_metrics["generation"]),
        METRIC: best_loss,
        "hyperparameters": {k: float(v) for k, v in config.items()},
    }
    return model, best


def population_summary(result: PBTResult, settings: PBTSettings) -> dict[str, Any]:
    """What a search leaves for its report: the variant, the best member and its
    hyperparameters, population size, generations, exploits, the best validation loss of the
    first and the last generation, wall time (s) and CPUs."""
    history = result.history
    first = history[history["generation"] == history["generation"].min()]
    last = history[history["generation"] == history["generation"].max()]
    return {
        "variant": settings.variant,
        "best": result.best,
        "population_size": settings.population_size,
        "epochs_per_generation": settings.epochs_per_generation,
        "generations": int(history["generation"].max()),
        "exploits": int((history["exploited_from"].astype(str) != "").sum()),
        "initial_best_valid_recon": float(first[METRIC].min()),
        "final_best_valid_recon": float(last[METRIC].min()),
        "wall_s": float(result.wall_s),
        "cpus": float(result.cpus),
    }
