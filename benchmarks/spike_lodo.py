"""Leave-one-dataset-out (LODO) benchmark of spike inference on a ground-truth database.

For every dataset of a class (excitatory, or inhibitory with --inhibitory) that takes its
turn as the test set, a model is trained on all the other datasets of the class and applied to
every neuron of the held-out one; metrics are computed per neuron at the evaluation frame rate.

    python benchmarks/spike_lodo.py --ground-truth ../shared/ground_truth --model ens2
    python benchmarks/spike_lodo.py --ground-truth ../shared/ground_truth --model cascade
    python benchmarks/spike_lodo.py --ground-truth ../shared/ground_truth --model oasis

Prints per-dataset and overall medians and writes
``benchmarks/results/spike_lodo/spike_lodo_<tag>.csv`` (per-neuron metrics) and ``.json``
(medians with 95 % bootstrap CIs, settings, timings).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import logging
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from calcium_dynamics.io import GroundTruthDataset
from calcium_dynamics.io.ground_truth import validate_recordings
from calcium_dynamics.metrics.bootstrap import hierarchical_median_ci
from calcium_dynamics.metrics.spikes import correlation, median_with_ci, spike_metrics
from calcium_dynamics.models.spike_inference import predict_model_rate
from calcium_dynamics.models.spike_training import train_cascade_zoo, train_ens2
from calcium_dynamics.models.spikes.lodo import lodo_folds
from calcium_dynamics.models.spikes.training_tables import training_table
from calcium_dynamics.provenance import command_line, run_record
from calcium_dynamics.signal import noise_level_nu, smooth_spike_counts
from calcium_dynamics.signal.deconvolution import deconvolve_oasis
from calcium_dynamics.signal.spike_events import greedy_spike_events, sampled_spike_events

METRICS = ["corr", "error", "bias", "vrd", "vpd", "er"]
TRIM_S = 0.5  # s cut from each end of every recording (load_table)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--ground-truth", type=Path, help="database folder")
    p.add_argument("--model", choices=["ens2", "cascade", "oasis"])
    p.add_argument(
        "--merge",
        nargs="+",
        metavar="TAG",
        help="combine the results of runs that tested different datasets (e.g. run "
        "in parallel) into one, written under --tag",
    )
    p.add_argument(
        "--resummarize",
        nargs="+",
        metavar="TAG",
        help="recompute the summaries (medians, neuron-level and hierarchical CIs) of finished "
        "runs from their per-neuron CSV files",
    )
    p.add_argument("--frame-rate", type=float, default=60.0, help="evaluation rate (Hz)")
    p.add_argument("--sigma-ms", type=float, default=25.0, help="target kernel s.d. (ms)")
    p.add_argument(
        "--test-noise-level",
        type=float,
        default=None,
        metavar="NU",
        help="bring every test recording to this standardized noise level ν (%%·Hz^-½) with "
        "one noise-matched replica before predicting, and leave out recordings already "
        "noisier (the CASCADE protocol: --frame-rate 7.5 --sigma-ms 200 --test-noise-level 2); "
        "training data are not changed",
    )
    p.add_argument(
        "--test-datasets",
        nargs="*",
        default=None,
        help="datasets that take their turn as the test set (default: all); all "
        "others of the class still train",
    )
    p.add_argument("--inhibitory", action="store_true", help="the inhibitory class instead")
    p.add_argument(
        "--protocol",
        choices=["all", "ens2"],
        default="all",
        help="all: every dataset of the class and every usable recording; ens2: the data of "
        "the published ENS² benchmark (datasets from DS02 on, as in its paper, and "
        "recordings without a spike left out of training and testing, as in its code)",
    )
    p.add_argument(
        "--exclude-datasets",
        nargs="*",
        default=[],
        metavar="PREFIX",
        help="leave out datasets whose names start with these prefixes (e.g. DS01)",
    )
    p.add_argument(
        "--drop-silent",
        action="store_true",
        help="leave out recordings without a spike in their trimmed window",
    )
    p.add_argument(
        "--also-single",
        action="store_true",
        help="with --ens2-members > 1, also evaluate the first network alone "
        "(written under TAG_single)",
    )
    p.add_argument(
        "--native-rate",
        action="store_true",
        help="OASIS: deconvolve each recording at its own frame rate and put the events on the "
        "evaluation grid (instead of deconvolving the Fourier-resampled trace); also records "
        "which CASCADE noise level each recording would be routed to with ν measured at its "
        "own rate against ν of the resampled trace",
    )
    p.add_argument(
        "--native-events",
        choices=["frame", "point"],
        default="frame",
        help="with --native-rate: spread each OASIS event over its native frame (default) or "
        "put it at the frame's centre",
    )
    p.add_argument(
        "--route-native-nu",
        action="store_true",
        help="CASCADE: choose each test recording's noise level (and the fold's trained levels) "
        "by ν of the recording at its own frame rate instead of ν of the resampled trace",
    )
    p.add_argument("--steps", type=int, default=None, help="training steps per fold")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--base-channels", type=int, default=9, help="ENS² U-Net width")
    p.add_argument(
        "--ens2-members",
        type=int,
        default=1,
        help="ENS² variant: average this many networks trained with different seeds",
    )
    p.add_argument(
        "--ens2-lr-schedule",
        choices=["constant", "onecycle"],
        default="constant",
        help="ENS² variant: one-cycle learning rate (warm-up, cosine decay) instead of constant",
    )
    p.add_argument("--ens2-max-lr", type=float, default=5e-3, help="peak of the one-cycle rate")
    p.add_argument(
        "--ens2-pad-edges",
        action="store_true",
        help="ENS²: also train on windows that overhang a recording's ends, zero-padded as "
        "at inference (without it, edge samples are only ever predicted from padding the "
        "network never saw in training)",
    )
    p.add_argument(
        "--patience",
        type=int,
        default=2,
        help="early stopping after this many validation checks (every 250 steps) without "
        "improvement; 0 trains every step (right for the one-cycle schedule, whose rate "
        "only reaches 0 at the last step)",
    )
    p.add_argument(
        "--train-loss-patience",
        type=int,
        default=None,
        metavar="STEPS",
        help="ENS²: stop when the training batch loss has not reached a new low for this many "
        "steps (the published code's rule, 500 there; combine with --patience 0 "
        "--validation-fraction 0)",
    )
    p.add_argument(
        "--validation-fraction",
        type=float,
        default=0.1,
        help="share of training neurons held out for early stopping (0: train on all; "
        "use with --patience 0)",
    )
    p.add_argument("--members", type=int, default=2, help="CASCADE ensemble size")
    p.add_argument(
        "--causal",
        action="store_true",
        help="CASCADE: windows end at the predicted frame (the closed-loop zoo)",
    )
    p.add_argument(
        "--causal-target",
        choices=["gaussian", "causal"],
        default="gaussian",
        help="with --causal: train on the symmetric Gaussian target (default) or on spikes "
        "smoothed with the causal kernel (the shipped causal zoos); tests always score against "
        "the Gaussian target",
    )
    p.add_argument(
        "--save-members",
        type=Path,
        default=None,
        metavar="DIR",
        help="CASCADE, ENS²: write every test recording's per-member rates and target, one "
        "FOLD.npz per fold (the input of benchmarks/spike_intervals.py)",
    )
    p.add_argument("--max-noise-replicas", type=int, default=2, help="CASCADE noise replicas")
    p.add_argument("--stride", type=int, default=1, help="ENS² window stride at inference")
    p.add_argument(
        "--extra-strides",
        type=int,
        nargs="+",
        default=[],
        metavar="S",
        help="ENS²: also score each fold's held-out neurons at these strides (same trained "
        "networks; per-neuron Corr columns corr_strideS and a paired summary against --stride)",
    )
    p.add_argument(
        "--precision",
        default="fp32",
        choices=["fp32", "bf16", "auto"],
        help="ENS² arithmetic at inference",
    )
    p.add_argument(
        "--extra-precisions",
        nargs="+",
        default=[],
        choices=["fp32", "bf16"],
        metavar="P",
        help="ENS²: also score each fold's held-out neurons in these arithmetics at --stride "
        "(same trained networks; per-neuron Corr columns corr_P and a paired summary against "
        "--precision) and, with --extra-strides, at each of those strides (corr_strideS_P)",
    )
    p.add_argument(
        "--train-precision",
        default="32-true",
        help="Lightning training precision of ENS² and CASCADE (e.g. bf16-mixed: bfloat16 "
        "convolutions, float32 weights and loss)",
    )
    p.add_argument(
        "--resample-tolerance",
        type=float,
        default=0.05,
        help="recordings within this relative distance of --frame-rate keep their own rate "
        "(15 Hz needs 0.02: datasets at 14.8 and 15.6 Hz lie on both sides)",
    )
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tag", default=None, help="results file name suffix (default: model)")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "spike_lodo")
    args = p.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    return args


def load_recordings(args) -> pd.DataFrame:
    raw = GroundTruthDataset(str(args.ground_truth)).load()
    recordings, rejected = validate_recordings(raw)
    print(f"{len(recordings)} recordings usable, {len(rejected)} rejected", flush=True)
    return recordings


def load_table(args, recordings: pd.DataFrame, noise_level: float | None = None) -> pd.DataFrame:
    """One row per recording at the evaluation rate (see ``training_table``); with
    ``noise_level``, each recording is replaced by one replica noise-matched to that ν and
    recordings already noisier are left out."""
    table = training_table(
        recordings,
        frame_rate_hz=args.frame_rate,
        sigma_s=args.sigma_ms / 1000,
        trim_s=TRIM_S,
        min_duration_s=2.0,
        target_noise_level_nu=noise_level,
        max_noise_replicas=1,
        seed=args.seed,
        resample_tolerance=args.resample_tolerance,
    )
    keys = ["dataset", "neuron", "recording"]
    # the ν CASCADE routes on: of the trace it predicts from, or of the recording at its own
    # frame rate (--route-native-nu; ν of a Fourier-upsampled trace reads far lower)
    if getattr(args, "route_native_nu", False) and noise_level is None:
        native = recordings.set_index(keys)
        table["routing_nu"] = [
            noise_level_nu(native.loc[k].dff, native.loc[k].frame_rate_hz)
            for k in zip(table.dataset, table.neuron, table.recording)
        ]
    else:
        table["routing_nu"] = [noise_level_nu(d, f) for d, f in zip(table.dff, table.frame_rate_hz)]
    spikes = recordings.set_index(keys)["spike_times_s"]
    table["spike_times_s"] = [
        np.asarray(spikes.loc[(d, n, r)])
        for d, n, r in zip(table.dataset, table.neuron, table.recording)
    ]
    return table


def select_protocol(table: pd.DataFrame, args) -> pd.DataFrame:
    """The recordings the chosen protocol evaluates (see --protocol)."""
    prefixes = list(args.exclude_datasets)
    drop_silent = args.drop_silent
    if args.protocol == "ens2":
        prefixes.append("DS01")
        drop_silent = True
    keep = np.ones(len(table), bool)
    if prefixes:
        keep &= ~table.dataset.str.startswith(tuple(prefixes)).to_numpy()
        print(f"excluded datasets starting with {sorted(set(prefixes))}", flush=True)
    if drop_silent:
        silent = np.array([len(events_in_window(r)) == 0 for r in table.itertuples()])
        print(f"left out {int((silent & keep).sum())} recording(s) without a spike", flush=True)
        keep &= ~silent
    return table[keep]


def events_in_window(row) -> np.ndarray:
    """True spike times (s, from the table row's first frame) inside the trimmed trace."""
    t = np.asarray(row.spike_times_s) - row.t0_s
    half = 0.5 / row.frame_rate_hz
    return t[(t >= -half) & (t < len(row.dff) / row.frame_rate_hz - half)]


def neuron_rows(test: pd.DataFrame, predict, events_of, model: str, fold_info) -> list[dict]:
    rows = []
    for (dataset, neuron), grp in test.groupby(["dataset", "neuron"], sort=True):
        gts, pds, gt_s, pd_s, offset = [], [], [], [], 0.0
        for row in grp.itertuples(index=False):
            rate = predict(row)
            fr = row.frame_rate_hz
            gts.append(row.target_rate)
            pds.append(rate)
            gt_s.append(events_in_window(row) + offset)
            pd_s.append(events_of(rate, fr) + offset)
            offset += len(rate) / fr + 10.0
        fr = float(grp.frame_rate_hz.median())
        m = spike_metrics(
            np.concatenate(gts), np.concatenate(pds), fr, np.concatenate(gt_s), np.concatenate(pd_s)
        )
        rows.append(
            {
                "model": model,
                "dataset": dataset,
                "neuron": neuron,
                "n_spikes": int(sum(len(s) for s in gt_s)),
                "noise_level_nu": float(grp.noise_level_nu.median()),
                **m,
                **fold_info,
            }
        )
    return rows


def run_fold_ens2(args, train, test, sigma_s):
    params = {
        "sigma_s": sigma_s,
        "seed": args.seed,
        "n_members": args.ens2_members,
        "model": {
            "window": 96,
            "base_channels": args.base_channels,
            "learning_rate": 1e-3,
            "lr_schedule": args.ens2_lr_schedule,
            "max_learning_rate": args.ens2_max_lr,
        },
        "data": {
            "batch_size": args.batch_size or 1024,
            "validation_fraction": args.validation_fraction,
            "pad_edges": args.ens2_pad_edges,
        },
        "trainer": {
            "max_steps": args.steps or 5000,
            "val_check_interval": 250,
            "enable_progress_bar": False,
            "num_threads": args.threads,
            "precision": args.train_precision,
        },
        "early_stopping_patience": args.patience or None,
        "train_loss_patience": args.train_loss_patience,
    }
    model = train_ens2(train, params)  # member m: seed + 1000·m
    training = model.metadata["training"]
    return model, {"train_seconds": training["train_seconds"], "steps": training["steps"]}


def run_fold_cascade(args, train, test, sigma_s):
    levels = sorted({float(np.clip(np.round(nu), 1, 9)) for nu in test.routing_nu})
    params = {
        "sigma_s": sigma_s,
        "seed": args.seed,
        "noise_levels": levels,
        "n_members": args.members,
        "max_noise_replicas": args.max_noise_replicas,
        "causal": bool(args.causal),
        "causal_target": args.causal_target,
        "model": {"learning_rate": 0.05},
        "data": {
            "batch_size": args.batch_size or 1024,
            "validation_fraction": args.validation_fraction,
            "balanced": True,
            "max_samples": 5_000_000,
        },
        "trainer": {
            "max_steps": args.steps or 3000,
            "val_check_interval": 250,
            "enable_progress_bar": False,
            "num_threads": args.threads,
            "precision": args.train_precision,
        },
        "early_stopping_patience": args.patience or None,
    }
    model = train_cascade_zoo(train, params)
    seconds = sum(v["train_seconds"] for v in model.metadata["training"].values())
    return model, {"train_seconds": seconds, "noise_levels": levels}


def save_member_rates(folder: Path, fold: str, model, test: pd.DataFrame) -> Path:
    """Each test recording's per-member rates (spikes per frame, (n_members, n_frames)) and
    targets, concatenated, with the recording boundaries, as ``folder/FOLD.npz``.

    ``target`` is the rate the model estimates (the causal-kernel rate for causal zoos trained
    on it, else the symmetric Gaussian one): what its intervals must cover. ``target_symmetric``
    is always the Gaussian target (Corr and lag are measured against it).
    """
    causal_target = model.causal and model.config.get("target_kernel") == "causal"
    members, targets, symmetric, bounds, keys, nus = [], [], [], [0], [], []
    for row in test.itertuples(index=False):
        nu = row.routing_nu
        members.append(predict_model_rate(model, row.dff, nu, members=True))
        own = row.target_rate_causal if causal_target else row.target_rate
        targets.append(np.asarray(own, np.float32))
        symmetric.append(np.asarray(row.target_rate, np.float32))
        bounds.append(bounds[-1] + len(row.dff))
        keys.append(f"{row.dataset}|{row.neuron}|{row.recording}")
        nus.append(nu)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{fold}.npz"
    np.savez_compressed(
        path,
        members=np.concatenate(members, axis=1).astype(np.float32),
        target=np.concatenate(targets),
        target_symmetric=np.concatenate(symmetric),
        target_kernel="causal" if causal_target else "gaussian",
        bounds=np.asarray(bounds),
        keys=np.asarray(keys),
        noise_level_nu=np.asarray(nus),
        frame_rate_hz=float(test.frame_rate_hz.median()),
        causal=bool(model.causal),
    )
    return path


def native_oasis_rates(
    table: pd.DataFrame, recordings: pd.DataFrame, sigma_s: float, events: str = "frame"
) -> list[np.ndarray]:
    """OASIS run on each recording at its own frame rate, its events put on the evaluation
    frames of the table's row (the grid the true spikes use, ``rebin_spike_times``), smoothed
    with the target kernel and trimmed like the target. Spikes per evaluation frame, one array
    per row of ``table``.

    ``events``: ``"frame"`` spreads each event's mass evenly over its native frame (OASIS only
    says in which frame the spikes fell); ``"point"`` puts it at the frame's centre.
    """
    native = recordings.set_index(["dataset", "neuron", "recording"])
    cache: dict = {}
    out = []
    for row in table.itertuples(index=False):
        key = (row.dataset, row.neuron, row.recording)
        rec = native.loc[key]
        if key not in cache:
            try:
                ev = deconvolve_oasis(rec.dff, rec.frame_rate_hz, penalty=1, optimize_g=5).events
            except ValueError:
                ev = np.zeros(len(rec.dff))
            cache[key] = np.nan_to_num(ev)
        ev = cache[key]
        fr = row.frame_rate_hz
        trim = round(TRIM_S * fr)
        n_full = len(row.dff) + 2 * trim
        edges = row.t0_s - trim / fr + (np.arange(n_full + 1) - 0.5) / fr
        if events == "point":
            times = rec.t0_s + np.arange(ev.size) / rec.frame_rate_hz
            counts, _ = np.histogram(times, bins=edges, weights=ev)
        else:
            # cumulative event mass, linear within each native frame
            bounds = rec.t0_s + (np.arange(ev.size + 1) - 0.5) / rec.frame_rate_hz
            cum = np.concatenate([[0.0], np.cumsum(ev)])
            counts = np.diff(np.interp(edges, bounds, cum))
        rate = smooth_spike_counts(counts.astype(np.float32), fr, sigma_s)
        out.append(rate[trim : trim + len(row.dff)])
    return out


def routing_check(table: pd.DataFrame, recordings: pd.DataFrame) -> dict:
    """CASCADE's routed noise level (ν rounded, clipped to 1 … 9, as ``run_fold_cascade``
    trains) with ν of the evaluation-rate trace against ν of the recording at its own rate."""
    native = recordings.set_index(["dataset", "neuron", "recording"])
    rows = []
    for row in table.itertuples(index=False):
        rec = native.loc[(row.dataset, row.neuron, row.recording)]
        nu_native = noise_level_nu(rec.dff, rec.frame_rate_hz)
        rows.append((row.dataset, float(row.noise_level_nu), nu_native))
    df = pd.DataFrame(rows, columns=["dataset", "nu_resampled", "nu_native"])

    def level(nu):
        return np.clip(np.round(nu), 1, 9)

    same = level(df.nu_resampled) == level(df.nu_native)
    per_ds = df.assign(same=same).groupby("dataset")
    return {
        "recordings": len(df),
        "same_level": int(same.sum()),
        "datasets": {
            ds: {
                "nu_resampled_median": float(g.nu_resampled.median()),
                "nu_native_median": float(g.nu_native.median()),
                "same_level": int(g.same.sum()),
                "recordings": len(g),
            }
            for ds, g in per_ds
        },
    }


def oasis_rates(table: pd.DataFrame, sigma_s: float) -> list[np.ndarray]:
    """OASIS (L1, AR(1), parameters fitted per trace) events smoothed with the target kernel."""
    out = []
    for row in table.itertuples(index=False):
        try:
            ev = deconvolve_oasis(row.dff, row.frame_rate_hz, penalty=1, optimize_g=5).events
        except ValueError:
            ev = np.zeros(len(row.dff))
        ev = np.nan_to_num(ev)
        out.append(smooth_spike_counts(ev, row.frame_rate_hz, sigma_s))
    return out


def summarize(per_neuron: pd.DataFrame) -> dict:
    summary = {"overall": {}, "datasets": {}}
    for metric in METRICS:
        values = per_neuron[metric].to_numpy(float)
        med, lo, hi = median_with_ci(values)
        _, h_lo, h_hi = hierarchical_median_ci(values, per_neuron["dataset"].to_numpy())
        summary["overall"][metric] = {
            "median": med,
            "ci95": [lo, hi],  # neurons resampled
            "ci95_hierarchical": [h_lo, h_hi],  # datasets, then neurons within them
        }
    for ds, grp in per_neuron.groupby("dataset"):
        summary["datasets"][ds] = {m: float(np.nanmedian(grp[m])) for m in METRICS}
        summary["datasets"][ds]["n_neurons"] = len(grp)
    summary["n_neurons"] = len(per_neuron)
    return summary


def corr_rows_by_setting(test: pd.DataFrame, model, settings: dict[str, tuple[int, str]]) -> dict:
    """Per neuron ((dataset, neuron) → {label: Corr}) of the held-out ``test`` recordings at
    each inference setting ``label → (stride, precision)``, the neuron's recordings
    concatenated as in :func:`neuron_rows`."""
    out: dict = {}
    for (dataset, neuron), grp in test.groupby(["dataset", "neuron"], sort=True):
        gts = np.concatenate([row.target_rate for row in grp.itertuples(index=False)])
        out[(dataset, neuron)] = {}
        for label, (stride, precision) in settings.items():
            pds = [
                predict_model_rate(
                    model,
                    row.dff,
                    row.routing_nu,
                    stride=stride,
                    precision=precision,
                )
                for row in grp.itertuples(index=False)
            ]
            out[(dataset, neuron)][label] = correlation(gts, np.concatenate(pds))
    return out


def paired_setting_summary(per_neuron: pd.DataFrame, columns: dict[str, str], base: str) -> dict:
    """Median Corr of each per-neuron column (``label → column``) and the median paired change
    against the run's own setting (column ``corr``, named ``base`` in the keys), each with a
    hierarchical 95 % interval (datasets, then neurons within them)."""
    groups = per_neuron["dataset"].to_numpy()
    out = {}
    for label, column in columns.items():
        corr = per_neuron[column].to_numpy(float)
        diff = corr - per_neuron["corr"].to_numpy(float)
        med, lo, hi = hierarchical_median_ci(corr, groups)
        dmed, dlo, dhi = hierarchical_median_ci(diff, groups)
        out[label] = {
            "corr_median": med,
            "corr_ci95_hierarchical": [lo, hi],
            f"change_vs_{base}_median": dmed,
            f"change_vs_{base}_ci95_hierarchical": [dlo, dhi],
        }
    return out


def extra_settings(settings: dict) -> dict[str, tuple[str, dict[str, tuple[str, int, str]]]]:
    """An ENS² run's extra inference settings (``settings``: the run's arguments), by summary
    group: ``group → (base, {key: (column label, stride, precision)})``. Groups: ``strides``
    (each extra stride, the run's arithmetic), ``precisions`` (each extra arithmetic, the run's
    stride) and ``strides_and_precisions`` (each pair); ``base`` names the run's own setting,
    the per-neuron column ``corr``, and the other columns are ``corr_<label>``."""
    stride, precision = settings.get("stride", 1), settings.get("precision", "fp32")
    strides = settings.get("extra_strides") or []
    precisions = settings.get("extra_precisions") or []
    pairs = {f"stride{s}_{p}": (f"stride{s}_{p}", s, p) for s in strides for p in precisions}
    groups = {
        "strides": (f"stride{stride}", {str(s): (f"stride{s}", s, precision) for s in strides}),
        "precisions": (precision, {p: (p, stride, p) for p in precisions}),
        "strides_and_precisions": (f"stride{stride}_{precision}", pairs),
    }
    return {group: v for group, v in groups.items() if v[1]}


def setting_summaries(per_neuron: pd.DataFrame, settings: dict) -> dict:
    """The paired summaries of every group of :func:`extra_settings`, each against the run's
    own stride and arithmetic (column ``corr``); printed as well."""
    out = {}
    for group, (base, keyed) in extra_settings(settings).items():
        columns = {key: f"corr_{label}" for key, (label, _, _) in keyed.items()}
        out[group] = paired_setting_summary(per_neuron, columns, base)
        for key, v in out[group].items():
            print(
                f"{key}: median Corr {v['corr_median']:.4f}, change against {base} "
                f"{v[f'change_vs_{base}_median']:+.4f}",
                flush=True,
            )
    return out


def merge_runs(args) -> int:
    """Concatenate per-neuron results of several runs and summarise them as one."""
    frames, folds, settings = [], {}, []
    for tag in args.merge:
        frames.append(pd.read_csv(args.out / f"spike_lodo_{tag}.csv"))
        run = json.loads((args.out / f"spike_lodo_{tag}.json").read_text())
        folds.update(run["folds"])
        settings.append(run["settings"])
    per_neuron = pd.concat(frames, ignore_index=True)
    if per_neuron.duplicated(["dataset", "neuron"]).any():
        print("the runs tested some neurons twice", file=sys.stderr)
        return 2
    first = json.loads((args.out / f"spike_lodo_{args.merge[0]}.json").read_text())
    summary = summarize(per_neuron)
    summary.update({k: first[k] for k in ("model", "frame_rate_hz", "sigma_ms", "class")})
    summary.update({"folds": folds, "merged_from": args.merge, "settings": settings})
    if first["model"] == "ens2":
        summary.update(setting_summaries(per_neuron, settings[0]))
    summary["provenance"] = run_record(command_line(__file__, args.argv), cwd=Path(__file__).parent)
    summary["provenance"]["merged_provenance"] = [
        json.loads((args.out / f"spike_lodo_{tag}.json").read_text()).get("provenance")
        for tag in args.merge
    ]
    return write_results(args, per_neuron, summary)


def resummarize(args) -> int:
    """Recompute the summary (medians, both CIs, per-dataset medians) of finished runs from
    their per-neuron tables; settings, folds and the run's provenance are kept, and the
    command that rewrote the summary is recorded as ``summary_provenance``."""
    for tag in args.resummarize:
        path = args.out / f"spike_lodo_{tag}.json"
        per_neuron = pd.read_csv(args.out / f"spike_lodo_{tag}.csv")
        run = json.loads(path.read_text())
        run.update(summarize(per_neuron))
        run["summary_provenance"] = run_record(
            command_line(__file__, args.argv), cwd=Path(__file__).parent
        )
        path.write_text(json.dumps(run, indent=2))
        o = run["overall"]["corr"]
        print(
            f"{tag}: corr {o['median']:.3f}, neurons {o['ci95']}, "
            f"datasets then neurons {o['ci95_hierarchical']}"
        )
    return 0


def write_results(args, per_neuron: pd.DataFrame, summary: dict) -> int:
    """Write the per-neuron CSV and the summary JSON; print the tables."""
    tag = args.tag or args.model
    args.out.mkdir(parents=True, exist_ok=True)
    per_neuron.to_csv(args.out / f"spike_lodo_{tag}.csv", index=False)
    (args.out / f"spike_lodo_{tag}.json").write_text(json.dumps(summary, indent=2))
    print("\nper dataset (median over neurons):")
    print(pd.DataFrame(summary["datasets"]).T[["n_neurons", *METRICS]].round(3).to_string())
    o = summary["overall"]
    print(
        "\noverall: "
        + ", ".join(
            f"{m} {o[m]['median']:.3f} [{o[m]['ci95'][0]:.3f}, {o[m]['ci95'][1]:.3f}]"
            for m in METRICS
        )
        + f"  ({len(per_neuron)} neurons)"
    )
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    # the code that runs: its commit when the run starts
    started = run_record(
        command_line(__file__, args.argv), seeds=[args.seed], cwd=Path(__file__).parent
    )
    if args.resummarize:
        return resummarize(args)
    if args.merge:
        if not args.tag:
            print("--merge needs --tag for the combined result", file=sys.stderr)
            return 2
        return merge_runs(args)
    if args.ground_truth is None or args.model is None:
        print("--ground-truth and --model are required", file=sys.stderr)
        return 2
    if args.causal and args.model != "cascade":
        print("--causal applies to --model cascade", file=sys.stderr)
        return 2
    if args.extra_strides and args.model != "ens2":
        print("--extra-strides applies to --model ens2", file=sys.stderr)
        return 2
    if args.extra_precisions and args.model != "ens2":
        print("--extra-precisions applies to --model ens2", file=sys.stderr)
        return 2
    if args.precision in args.extra_precisions:
        print(f"--extra-precisions repeats --precision {args.precision}", file=sys.stderr)
        return 2
    if args.native_rate and (args.model != "oasis" or args.test_noise_level is not None):
        print("--native-rate applies to --model oasis without --test-noise-level", file=sys.stderr)
        return 2
    if args.route_native_nu and (args.model != "cascade" or args.test_noise_level is not None):
        print(
            "--route-native-nu applies to --model cascade without --test-noise-level",
            file=sys.stderr,
        )
        return 2
    if args.save_members and args.model == "oasis":
        print("--save-members applies to the network models (cascade, ens2)", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING)
    warnings.filterwarnings("ignore")
    if args.threads:
        torch.set_num_threads(args.threads)
    sigma_s = args.sigma_ms / 1000
    start = time.perf_counter()
    recordings = load_recordings(args)
    table = select_protocol(load_table(args, recordings), args)
    table["row_id"] = np.arange(len(table))
    cls = table[table.inhibitory == args.inhibitory]
    if args.test_noise_level is None:
        cls_test = cls
    else:
        noised = select_protocol(load_table(args, recordings, args.test_noise_level), args)
        noised["row_id"] = np.arange(len(noised)) + len(table)
        cls_test = noised[noised.inhibitory == args.inhibitory]
        print(
            f"test recordings noise-matched to ν = {args.test_noise_level:g}: "
            f"{len(cls_test)} of {len(cls)} (the others are noisier already)",
            flush=True,
        )
    datasets = sorted(cls.dataset.unique())
    tests = datasets if args.test_datasets is None else args.test_datasets
    unknown = sorted(set(tests) - set(datasets))
    if unknown:
        print(f"unknown test dataset(s) {unknown}; available: {datasets}", file=sys.stderr)
        return 2
    print(
        f"{len(datasets)} {'inhibitory' if args.inhibitory else 'excitatory'} datasets, "
        f"{cls.groupby(['dataset', 'neuron']).ngroups} neurons; testing {len(tests)}",
        flush=True,
    )
    rng = np.random.default_rng(args.seed)
    oasis = {}
    routing = None
    if args.model == "oasis":
        for part in (cls, cls_test) if cls_test is not cls else (cls,):
            rates = (
                native_oasis_rates(part, recordings, sigma_s, args.native_events)
                if args.native_rate
                else oasis_rates(part, sigma_s)
            )
            oasis.update(zip(part.row_id, rates))
        if args.native_rate:
            routing = routing_check(cls, recordings)
            print(
                f"CASCADE routing: ν at the recording's own rate gives the same noise level as "
                f"ν of the resampled trace for {routing['same_level']} of "
                f"{routing['recordings']} recordings",
                flush=True,
            )
    rows, folds = [], {}
    single_rows = []  # the first ENS² network alone (--also-single)
    also_single = args.also_single and args.model == "ens2" and args.ens2_members > 1
    for k, (test_name, train, test) in enumerate(lodo_folds(cls, cls_test, tests), 1):
        if test.empty:
            print(f"[{k}/{len(tests)}] {test_name}: no test recording left, skipped", flush=True)
            continue
        t0 = time.perf_counter()
        if args.model == "oasis":
            # One global scale (spikes per unit of deconvolved amplitude) fitted on the
            # training datasets, so Error and Bias are meaningful; Corr does not depend on it.
            num = sum(float(np.nansum(r.target_rate)) for r in train.itertuples())
            den = sum(float(np.nansum(oasis[i])) for i in train.row_id)
            scale = num / den if den > 0 else 1.0

            def predict(row, _scale=scale):
                return oasis[row.row_id] * _scale

            info = {"train_seconds": time.perf_counter() - t0, "scale": scale}

            def events_of(rate, fr):
                return greedy_spike_events(rate, fr, sigma_s)
        else:
            fold = run_fold_ens2 if args.model == "ens2" else run_fold_cascade
            model, info = fold(args, train, test, sigma_s)

            def predict(row, _model=model):
                return predict_model_rate(
                    _model,
                    row.dff,
                    row.routing_nu,
                    stride=args.stride,
                    precision=args.precision,
                )

            if args.model == "ens2":

                def events_of(rate, fr):
                    return greedy_spike_events(rate, fr, sigma_s)
            else:

                def events_of(rate, fr):
                    return sampled_spike_events(rate, fr, sigma_s, rng=rng)

        t_train = time.perf_counter() - t0
        if args.save_members is not None:
            save_member_rates(args.save_members, test_name, model, test)
        fold_rows = neuron_rows(test, predict, events_of, args.model, {"fold": test_name})
        if (args.extra_strides or args.extra_precisions) and args.model == "ens2":
            settings_ = {
                label: (stride, precision)
                for _, keyed in extra_settings(vars(args)).values()
                for label, stride, precision in keyed.values()
            }
            by_setting = corr_rows_by_setting(test, model, settings_)
            for r in fold_rows:
                for label, c in by_setting[(r["dataset"], r["neuron"])].items():
                    r[f"corr_{label}"] = c
        rows += fold_rows
        if also_single:
            level = model.noise_levels[0]
            alone = dataclasses.replace(model, ensembles={level: model.ensembles[level][:1]})
            single_rows += neuron_rows(
                test,
                functools.partial(predict, _model=alone),
                events_of,
                "ens2",
                {"fold": test_name},
            )
        folds[test_name] = {
            "train_seconds": round(float(info.get("train_seconds", t_train)), 1),
            "steps": info.get("steps"),
            "total_seconds": round(time.perf_counter() - t0, 1),
        }
        fr_df = pd.DataFrame(fold_rows)
        print(
            f"[{k}/{len(tests)}] {test_name}: {len(fr_df)} neurons, "
            f"median Corr {fr_df['corr'].median():.3f}, "
            f"ER {fr_df['er'].median():.3f}; training {folds[test_name]['train_seconds']} s "
            f"({folds[test_name]['steps']} steps)",
            flush=True,
        )
        if k < len(tests):  # partial results after every fold, so a stopped run keeps them
            runs = [(args.tag or args.model, rows)]
            if also_single:
                runs.append((f"{args.tag or args.model}_single", single_rows))
            for tag, run_rows in runs:
                partial = summarize(pd.DataFrame(run_rows))
                partial.update({"model": args.model, "folds": folds, "partial": True})
                args.out.mkdir(parents=True, exist_ok=True)
                pd.DataFrame(run_rows).to_csv(args.out / f"spike_lodo_{tag}.csv", index=False)
                (args.out / f"spike_lodo_{tag}.json").write_text(json.dumps(partial, indent=2))
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    common = {
        "model": args.model,
        "frame_rate_hz": args.frame_rate,
        "sigma_ms": args.sigma_ms,
        "class": "inhibitory" if args.inhibitory else "excitatory",
        "protocol": args.protocol,
        "test_noise_level_nu": args.test_noise_level,
        "folds": folds,
        "wall_seconds": round(time.perf_counter() - start, 1),
        "torch_threads": torch.get_num_threads(),
        "provenance": {**started, "threads": torch.get_num_threads()},
    }
    if also_single:
        single = pd.DataFrame(single_rows)
        summary = summarize(single)
        summary.update({**common, "settings": {**settings, "ens2_members": 1}})
        print("\nthe first network alone:")
        write_results(
            argparse.Namespace(**{**vars(args), "tag": f"{args.tag or args.model}_single"}),
            single,
            summary,
        )
        print("\nthe ensemble:")
    per_neuron = pd.DataFrame(rows)
    summary = summarize(per_neuron)
    summary.update({**common, "settings": settings})
    if routing is not None:
        summary["cascade_routing_native_nu"] = routing
    if args.model == "ens2":
        summary.update(setting_summaries(per_neuron, settings))
    return write_results(args, per_neuron, summary)


if __name__ == "__main__":
    sys.exit(main())
