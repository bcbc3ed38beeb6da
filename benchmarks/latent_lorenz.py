"""LFADS-family benchmark: training speed at the RADICaL paper sizes and latent recovery.

Timing: seconds per training epoch (384 training trials × 90 bins × 278 neurons, encoders 64,
controller 64, generator 100, factors 100, batch 128) and a forward pass over 96 trials for each
variant, plus the process's peak memory.

Accuracy: the paper configuration (conf/base + conf/paper parameters) — RADICaL, AutoLFADS and
smoothed deconvolved events on Lorenz data at the chosen speeds (Z-dimension latent R²), and
calcium-LFADS vs Gaussian-LFADS on the calcium-LFADS dataset of Keeley et al.

    python benchmarks/latent_lorenz.py --timing-only
    python benchmarks/latent_lorenz.py --speeds 10 --epochs 100 --variants radical autolfads
    python benchmarks/latent_lorenz.py --speeds --epochs 100 --variants calcium_lfads gaussian_lfads
    python benchmarks/latent_lorenz.py --skip-timing --speeds 10 --epochs 1000 --batch-size 32 \
        --variants radical --eval-every 50      # with a learning curve

Results are merged into benchmarks/results/latent_lorenz/latent_lorenz.json (one entry per
part run).
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import platform
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import lightning as L
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from calcium_dynamics.config import project_parameters
from calcium_dynamics.metrics.latent_recovery import frames_to_bins, latent_r2, smooth_frames
from calcium_dynamics.models.allocator import keep_freed_memory
from calcium_dynamics.models.lfads import model as lfads_model
from calcium_dynamics.models.lfads.augmentations import AugmentationStack, SelectiveBackprop
from calcium_dynamics.models.lfads.data import LFADSDataModule, split_trials
from calcium_dynamics.models.lfads.model import LFADS
from calcium_dynamics.models.lfads.observations import (
    MAX_LOG_RATE,
    GaussianObservation,
    Observation,
    PoissonObservation,
    ZIGObservation,
)
from calcium_dynamics.models.lfads.training import (
    EpochTimer,
    build_model,
    make_trainer,
    train_lfads,
    variant_model_params,
)
from calcium_dynamics.models.matmul_precision import PRECISIONS
from calcium_dynamics.provenance import command_line, run_record
from calcium_dynamics.simulate import lorenz_datasets
from calcium_dynamics.tuning.search_space import (
    DERIVED,
    MODEL_ARGUMENTS,
    apply_hyperparameters,
)

RESULTS = ROOT / "benchmarks" / "results" / "latent_lorenz" / "latent_lorenz.json"
LORENZ_VARIANTS = ("radical", "autolfads", "smth_dec")
CALCIUM_VARIANTS = ("calcium_lfads", "gaussian_lfads")


def paper_parameters() -> dict:
    """The parameters of ``kedro run --env paper`` (Kedro's config loader)."""
    return project_parameters("paper")


def peak_memory_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _timing_data(variant: str, rng: np.random.Generator) -> np.ndarray:
    """Synthetic inputs with the paper's shape (480 trials × 90 bins × 278 neurons)."""
    shape = (480, 90, 278)
    if variant == "radical":
        x = rng.gamma(1.0, 0.2, shape) + 0.1
        x *= rng.random(shape) < 0.12
        x[:, ::3] = np.nan  # line-scan: one sample in three bins
    elif variant == "autolfads":
        x = rng.poisson(0.1, shape).astype(float)
    else:
        x = rng.normal(0.0, 0.3, shape)
    return x.astype(np.float32)


class _CpuEpochTimer(EpochTimer):
    """Wall-clock and process CPU seconds of each training epoch."""

    def __init__(self):
        super().__init__()
        self.cpu_s: list[float] = []

    def on_train_epoch_start(self, trainer, pl_module):
        super().on_train_epoch_start(trainer, pl_module)
        self._cpu = time.process_time()

    def on_train_epoch_end(self, trainer, pl_module):
        super().on_train_epoch_end(trainer, pl_module)
        self.cpu_s.append(time.process_time() - self._cpu)


#: a timing variant name ending in this runs the likelihoods as before their speed-ups: the
#: calcium sum over every spike count (no exponent floor) and the Poisson / Gaussian / ZIG /
#: calcium costs' masked sums as autograd expressions (:func:`_previous_nll`); and the training
#: step's own parts as before theirs: the entry-wise NaN test of the inputs and Adam's
#: per-parameter loop (:func:`_previous_training_step`); the same-run baseline of those changes
PREVIOUS = "_previous"
#: a timing variant name ending in this runs with the C library's default allocator settings
#: (no ``keep_freed_memory``, which training applies): the same-run baseline of that change
SYSTEM_MALLOC = "_system_malloc"
#: a timing variant name ending in this (before ``_system_malloc``) runs LFADS with
#: ``recurrence="autograd"``: the same-run baseline of the hand-written recurrences
AUTOGRAD = "_autograd"
#: baseline suffixes in the order they may follow a variant name
SUFFIXES = (PREVIOUS, AUTOGRAD, SYSTEM_MALLOC)
#: a timing variant name whose model name is followed by this (``autolfads_bf16``) runs with
#: ``torch.set_float32_matmul_precision("medium")`` (the trainer parameter
#: ``float32_matmul_precision``): compared with the same name without it (float32 products)
BF16 = "_bf16"


def _previous_poisson_nll(self, data, params, mask):
    """``PoissonObservation.nll`` before the hand-written gradient (autograd expressions)."""
    log_rate = torch.clamp(params[0], max=MAX_LOG_RATE)
    total = ((data * log_rate - torch.exp(log_rate)) * mask).sum()
    counted = (mask & (data > 0)).flatten().nonzero().squeeze(1)
    log_factorial = torch.lgamma(data.flatten().index_select(0, counted) + 1.0).sum()
    return -(total - log_factorial) / torch.clamp(torch.count_nonzero(mask), min=1)


def _previous_nll_mean(self, data, params, mask):
    """``Observation.nll`` before the masked sum became a dot product (Gaussian, calcium)."""
    ll = self.log_likelihood(data, params)
    return -(ll * mask).sum() / torch.clamp(torch.count_nonzero(mask), min=1)


def _previous_zig_nll(self, data, params, mask):
    """``ZIGObservation.nll`` before the hand-written gradient of its zero entries' cost."""
    nonzero = data > 0
    log_q_min, log_q_max = math.log(self.q_min), math.log1p(-self.q_min)
    log_one_minus_q = torch.clamp(-torch.nn.functional.softplus(params[2]), log_q_min, log_q_max)
    zero_total = (log_one_minus_q * (mask & ~nonzero)).sum()
    log_nz = self.nonzero_log_likelihood_sum(data, params, mask & nonzero)
    return -(zero_total + log_nz) / torch.clamp(torch.count_nonzero(mask), min=1)


def _previous_readout_nll(self, data, readout, mask):
    """``Observation.readout_nll`` before the one-tensor ZIG cost: the cost of the readout's
    channels unbound (their gradients stacked into the readout's)."""
    return self.nll(data, readout.unbind(dim=2), mask)


def _previous_nll() -> None:
    """Run the Poisson, Gaussian, ZIG and calcium costs as before (this process only): the
    Gaussian one, as the calcium one, as the mean over ``log_likelihood``; every cost from the
    readout's channels unbound."""
    Observation.readout_nll = _previous_readout_nll
    ZIGObservation.readout_nll = _previous_readout_nll
    PoissonObservation.nll = _previous_poisson_nll
    GaussianObservation.nll = _previous_nll_mean
    ZIGObservation.nll = _previous_zig_nll
    Observation.nll = _previous_nll_mean


def _previous_augmented(self, data, training):
    """``LFADS._augmented`` before SBTT ran first: SBTT inside the augmentation stack, then the
    sampled entries and the zero-filled targets formed again from the data."""
    full = torch.ones(data.shape, dtype=torch.bool, device=data.device)
    sbtt = [SelectiveBackprop()] if self.hparams.sbtt else []
    inputs, cost_mask = AugmentationStack(sbtt + self.augment.augmentations)(data, full, training)
    if not self.hparams.sbtt:
        return inputs, data, cost_mask, data.numel()
    sampled = ~torch.isnan(data)
    return inputs, torch.nan_to_num(data, nan=0.0), cost_mask, torch.count_nonzero(sampled)


def _previous_training_step() -> None:
    """Run the training step's NaN test of the inputs (entry-wise, on every step), its
    augmentations and Adam (a loop over the parameters) as before (this process only)."""
    current = LFADS.configure_optimizers
    LFADS._augmented = _previous_augmented

    def per_parameter_adam(self):
        settings = {**current(self).defaults, "foreach": False}
        return torch.optim.Adam(self.parameters(), **settings)

    lfads_model._contains_nan = lambda x: bool(torch.isnan(x).any())
    LFADS.configure_optimizers = per_parameter_adam


def _suffix_combinations() -> list[str]:
    """Every ordered combination of :data:`SUFFIXES` (a baseline name is variant + one)."""
    combos = [""]
    for suffix in SUFFIXES:
        combos += [c + suffix for c in combos]
    return [c for c in combos if c]


def _time_variant(params: dict, variant: str, epochs: int, steps: int) -> dict:
    """Timings of one variant (run in a fresh process, so the peak memory is its own)."""
    torch.set_num_threads(1)
    if variant.endswith(SYSTEM_MALLOC):
        variant = variant.removesuffix(SYSTEM_MALLOC)
    else:  # as train_lfads does by default (trainer parameter keep_freed_memory)
        keep_freed_memory()
    recurrence = "fused"
    if variant.endswith(AUTOGRAD):
        recurrence = "autograd"
        variant = variant.removesuffix(AUTOGRAD)
    if variant.endswith(PREVIOUS):
        from calcium_dynamics.likelihoods import calcium

        calcium._NEGLIGIBLE = -math.inf  # this process only
        calcium._SKIP_MARGIN = math.inf
        _previous_nll()
        _previous_training_step()
        variant = variant.removesuffix(PREVIOUS)
    if variant.endswith(BF16):
        torch.set_float32_matmul_precision("medium")  # this process only
        variant = variant.removesuffix(BF16)
    x = _timing_data(variant, np.random.default_rng(0))
    model_params = {**variant_model_params(params["lfads"], variant), "recurrence": recurrence}
    torch.manual_seed(0)
    model = build_model(x, variant, model_params)
    model.initialise_from_data(x[:384])
    load_before = os.getloadavg()
    # single training steps (forward, backward, Adam) on one batch of 128 trials
    opt = model.configure_optimizers()
    batch = torch.as_tensor(x[:128])
    step_wall, step_cpu = [], []
    for _ in range(steps + 1):
        t, c = time.perf_counter(), time.process_time()
        opt.zero_grad()
        model.compute_loss(batch, training=True)["loss"].backward()
        opt.step()
        step_wall.append(time.perf_counter() - t)
        step_cpu.append(time.process_time() - c)
    # whole epochs through Lightning (3 batches of 128 training trials + validation)
    torch.manual_seed(0)
    model = build_model(x, variant, model_params)
    model.initialise_from_data(x[:384])
    dm = LFADSDataModule(x, np.arange(384), np.arange(384, 480), batch_size=128)
    timer = _CpuEpochTimer()
    trainer = make_trainer(
        {
            "max_epochs": epochs,
            "accelerator": "cpu",
            "devices": 1,
            "precision": 32,
            "gradient_clip_val": 300.0,
            "enable_progress_bar": False,
        },
        callbacks=[timer],
    )
    t0 = time.perf_counter()
    trainer.fit(model, datamodule=dm)
    fit_s = time.perf_counter() - t0
    # the same seeds in every variant of one model: its baselines must reach the same losses
    losses = {key: float(trainer.callback_metrics[key]) for key in ("train/loss", "valid/loss")}
    model.eval()
    xv = torch.nan_to_num(torch.as_tensor(x[384:]))
    fwd_wall, fwd_cpu = [], []
    with torch.no_grad():
        for _ in range(5):
            t, c = time.perf_counter(), time.process_time()
            model(xv, sample=False)
            fwd_wall.append(time.perf_counter() - t)
            fwd_cpu.append(time.process_time() - c)
    later = timer.epoch_s[1:] or timer.epoch_s
    later_cpu = timer.cpu_s[1:] or timer.cpu_s
    return {
        "train_epoch_s": timer.epoch_s,
        "train_epoch_s_median": float(np.median(later)),
        "train_epoch_cpu_s": timer.cpu_s,
        "train_epoch_cpu_s_median": float(np.median(later_cpu)),
        "fit_s_incl_validation_per_epoch": fit_s / epochs,
        "train_step_s_median": float(np.median(step_wall[1:])),
        "train_step_cpu_s_median": float(np.median(step_cpu[1:])),
        "train_step_s_min": float(np.min(step_wall[1:])),
        "forward_96_trials_s": float(np.median(fwd_wall)),
        "forward_96_trials_cpu_s": float(np.median(fwd_cpu)),
        "peak_memory_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "load_average_1_5_15_min": {"before": load_before, "after": os.getloadavg()},
        "losses_after_training": losses,
    }


def same_run_comparisons(
    out: dict[str, dict], runs: dict[str, list[dict]]
) -> tuple[dict[str, float], dict[str, float]]:
    """Ratios of CPU seconds (per epoch and per step) of every timed variant against each of
    its timed baselines (the variant's name plus a combination of :data:`SUFFIXES`), each
    variant's epoch cost against Poisson LFADS (``autolfads``), and the largest difference of
    the losses after training between a variant and a baseline (first runs)."""
    ratios, loss_differences = {}, {}
    for variant, res in out.items():
        baselines = [(variant + suffix, suffix) for suffix in _suffix_combinations()]
        if variant.endswith(BF16):  # against float32 products, and the baselines of those
            fp32 = variant.removesuffix(BF16)
            baselines += [
                (fp32 + suffix, "_fp32" + suffix) for suffix in ("", *_suffix_combinations())
            ]
        for name_base, label in baselines:
            base = out.get(name_base)
            if not base:
                continue
            losses = runs[variant][0]["losses_after_training"]
            base_losses = runs[name_base][0]["losses_after_training"]
            loss_differences[f"{variant}_vs{label}"] = max(
                abs(losses[k] - base_losses[k]) for k in losses
            )
            for name, key in (
                ("", "train_epoch_cpu_s_median"),
                ("step_", "train_step_cpu_s_median"),
            ):
                ratios[f"{variant}_{name}speedup_vs{label}"] = round(base[key] / res[key], 3)
    for variant, res in out.items():  # against Poisson LFADS with the same products
        poisson = "autolfads" + (BF16 if variant.endswith(BF16) else "")
        if variant != poisson and poisson in out:
            ratios[f"{variant}_epoch_cost_vs_poisson"] = round(
                res["train_epoch_cpu_s_median"] / out[poisson]["train_epoch_cpu_s_median"], 3
            )
    return ratios, loss_differences


def timing(
    params: dict, variants: list[str], epochs: int, steps: int = 3, repeats: int = 1
) -> dict:
    """Seconds per training epoch, per training step and per 96-trial forward pass at the
    paper sizes, and the peak memory, for each variant in a fresh process.

    Wall-clock times depend on what else the machine runs: the load averages before and after
    are recorded next to them, and process CPU seconds (``*_cpu_s``) are less sensitive to it.
    With ``repeats`` > 1 the variants run in turn that many times (interleaved, so a change in
    load hits every variant alike); each ``*_median`` entry is then the median over the repeats
    of the per-run medians, and ``repeats`` keeps every run.
    """
    runs: dict[str, list[dict]] = {}
    ctx = multiprocessing.get_context("spawn")
    for repeat in range(repeats):
        for variant in variants:
            if variant == "smth_dec":
                continue
            with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
                res = pool.submit(_time_variant, params, variant, epochs, steps).result()
            runs.setdefault(variant, []).append(res)
            log(
                f"timing {variant} (run {repeat + 1} of {repeats}): "
                f"{res['train_epoch_s_median']:.2f} s / training epoch "
                f"({res['train_epoch_cpu_s_median']:.2f} CPU s), step "
                f"{res['train_step_s_median']:.2f} s ({res['train_step_cpu_s_median']:.2f} CPU s), "
                f"forward 96 trials {res['forward_96_trials_s']:.3f} s, peak memory "
                f"{res['peak_memory_gib']:.2f} GiB, load {res['load_average_1_5_15_min']}"
            )
    out = {}
    for variant, results in runs.items():
        if len(results) == 1:
            out[variant] = results[0]
            continue
        out[variant] = {
            **{
                key: float(np.median([r[key] for r in results]))
                for key in results[0]
                if key.endswith("_median") or key.startswith("forward_")
            },
            "peak_memory_gib": max(r["peak_memory_gib"] for r in results),
            "repeats": results,
        }
    ratios, loss_differences = same_run_comparisons(out, runs)
    if loss_differences:
        # largest |difference| of the train / valid losses after the timed epochs, first run
        out["loss_differences_to_baselines"] = loss_differences
        log(f"loss differences to the baselines: {loss_differences}")
    if ratios:
        out["same_run_ratios_cpu_s"] = ratios
        log(f"same-run ratios (CPU seconds per training epoch): {ratios}")
    return out


def _trainer(params: dict, epochs: int | None) -> dict:
    trainer = {**params["lfads"]["trainer"], "enable_progress_bar": False}
    if epochs is not None:
        trainer["max_epochs"] = epochs
    return trainer


def _model_params(params: dict, variant: str, epochs: int | None) -> dict:
    mp = variant_model_params(params["lfads"], variant)
    mp = apply_hyperparameters(mp, params.get("hyperparameters", {}).get(variant, {}))
    if epochs is not None:  # keep the ramps inside a shortened run
        mp["kl_ramp_epochs"] = min(mp["kl_ramp_epochs"], max(1, epochs // 4))
        mp["l2_ramp_epochs"] = min(mp["l2_ramp_epochs"], max(1, epochs // 4))
    return mp


class LatentCurve(L.Callback):
    """Latent R² of the current model every ``every`` epochs (a learning curve).

    ``score(rates) -> [r2_x, r2_y, r2_z]`` reads the posterior-mean rates of all trials. Each
    point is logged, kept in ``points`` and, with ``path``, appended to a JSON-lines file at
    once, so a run stopped early still leaves its curve behind.
    """

    def __init__(self, data, score, every: int, path: Path | None = None, label: str = ""):
        self.data, self.score, self.every, self.path, self.label = data, score, every, path, label
        self.points: list[dict] = []
        self._t0 = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module):
        epoch = trainer.current_epoch + 1
        if epoch % self.every and epoch != trainer.max_epochs:
            return
        r2 = self.score(pl_module.infer(self.data)["rates"])
        recon = trainer.callback_metrics.get("valid/recon")
        point = {
            "epoch": epoch,
            "r2_xyz": r2,
            "valid_recon": None if recon is None else float(recon),
            "elapsed_s": time.perf_counter() - self._t0,
        }
        self.points.append(point)
        log(f"{self.label} epoch {epoch}: R² x/y/z = {np.round(r2, 3).tolist()}")
        if self.path is not None:
            with self.path.open("a") as fh:
                fh.write(json.dumps({"label": self.label, **point}) + "\n")


def _fit(data, variant, params, epochs, callbacks=None):
    t0 = time.perf_counter()
    model, info = train_lfads(
        data,
        variant,
        _model_params(params, variant, epochs),
        _trainer(params, epochs),
        valid_fraction=params["lfads"]["valid_fraction"],
        seed=params["lfads"]["seed"],
        callbacks=callbacks,
    )
    info["model"] = model
    return model.infer(data), time.perf_counter() - t0, info


_PROTOCOL = (
    "latent R² on the LFADS validation trials only (no model trained on them); ridge map "
    "fitted on the training trials, penalty by inner cross-validation over them"
)


def _heldout_trials(n_trials: int, params: dict) -> np.ndarray:
    """The LFADS validation trials (``train_lfads``'s split): no model trains on them, and
    every method is scored on them only."""
    lfads = params["lfads"]
    return split_trials(n_trials, float(lfads["valid_fraction"]), int(lfads["seed"]))[1]


def _r2(features, latents, ev, lag, test_trials):
    res = latent_r2(
        features,
        latents,
        n_splits=ev["n_splits"],
        inner_folds=ev["inner_folds"],
        lag_bins=lag,
        seed=ev["seed"],
        test_trials=test_trials,
    )
    return [float(v) for v in res.r2], res


def lorenz_accuracy(
    params: dict,
    speed: float,
    variants: list[str],
    epochs: int | None,
    eval_every: int | None = None,
    curve_path: Path | None = None,
) -> dict:
    """Lorenz latent R² (x, y, z) of each variant at one Lorenz speed (Hz).

    ``eval_every``: also record the learning curve (R² every that many epochs).
    """
    sim = {**params["lorenz_simulation"], "speed_hz": speed}
    if float(speed) == 4.0:
        sim["n_bins"] = 120  # paper: 1200 ms trials at 4 Hz
    ev = params["lfads_evaluation"]
    t0 = time.perf_counter()
    truth, imaging = lorenz_datasets.simulate_lorenz_imaging(sim)
    events = lorenz_datasets.deconvolve_lorenz_imaging(imaging, sim["deconvolution"])
    log(f"{speed} Hz: simulated and deconvolved in {time.perf_counter() - t0:.1f} s")
    latents, n_bins = truth["latents"], truth["latents"].shape[1]
    fb, lag = int(imaging["frame_bins"]), int(ev["lag_bins"])
    test = _heldout_trials(latents.shape[0], params)
    result = {"protocol": _PROTOCOL, "heldout_trials": int(test.size)}
    for variant in variants:
        if variant == "smth_dec":
            f = smooth_frames(
                events["frame_events"], float(events["frame_rate_hz"]), ev["smoothing_sigma_s"]
            )
            r2, _ = _r2(frames_to_bins(f, fb, n_bins), latents, ev, lag, test)
            result[variant] = {"r2_xyz": r2}
        else:
            data = events["events"] if variant == "radical" else events["frame_counts"]

            def score(rates, variant=variant):
                if variant == "autolfads":
                    rates = frames_to_bins(rates, fb, n_bins)
                return _r2(rates, latents, ev, lag, test)[0]

            curve = None
            if eval_every:
                curve = LatentCurve(data, score, eval_every, curve_path, f"{speed:g} Hz {variant}")
            inferred, secs, info = _fit(data, variant, params, epochs, [curve] if curve else None)
            if not np.array_equal(np.sort(info["valid_idx"]), test):
                raise RuntimeError(f"{variant}: validation trials differ from the scored ones")
            r2 = score(inferred["rates"])
            result[variant] = {
                "r2_xyz": r2,
                "train_s": secs,
                "epochs": len(info["epoch_s"]),
                "train_epoch_s_mean": float(np.mean(info["epoch_s"])),
            }
            if curve is not None:
                result[variant]["curve"] = curve.points
        log(f"{speed} Hz {variant}: R² x/y/z = {np.round(result[variant]['r2_xyz'], 3).tolist()}")
    return result


def calcium_accuracy(
    params: dict, variants: list[str], epochs: int | None, save_inferred: Path | None = None
) -> dict:
    """Latent R² of calcium-LFADS and Gaussian-LFADS on the data of Keeley et al.

    Two read-outs per variant, both by cross-validated ridge regression at lag 0: the
    observation model's rate (log λ for calcium-LFADS, the mean ΔF/F for Gaussian-LFADS) and
    the model's factors (the same quantity for both). ``save_inferred`` keeps the inferred
    rates / factors and the truth in an npz for further analysis.
    """
    data = lorenz_datasets.simulate_calcium_lorenz(params["calcium_lorenz_simulation"])
    ev = params["lfads_evaluation"]
    result, per_trial, saved = {}, {}, {"latents": data["latents"], "dff": data["dff"]}
    test = _heldout_trials(data["dff"].shape[0], params)
    result.update(protocol=_PROTOCOL, heldout_trials=int(test.size))
    for variant in variants:
        inferred, secs, info = _fit(data["dff"], variant, params, epochs)
        feats = inferred["rates"]
        if variant == "calcium_lfads":
            feats = np.log(np.clip(feats, 1e-6, None))
        if not np.array_equal(np.sort(info["valid_idx"]), test):
            raise RuntimeError(f"{variant}: validation trials differ from the scored ones")
        r2, res = _r2(feats, data["latents"], ev, 0, test)
        r2_fac, res_fac = _r2(inferred["factors"], data["latents"], ev, 0, test)
        per_trial[variant] = (res.r2_per_trial, res_fac.r2_per_trial)
        for key in ("rates", "factors"):
            saved[f"{variant}_{key}"] = inferred[key]
        result[variant] = {
            "r2_xyz": r2,
            "r2_mean": float(np.mean(r2)),
            "r2_xyz_factors": r2_fac,
            "r2_mean_factors": float(np.mean(r2_fac)),
            "train_s": secs,
            "epochs": len(info["epoch_s"]),
            "final_metrics": {
                k: v for k, v in info["metrics"].items() if k.startswith(("valid/", "train/"))
            },
        }
        if variant == "calcium_lfads":
            obs = _fitted_calcium_parameters(data, info)
            result[variant]["fitted_vs_true"] = obs
        log(
            f"calcium data {variant}: latent R² mean {np.mean(r2):.3f} from rates (x/y/z "
            f"{np.round(r2, 3).tolist()}), {np.mean(res_fac.r2):.3f} from factors"
        )
    if len(per_trial) == 2:
        for i, what in enumerate(("", "_factors")):
            better = (per_trial["calcium_lfads"][i] > per_trial["gaussian_lfads"][i])[test]
            result[f"calcium_better_trials{what}"] = f"{int(better.sum())}/{better.size}"
    if save_inferred is not None:
        save_inferred.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(save_inferred, **saved)
    return result


def _fitted_calcium_parameters(data: dict, info: dict) -> dict:
    """Correlation of the fitted per-neuron AR coefficient / jump with the true ones."""
    obs = info["model"].observation
    alpha = obs.ar_coefs.detach().numpy()[0]
    jump = np.exp(obs.log_jump.detach().numpy())
    return {
        "alpha_corr": float(np.corrcoef(alpha, data["alpha"])[0, 1]),
        "alpha_mean_abs_err": float(np.mean(np.abs(alpha - data["alpha"]))),
        "jump_corr": float(np.corrcoef(jump, data["jump"])[0, 1]),
        "jump_mean_abs_err": float(np.mean(np.abs(jump - data["jump"]))),
    }


def summarize_seeds(results: dict) -> dict:
    """Mean ± s.d. over the ``calcium_lorenz_seedS`` entries of each variant's held-out latent
    R² (from rates and from factors) and the held-out trials the calcium model wins."""
    entries = {
        int(k.rsplit("seed", 1)[1]): v
        for k, v in results.items()
        if k.startswith("calcium_lorenz_seed") and k.rsplit("seed", 1)[1].isdigit()
    }
    if not entries:
        raise SystemExit("no calcium_lorenz_seedS entry to summarise (run with --seed S first)")
    seeds = sorted(entries)
    out: dict = {"seeds": seeds, "protocol": entries[seeds[0]].get("protocol")}
    for variant in CALCIUM_VARIANTS:
        for key in ("r2_mean", "r2_mean_factors"):
            values = [entries[s][variant][key] for s in seeds if variant in entries[s]]
            if values:
                out.setdefault(variant, {})[key] = {
                    "per_seed": values,
                    "mean": float(np.mean(values)),
                    "sd": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
                }
    out["calcium_better_trials"] = [entries[s].get("calcium_better_trials") for s in seeds]
    return out


def plot_curves(results: dict, path: Path) -> Path | None:
    """Figure of the learning curves in ``results``: latent R² (x, y, z) against training epoch.

    One panel per Lorenz dimension; colour = Lorenz speed, solid = RADICaL, dashed = AutoLFADS,
    thick = a run with hyperparameters set from the command line (e.g. a search's best member),
    thin = the configuration's own; smoothed
    deconvolved events (no training) as dotted horizontal lines. Returns the path (``None``
    when no entry has a curve).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs, flat = [], {}
    for key, entry in results.items():
        if not (key.startswith("lorenz_") and isinstance(entry, dict)):
            continue
        head, _, tag = key.removeprefix("lorenz_").partition("_")
        if not head.endswith("hz"):
            continue
        speed = float(head.removesuffix("hz"))
        for variant, res in entry.items():
            if not isinstance(res, dict):
                continue
            if res.get("curve"):
                tuned = bool(entry.get("hyperparameters") or res.get("hyperparameters"))
                runs.append((speed, variant, tag, tuned, res["curve"]))
            elif variant == "smth_dec" and "r2_xyz" in res:
                flat[speed] = res["r2_xyz"]
    if not runs:
        return None
    speeds = sorted({r[0] for r in runs} | set(flat))
    colour = {v: plt.cm.viridis(i / max(len(speeds) - 1, 1) * 0.85) for i, v in enumerate(speeds)}
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), sharey=True)
    for speed, variant, tag, tuned, curve in sorted(runs, key=lambda r: (r[0], r[2], r[1])):
        epochs = [p["epoch"] for p in curve]
        label = f"{speed:g} Hz {variant}" + (f" ({tag.replace('_', ' ')})" if tag else "")
        style = {
            "color": colour[speed],
            "ls": "-" if variant == "radical" else "--",
            "lw": 2.2 if tuned else 1.0,
            "marker": "o" if tuned else ".",
            "ms": 4,
        }
        for d, ax in enumerate(axes):
            ax.plot(epochs, [p["r2_xyz"][d] for p in curve], label=label, **style)
    for speed, r2 in flat.items():
        for d, ax in enumerate(axes):
            ax.axhline(
                r2[d],
                ls=":",
                lw=1.2,
                color=colour[speed],
                label=f"{speed:g} Hz smoothed events" if d == 0 else None,
            )
    for d, ax in enumerate(axes):
        ax.set(title=f"Lorenz {'xyz'[d]}", xlabel="training epoch")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("latent R² (held-out ridge)")
    fig.legend(
        *axes[0].get_legend_handles_labels(),
        fontsize=8,
        loc="center left",
        bbox_to_anchor=(0.8, 0.5),
        frameon=False,
    )
    fig.tight_layout(rect=(0, 0, 0.8, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _hyperparameters(args, variants: list[str]) -> dict[str, dict[str, float]]:
    """Per-variant searched hyperparameters from ``--hyperparameters-from`` and
    ``--hyperparameters`` (the latter wins)."""
    variants = [v for v in variants if v != "smth_dec"]  # no network to configure
    out: dict[str, dict[str, float]] = {v: {} for v in variants}
    if args.hyperparameters_from is not None:
        found = json.loads(args.hyperparameters_from.read_text())
        for v in variants:
            source = args.hyperparameters_variant or v
            best = found.get(source, {}).get("pbt", {}).get("best", {}).get("hyperparameters")
            if best:
                out[v].update(
                    {k: float(x) for k, x in best.items() if k != "sig_prior" or v == "radical"}
                )
    for item in args.hyperparameters:
        name, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--hyperparameters takes KEY=VALUE; got {item!r}")
        if name not in (*MODEL_ARGUMENTS, *DERIVED):
            raise SystemExit(
                f"--hyperparameters: unknown name {name!r}; known: {[*MODEL_ARGUMENTS, *DERIVED]}"
            )
        for v in variants:
            out[v][name] = float(value)
    return {v: h for v, h in out.items() if h}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--speeds",
        type=float,
        nargs="*",
        default=[4.0, 10.0, 15.0],
        help="Lorenz speeds (Hz) for the RADICaL comparison; none skips it",
    )
    ap.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="training epochs (default: the paper configuration's max_epochs)",
    )
    ap.add_argument("--variants", nargs="+", default=[*LORENZ_VARIANTS, *CALCIUM_VARIANTS])
    ap.add_argument("--timing-only", action="store_true", help="only the speed measurement")
    ap.add_argument("--timing-epochs", type=int, default=3)
    ap.add_argument("--timing-steps", type=int, default=3, help="single training steps timed")
    ap.add_argument(
        "--timing-repeats", type=int, default=1, help="runs of every timing variant, interleaved"
    )
    ap.add_argument("--skip-timing", action="store_true")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument(
        "--float32-matmul-precision",
        choices=PRECISIONS,
        default=None,
        help="trainer parameter float32_matmul_precision of the trained variants (medium: "
        "bfloat16 matrix products where the CPU has them)",
    )
    ap.add_argument(
        "--measurement-noise-sd",
        type=float,
        default=None,
        help="override calcium_lorenz_simulation.measurement_noise_sd (ΔF/F units) for the "
        "calcium-LFADS vs Gaussian-LFADS comparison",
    )
    ap.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="trials per training batch (default: the paper configuration's 128)",
    )
    ap.add_argument(
        "--log-dir",
        default=None,
        help="folder for the training curves (DVCLive), replacing lfads.trainer.logger",
    )
    ap.add_argument(
        "--eval-every",
        type=int,
        default=None,
        help="Lorenz runs: latent R² every this many epochs (learning curve in the results, "
        "and appended to OUT with suffix .curve.jsonl as it runs)",
    )
    ap.add_argument(
        "--hyperparameters",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="searchable LFADS hyperparameters (lr, dropout, cd_rate, kl_ic_scale, kl_co_scale, "
        "l2_gen_scale, l2_con_scale, l2_ic_enc_scale, sig_prior) for every trained variant",
    )
    ap.add_argument(
        "--hyperparameters-from",
        type=Path,
        default=None,
        metavar="PBT_JSON",
        help="use the best member's hyperparameters of a population-based search "
        "(benchmarks/lfads_pbt.py results) for the variants it searched",
    )
    ap.add_argument(
        "--hyperparameters-variant",
        default=None,
        help="with --hyperparameters-from: take this variant's search result for every trained "
        "variant (the ZIG scale prior only for radical), e.g. radical",
    )
    ap.add_argument(
        "--seed",
        type=int,
        default=None,
        help="another draw: LFADS initialisation and trial split seed S, simulation seeds S "
        "(Lorenz data) and S + 1 (calcium data; the configuration's draw is S = 0); results "
        "under KEY_seedS",
    )
    ap.add_argument(
        "--tag",
        default="",
        help="suffix of the results keys (lorenz_10hz_TAG), to keep runs with other settings apart",
    )
    ap.add_argument(
        "--summarize-seeds",
        action="store_true",
        help="only summarise the calcium_lorenz_seedS entries found in OUT (mean ± s.d. over "
        "seeds of the held-out latent R² of each variant) into calcium_lorenz_seeds and exit",
    )
    ap.add_argument(
        "--plot-curves",
        type=Path,
        nargs="?",
        const=RESULTS.with_name("latent_lorenz_curves.png"),
        default=None,
        help="only draw the learning curves found in OUT into this PNG (default "
        "benchmarks/results/latent_lorenz/latent_lorenz_curves.png) and exit",
    )
    ap.add_argument(
        "--save-inferred",
        type=Path,
        default=None,
        help="npz file for the calcium-data inferred rates / factors and the true latents",
    )
    args = ap.parse_args(argv)
    if args.summarize_seeds:
        results = json.loads(args.out.read_text()) if args.out.exists() else {}
        results["calcium_lorenz_seeds"] = summarize_seeds(results)
        results["calcium_lorenz_seeds"]["provenance"] = run_record(
            command_line(__file__, sys.argv[1:] if argv is None else argv), cwd=ROOT
        )
        args.out.write_text(json.dumps(results, indent=2))
        log(f"summary of {results['calcium_lorenz_seeds']['seeds']} in {args.out}")
        return
    if args.plot_curves is not None:
        results = json.loads(args.out.read_text()) if args.out.exists() else {}
        drawn = plot_curves(results, args.plot_curves)
        log(f"learning curves in {drawn}" if drawn else f"no learning curve in {args.out}")
        return
    torch.set_num_threads(1)
    params = paper_parameters()
    if args.log_dir is not None:
        params["lfads"]["trainer"]["logger"] = args.log_dir
    if args.batch_size is not None:
        params["lfads"]["trainer"]["batch_size"] = args.batch_size
    if args.float32_matmul_precision is not None:
        params["lfads"]["trainer"]["float32_matmul_precision"] = args.float32_matmul_precision
    if args.measurement_noise_sd is not None:
        params["calcium_lorenz_simulation"]["measurement_noise_sd"] = args.measurement_noise_sd
    params["hyperparameters"] = _hyperparameters(args, list(args.variants))
    seed_suffix = ""
    if args.seed is not None:
        params["lfads"]["seed"] = args.seed
        params["lorenz_simulation"]["seed"] = args.seed
        params["calcium_lorenz_simulation"]["seed"] = args.seed + 1
        seed_suffix = f"_seed{args.seed}"
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    # each entry records the run that wrote it: command, commit, date, seeds, threads, machine
    prov = run_record(
        command_line(__file__, sys.argv[1:] if argv is None else argv),
        seeds={
            "lfads": int(params["lfads"]["seed"]),
            "lorenz_simulation": int(params["lorenz_simulation"]["seed"]),
            "calcium_lorenz_simulation": int(params["calcium_lorenz_simulation"]["seed"]),
        },
        threads=1,
        cwd=ROOT,
    )
    env = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
    }
    if not args.skip_timing:
        log("timing at the RADICaL paper sizes")
        previous = results.get("timing", {}).get("variants", {})
        results["timing"] = {
            "env": env,
            "provenance": prov,
            "variants": {
                **previous,
                **timing(
                    params,
                    list(args.variants),
                    args.timing_epochs,
                    args.timing_steps,
                    args.timing_repeats,
                ),
            },
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2))
    if args.timing_only:
        return
    lorenz_vars = [v for v in args.variants if v in LORENZ_VARIANTS]
    for speed in args.speeds or []:
        if lorenz_vars:
            key = f"lorenz_{speed:g}hz" + (f"_{args.tag}" if args.tag else "") + seed_suffix
            results[key] = {
                "provenance": prov,
                "epochs": args.epochs,
                "batch_size": params["lfads"]["trainer"]["batch_size"],
                "hyperparameters": params["hyperparameters"],
                **lorenz_accuracy(
                    params,
                    speed,
                    lorenz_vars,
                    args.epochs,
                    args.eval_every,
                    args.out.with_suffix(".curve.jsonl") if args.eval_every else None,
                ),
            }
            args.out.write_text(json.dumps(results, indent=2))
    calcium_vars = [v for v in args.variants if v in CALCIUM_VARIANTS]
    if calcium_vars:
        key = "calcium_lorenz"
        if args.measurement_noise_sd is not None:
            key = f"calcium_lorenz_noise_{args.measurement_noise_sd:g}"
        key += seed_suffix
        results[key] = {
            "provenance": prov,
            "epochs": args.epochs,
            **calcium_accuracy(params, calcium_vars, args.epochs, args.save_inferred),
        }
        args.out.write_text(json.dumps(results, indent=2))
    log(f"peak memory {peak_memory_gib():.2f} GiB; results in {args.out}")


if __name__ == "__main__":
    main()
