"""Latent dynamics of one recording's trials: GPFA, the calcium HMM and calcium-LFADS.

Input: the trials arrays of :func:`calcium_dynamics.recordings.trials.cut_trials` (ΔF/F,
(n_trials, n_bins, n_neurons) at the frame rate). The trials are split once, per condition,
into training trials and *test* trials (every k-th trial of each condition, k = 1 /
``test_fraction``); nothing is fitted or selected on the test trials:

* every model is fitted on the training trials (all neurons) and then infers latents, rates
  and states on every trial (the outputs);
* model choices use the training trials only: the HMM's number of states K by cross-validated
  log-likelihood between halves of the training trials, LFADS's early stopping on a validation
  share of them;
* the models are compared on the test trials by co-smoothing
  (:mod:`calcium_dynamics.recordings.cosmoothing`): each is refitted on the *held-in* neurons
  and its representation predicts the *held-out* neurons' ΔF/F.

RADICaL needs each cell's sample time within the frame (line-scan offsets); recordings read
here carry none, so it is skipped with that reason.

Models are named in ``params['models']``: ``gpfa_gaussian`` (Gaussian GPFA on ΔF/F),
``gpfa_calcium`` (GPFA with the calcium AR-Poisson likelihood), ``hmm_calcium`` (HMM with
calcium observations) and ``calcium_lfads``.
"""

from __future__ import annotations

import abc
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from calcium_dynamics.recordings.cosmoothing import (
    SCORE_COLUMNS,
    condition_average,
    readout_scores,
    score_predictions,
)

logger = logging.getLogger(__name__)

TIMING_COLUMNS = ["model", "fit", "wall_s", "peak_rss_mb"]
NOTE_LEVELS = ("info", "warning", "skipped")


class DynamicsInputError(ValueError):
    """Trials that cannot be modelled; the message names the recording and the cause."""


@dataclass
class DynamicsResult:
    """Everything fitted on one recording.

    Attributes:
        arrays: saved per recording (``.npz``): ``{model}_latents`` (n_trials, n_bins, q),
            ``{model}_rate_hz`` (n_trials, n_bins, n_neurons), ``hmm_calcium_states`` (n_trials,
            n_bins) int, ``{model}_condition_mean`` (n_conditions, n_bins, q), the split
            (``test_trial`` bool per trial, ``heldout_neuron`` bool per neuron), ``time_s``,
            ``trace_id``, ``conditions`` and ``condition``.
        scores: co-smoothing scores, one row per (model, held-out neuron).
        hmm_curve: cross-validated log-likelihood per K (nats / bin).
        timings: wall time (s) and peak resident memory (MB) of each fit.
        notes: ``(level, text)``: what was skipped or changed, and why.
    """

    arrays: dict[str, np.ndarray]
    scores: pd.DataFrame
    hmm_curve: pd.DataFrame
    timings: pd.DataFrame
    notes: list[tuple[str, str]] = field(default_factory=list)


class _PeakMemory:
    """Peak resident set size (MB) of this process while the block runs (sampled every
    20 ms by a thread; RSS includes torch's allocations, which tracemalloc does not see)."""

    def __enter__(self):
        import psutil

        self._proc = psutil.Process()
        self.peak = self._proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._proc.memory_info().rss)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)
        self.peak_mb = self.peak / 2**20


# ----------------------------------------------------------------------------- splits


def split_trials(conditions: np.ndarray, test_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Training and test trial indices: within each condition (in trial order), every k-th
    trial is a test trial, k = round(1 / test_fraction), starting at the ⌊k/2⌋-th.

    Deterministic, balanced over conditions and spread over the session (slow drifts hit
    both sets alike)."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must lie in (0, 1); got {test_fraction}")
    k = max(int(round(1.0 / test_fraction)), 2)
    test = []
    for c in np.unique(conditions):
        idx = np.flatnonzero(conditions == c)
        test.extend(idx[k // 2 :: k])
    test = np.sort(np.asarray(test, dtype=np.int64))
    train = np.setdiff1d(np.arange(len(conditions)), test)
    return train, test


def split_neurons(n_neurons: int, heldout_fraction: float, seed: int) -> tuple[np.ndarray, ...]:
    """Held-in and held-out neuron indices (a seeded random draw; both sorted)."""
    n_out = int(round(heldout_fraction * n_neurons))
    n_out = min(max(n_out, 1), n_neurons - 1)
    order = np.random.default_rng(seed).permutation(n_neurons)
    return np.sort(order[n_out:]), np.sort(order[:n_out])


# ----------------------------------------------------------------------------- models


class LatentModel(abc.ABC):
    """One latent model on trials ``(n_trials, n_bins, n_neurons)`` of ΔF/F."""

    name: str = ""

    #: smallest number of neurons the model needs
    def min_neurons(self) -> int:
        return 2

    def __init__(self, params: dict, frame_rate_hz: float, seed: int):
        self.params, self.frame_rate_hz, self.seed = params, float(frame_rate_hz), int(seed)

    @abc.abstractmethod
    def fit(self, x: np.ndarray) -> LatentModel:
        """Fit on training trials."""

    @abc.abstractmethod
    def represent(self, x: np.ndarray) -> np.ndarray:
        """Per-bin representation of trials, (n_trials, n_bins, d)."""

    @abc.abstractmethod
    def outputs(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Arrays saved for every trial (names without the model prefix)."""


class _GPFAModel(LatentModel):
    observations = "gaussian"

    def min_neurons(self) -> int:
        return int(self.params.get("n_latents", 3)) + 1

    def _make(self):
        from calcium_dynamics.classical.gpfa import GPFA

        p = dict(self.params)
        ell_bins = float(p.pop("length_scale_s", 0.3)) * self.frame_rate_hz
        extra = p.pop(self.observations, {}) or {}
        for other in ("gaussian", "calcium"):
            p.pop(other, None)
        return GPFA(
            observations=self.observations,
            segment_length=None,
            length_scale_init=ell_bins,
            random_state=self.seed,
            **{**p, **extra},
        )

    def fit(self, x):
        self.model = self._make().fit(list(np.asarray(x, np.float64)))
        return self

    def represent(self, x):
        return np.stack(self.model.transform(list(np.asarray(x, np.float64)), orthonormal=True))

    def outputs(self, x):
        return {"latents": self.represent(x).astype(np.float32)}


class GaussianGPFA(_GPFAModel):
    name = "gpfa_gaussian"
    observations = "gaussian"


class CalciumGPFA(_GPFAModel):
    name = "gpfa_calcium"
    observations = "calcium"

    def outputs(self, x):
        import torch

        raw = np.stack(self.model.transform(list(np.asarray(x, np.float64))))
        drive = torch.as_tensor(raw @ self.model.loading_.T + self.model.offset_)
        rate = torch.nn.functional.softplus(drive).numpy() * self.frame_rate_hz
        return {"latents": self.represent(x).astype(np.float32), "rate_hz": rate.astype(np.float32)}


class CalciumHMM(LatentModel):
    """HMM with calcium observations; K by cross-validation between halves of the training
    trials (``n_states``: the grid), then refitted on all of them."""

    name = "hmm_calcium"

    def _hmm(self, k: int):
        from calcium_dynamics.classical.hmm import HMM

        p = {key: v for key, v in self.params.items() if key not in ("n_states", "cv_folds")}
        return HMM(n_states=int(k), random_state=self.seed, **{"observations": "calcium", **p})

    def select_k(self, x: np.ndarray) -> pd.DataFrame:
        grid = [int(k) for k in np.atleast_1d(self.params.get("n_states", [2, 3, 4]))]
        seqs = list(np.asarray(x, np.float64))
        halves = (seqs[0::2], seqs[1::2])
        rows = []
        for k in grid:
            scores = []
            for a, b in (halves, halves[::-1]):
                scores.append(self._hmm(k).fit(a).score_per_bin(b))
            rows.append({"n_states": k, "cv_ll_per_bin": float(np.mean(scores))})
        curve = pd.DataFrame(rows)
        best = int(curve.loc[curve["cv_ll_per_bin"].idxmax(), "n_states"])
        curve["selected"] = curve["n_states"] == best
        return curve

    def fit(self, x, n_states: int | None = None):
        if n_states is None:
            self.curve = self.select_k(x)
            n_states = int(self.curve.loc[self.curve["selected"], "n_states"].iloc[0])
        self.n_states = int(n_states)
        self.model = self._hmm(self.n_states).fit(list(np.asarray(x, np.float64)))
        return self

    def represent(self, x):
        return np.stack(self.model.predict_proba(list(np.asarray(x, np.float64))))

    def outputs(self, x):
        seqs = list(np.asarray(x, np.float64))
        return {
            "states": np.stack(self.model.predict(seqs)).astype(np.int64),
            "state_proba": np.stack(self.model.predict_proba(seqs)).astype(np.float32),
        }


#: a factor whose spread across trials (at a fixed time) is below this share of its spread
#: within trials carries no single-trial information: the posterior has collapsed
COLLAPSE_RATIO = 0.05


class CalciumLFADS(LatentModel):
    """calcium-LFADS (LFADS with the calcium AR-Poisson observation model) on ΔF/F; early
    stopping on a validation share of the training trials.

    ``params``: ``model`` (the full LFADS settings, see :func:`lfads_settings`), ``trainer``
    and ``valid_fraction``."""

    name = "calcium_lfads"

    def collapsed(self, factors: np.ndarray) -> bool:
        """Whether the factors (n_trials, n_bins, F) are the same in every trial."""
        across = factors.std(axis=0).mean()
        within = factors.std(axis=1).mean()
        return bool(across < COLLAPSE_RATIO * max(within, 1e-12))

    def fit(self, x):
        from calcium_dynamics.models.lfads.training import train_lfads

        p = self.params
        self.model, self.summary = train_lfads(
            np.asarray(x, np.float32),
            "calcium_lfads",
            p["model"],
            p["trainer"],
            valid_fraction=float(p.get("valid_fraction", 0.2)),
            seed=self.seed,
        )
        return self

    def represent(self, x):
        return self.model.infer(np.asarray(x, np.float32))["factors"]

    def outputs(self, x):
        out = self.model.infer(np.asarray(x, np.float32))
        return {
            "factors": out["factors"].astype(np.float32),
            "rate_hz": (out["rates"] * self.frame_rate_hz).astype(np.float32),
        }


MODELS: dict[str, type[LatentModel]] = {
    cls.name: cls for cls in (GaussianGPFA, CalciumGPFA, CalciumHMM, CalciumLFADS)
}


def lfads_settings(dynamics_params: dict, lfads_params: dict) -> dict:
    """The ``lfads`` section of the dynamics parameters with its ``model`` completed: the
    project's LFADS settings (``lfads.model`` + ``lfads.variants.calcium_lfads``) overlaid with
    the recordings' overrides."""
    from calcium_dynamics.models.lfads.training import variant_model_params

    section = dict(dynamics_params.get("lfads") or {})
    base = variant_model_params(lfads_params, "calcium_lfads")
    section["model"] = {**base, **(section.get("model") or {})}
    section.setdefault("trainer", dict(lfads_params.get("trainer") or {}))
    return section


def model_params(name: str, params: dict) -> dict:
    """The parameters of model ``name`` from the ``dynamics`` parameters."""
    section = {"gpfa_gaussian": "gpfa", "gpfa_calcium": "gpfa", "hmm_calcium": "hmm"}
    return dict(params.get(section.get(name, "lfads"), {}) or {})


# ----------------------------------------------------------------------------- the fit


def _conditions(trials: dict[str, np.ndarray], columns: list[str], notes: list) -> np.ndarray:
    n = trials["dff"].shape[0]
    found = [c for c in columns if f"trial_{c}" in trials]
    missing = [c for c in columns if f"trial_{c}" not in trials]
    if missing:
        notes.append(("info", f"condition column(s) {missing} not in the trials table"))
    if not found:
        return np.zeros(n, dtype=np.int64)
    keys = np.stack([np.asarray(trials[f"trial_{c}"]) for c in found], axis=1)
    _, codes = np.unique(keys, axis=0, return_inverse=True)
    return codes.ravel().astype(np.int64)


def _finite_trials(dff: np.ndarray, name: str, notes: list) -> np.ndarray:
    bad = ~np.isfinite(dff).all(axis=(1, 2))
    if bad.all():
        raise DynamicsInputError(f"{name}: every trial holds NaN frames; no latent model fitted")
    if bad.any():
        notes.append(
            (
                "warning",
                f"{int(bad.sum())} trial(s) with NaN frames left out of the latent models "
                f"(trial numbers {np.flatnonzero(bad)[:20].tolist()})",
            )
        )
    return np.flatnonzero(~bad)


def check_trials(trials: dict[str, np.ndarray], params: dict, name: str) -> None:
    """Refuse trials the models cannot use, naming the recording and the cause."""
    dff = np.asarray(trials.get("dff"))
    if dff.ndim != 3:
        raise DynamicsInputError(f"{name}: trials ΔF/F must be (n_trials, n_bins, n_neurons)")
    _, n_bins, n_neurons = dff.shape
    if n_neurons < 2:
        raise DynamicsInputError(f"{name}: {n_neurons} neuron(s); latent models need ≥ 2")
    if n_bins < 3:
        raise DynamicsInputError(f"{name}: trials of {n_bins} bin(s); latent models need ≥ 3")


def fit_trial_dynamics(trials: dict[str, np.ndarray], params: dict, name: str) -> DynamicsResult:
    """Fit the configured latent models to one recording's trials (see the module docstring).

    Args:
        trials: :func:`~calcium_dynamics.recordings.trials.cut_trials` output.
        params: ``models`` (names, see :data:`MODELS`), ``test_fraction``,
            ``heldout_neuron_fraction``, ``min_train_trials``, ``condition_columns``,
            ``readout_filters_s``, ``cosmoothing`` (false: no held-out neuron scores, each
            model fitted once), ``seed`` and one section per model family (``gpfa``, ``hmm``,
            ``lfads``).
        name: the recording (in messages).

    Raises:
        DynamicsInputError: too few trials for the split, too few neurons, NaN in every trial.
    """
    check_trials(trials, params, name)
    notes: list[tuple[str, str]] = [
        (
            "skipped",
            "RADICaL: needs each cell's sample time within the frame (line-scan offsets); "
            "this recording carries none",
        )
    ]
    rate = float(trials["frame_rate_hz"])
    seed = int(params.get("seed", 0))
    keep = _finite_trials(np.asarray(trials["dff"]), name, notes)
    dff = np.asarray(trials["dff"], np.float64)[keep]
    n_trials, _, n_neurons = dff.shape
    conditions = _conditions(trials, list(params.get("condition_columns") or []), notes)[keep]
    train, test = split_trials(conditions, float(params.get("test_fraction", 0.25)))
    need = int(params.get("min_train_trials", 8))
    if train.size < need or test.size < 1:
        raise DynamicsInputError(
            f"{name}: {n_trials} usable trial(s) give {train.size} training and {test.size} "
            f"test trial(s); the latent models need ≥ {need} training trials "
            "(recordings.dynamics.min_train_trials) and ≥ 1 test trial"
        )
    held_in, held_out = split_neurons(
        n_neurons, float(params.get("heldout_neuron_fraction", 0.25)), seed
    )
    taus = [float(s) * rate for s in params.get("readout_filters_s", [])]
    trace_ids = [str(t) for t in np.asarray(trials["trace_id"])]
    out_ids = [trace_ids[i] for i in held_out]
    y_tr, y_te = dff[train][:, :, held_out], dff[test][:, :, held_out]
    scores = [_reference_scores(out_ids, y_tr, y_te, conditions[train], conditions[test])]
    arrays: dict[str, np.ndarray] = {}
    timings, hmm_curve = [], pd.DataFrame(columns=["n_states", "cv_ll_per_bin", "selected"])
    for model_name in params.get("models", list(MODELS)):
        if model_name not in MODELS:
            raise ValueError(
                f"unknown latent model {model_name!r} in recordings.dynamics.models; "
                f"known: {sorted(MODELS)}"
            )
        mp = model_params(model_name, params)
        model = MODELS[model_name](mp, rate, seed)
        if held_in.size < model.min_neurons():
            notes.append(
                (
                    "skipped",
                    f"{model_name}: {held_in.size} held-in of {n_neurons} neurons; it needs "
                    f"≥ {model.min_neurons()} (fewer cells than latent dimensions + 1)",
                )
            )
            continue
        logger.info("%s: fitting %s on %d training trials", name, model_name, train.size)
        with _timed(timings, model_name, "all neurons"):
            model.fit(dff[train])
        for key, value in model.outputs(dff).items():
            arrays[f"{model_name}_{key}"] = _restore(value, keep, trials["dff"].shape[0])
            if key == "factors" and isinstance(model, CalciumLFADS) and model.collapsed(value):
                notes.append(
                    (
                        "warning",
                        f"{model_name}: its factors are the same in every trial (posterior "
                        "collapse); lower recordings.dynamics.lfads.model.kl_ic_scale / "
                        "kl_co_scale or give it more trials",
                    )
                )
        if isinstance(model, CalciumHMM):
            hmm_curve = model.curve
        if not params.get("cosmoothing", True):
            continue
        cs = MODELS[model_name](mp, rate, seed)
        with _timed(timings, model_name, "held-in neurons"):
            if isinstance(cs, CalciumHMM):
                cs.fit(dff[train][:, :, held_in], n_states=model.n_states)
            else:
                cs.fit(dff[train][:, :, held_in])
        z_tr = cs.represent(dff[train][:, :, held_in])
        z_te = cs.represent(dff[test][:, :, held_in])
        scores.append(readout_scores(model_name, out_ids, z_tr, y_tr, z_te, y_te, taus))
    all_test = np.zeros(trials["dff"].shape[0], bool)
    all_test[keep[test]] = True
    heldout = np.zeros(n_neurons, bool)
    heldout[held_out] = True
    arrays.update(
        {
            "test_trial": all_test,
            "used_trial": np.isin(np.arange(trials["dff"].shape[0]), keep),
            "heldout_neuron": heldout,
            "condition": _restore(conditions, keep, trials["dff"].shape[0], fill=-1),
            "time_s": np.asarray(trials["time_s"]),
            "trace_id": np.asarray(trace_ids, dtype=str),
        }
    )
    arrays.update(condition_means(arrays))
    return DynamicsResult(
        arrays,
        pd.concat(scores, ignore_index=True)[SCORE_COLUMNS],
        hmm_curve,
        pd.DataFrame(timings, columns=TIMING_COLUMNS),
        notes,
    )


def _reference_scores(ids, y_tr, y_te, c_tr, c_te) -> pd.DataFrame:
    fit, pred = condition_average(y_tr, c_tr, c_te)
    m = y_tr.shape[2]
    mean_tr = np.broadcast_to(y_tr.reshape(-1, m).mean(axis=0), y_tr.reshape(-1, m).shape)
    mean_te = np.broadcast_to(mean_tr[0], y_te.reshape(-1, m).shape)
    return pd.concat(
        [
            score_predictions(
                "mean", ids, y_tr.reshape(-1, m), mean_tr, y_te.reshape(-1, m), mean_te
            ),
            score_predictions(
                "psth",
                ids,
                y_tr.reshape(-1, m),
                fit.reshape(-1, m),
                y_te.reshape(-1, m),
                pred.reshape(-1, m),
            ),
        ],
        ignore_index=True,
    )


def _restore(values: np.ndarray, keep: np.ndarray, n_trials: int, fill: Any = np.nan):
    """Put per-trial ``values`` of the kept trials back at their trial positions."""
    values = np.asarray(values)
    if keep.size == n_trials:
        return values
    if np.issubdtype(values.dtype, np.integer) and fill is np.nan:
        fill = -1
    out = np.full((n_trials, *values.shape[1:]), fill, dtype=np.result_type(values, type(fill)))
    out[keep] = values
    return out


class _timed:
    def __init__(self, rows: list, model: str, what: str):
        self.rows, self.model, self.what = rows, model, what

    def __enter__(self):
        self.mem = _PeakMemory().__enter__()
        self.t0 = time.perf_counter()

    def __exit__(self, *exc):
        wall = time.perf_counter() - self.t0
        self.mem.__exit__(*exc)
        self.rows.append([self.model, self.what, wall, self.mem.peak_mb])
        logger.info(
            "%s (%s): %.1f s, peak RSS %.0f MB", self.model, self.what, wall, self.mem.peak_mb
        )


def condition_means(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Trial-averaged latent trajectories per condition: ``{model}_condition_mean``
    (n_conditions, n_bins, q) for every ``{model}_latents`` / ``{model}_factors`` array, over
    the used trials, and ``conditions`` (the condition codes, (n_conditions,))."""
    cond = arrays["condition"]
    codes = np.unique(cond[cond >= 0])
    out: dict[str, np.ndarray] = {"conditions": codes}
    for key, value in arrays.items():
        for suffix in ("_latents", "_factors"):
            if key.endswith(suffix):
                model = key[: -len(suffix)]
                out[f"{model}_condition_mean"] = np.stack(
                    [np.nanmean(value[cond == c], axis=0) for c in codes]
                ).astype(np.float32)
    return out
