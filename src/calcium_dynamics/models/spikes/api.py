"""From ΔF/F to spike rates and events in one call, with the shipped models.

:func:`infer_spikes` is the day-one entry point (no Kedro session needed);
:func:`infer_table` is the same path for a table of traces, which the Kedro nodes call, so there
is one path from a trace to spikes. :func:`model_set` turns a model name into the models a call
may route to.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from calcium_dynamics.models.spike_inference import infer_rates
from calcium_dynamics.models.spike_kinds import spike_kind
from calcium_dynamics.models.spike_models import SpikeModel
from calcium_dynamics.models.spikes.calibration import (
    CalibrationError,
    calibration_of,
    check_level,
)
from calcium_dynamics.models.spikes.routing import (
    WARNING_HELP,
    Candidate,
    Limits,
    ModelSet,
    frame_rate_far,
    nu_above_range,
    zoo_level,
)

logger = logging.getLogger(__name__)

CELL_CLASSES = ("excitatory", "inhibitory")
ROUTING_COLUMNS = [
    "trace_id",
    "frame_rate_hz",
    "n_frames",
    "nan_fraction",
    "model",
    "model_version",
    "model_kind",
    "model_frame_rate_hz",
    "sigma_s",
    "noise_level_nu",
    "model_noise_level",
    "expected_corr",
    "expected_corr_at_nu",
    "interval_width_hz",
    "warnings",
]


@dataclass
class SpikeInference:
    """Result of :func:`infer_spikes`.

    Attributes:
        rates_hz: (n_neurons, n_frames) float32, spike rate in Hz at the input's frame times
            (NaN where the input is NaN, and for cells flagged implausible).
        events_s: n_neurons arrays of spike times in s from the first frame (empty without
            events).
        routing: one row per neuron: ``model``, ``model_version``, ``model_frame_rate_hz``,
            ``sigma_s``, ``noise_level_nu`` (ν measured at the model's rate),
            ``model_noise_level`` (the ensemble used), ``warnings`` (``;``-separated names,
            see :mod:`calcium_dynamics.models.spikes.routing`), ``expected_corr`` (the model's
            leave-one-dataset-out median Corr at the cell's ν, where it has calibration
            tables; ``expected_corr_at_nu``: the ν that number was measured at),
            ``interval_width_hz`` (mean width of the interval) and more.
        rates_lo_hz, rates_hi_hz: with ``interval``: bounds (n_neurons, n_frames) float32, Hz,
            of a per-frame interval that holds the true smoothed rate with that probability
            (calibrated on held-out datasets); None without.
        interval: the interval's level (None without).
    """

    rates_hz: np.ndarray
    events_s: list[np.ndarray]
    routing: pd.DataFrame
    rates_lo_hz: np.ndarray | None = None
    rates_hi_hz: np.ndarray | None = None
    interval: float | None = None


def _project_root(project_path: str | Path | None) -> Path:
    """The project whose shipped models and registry are used: given, or this package's."""
    if project_path is not None:
        return Path(project_path)
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "data" / "06_models" / "shipped").is_dir():
            return parent
    return Path.cwd()


@lru_cache(maxsize=32)
def _load_registered(name: str, version: str, root: str) -> SpikeModel:
    from calcium_dynamics import registry
    from calcium_dynamics.registry import shipped

    model = registry.load(name, version=version, project_path=root)
    if not isinstance(model, SpikeModel):
        raise ValueError(f"registered model {name!r} {version} is not a spike model")
    entry = shipped.read_index(root).get(name) or {}
    if entry.get("version") == version and "calibration" not in model.metadata:
        calibration = shipped.read_calibration(root, name)  # the shipped version's tables
        if calibration is not None:
            model.metadata["calibration"] = calibration
    return model


@lru_cache(maxsize=32)
def _load_shipped(name: str, root: str, sha256: str) -> SpikeModel:
    """The shipped model ``name`` (cached per file content: ``sha256`` is the index's)."""
    from calcium_dynamics.registry import core, shipped

    model = core.load_resolved(core.shipped_model(name, root), root)
    calibration = shipped.read_calibration(root, name)
    if calibration is not None:
        model.metadata["calibration"] = calibration
    return model


def _shipped_candidates(
    root: Path, *, kind: str | None, cell_class: str, causal: bool = False
) -> list[Candidate]:
    from calcium_dynamics.registry import shipped

    out = []
    for name, entry in shipped.read_index(root).items():
        meta = entry.get("meta") or {}
        if "production" not in (entry.get("stages") or []):
            continue
        if bool(meta.get("causal", False)) != causal:
            continue  # causal zoos serve causal=True calls only, and only they do
        if kind is not None and meta.get("kind") != kind:
            continue
        if meta.get("kind") == "cascade" and meta.get("cell_class") != cell_class:
            continue
        if kind is None and meta.get("kind") != "cascade":
            continue  # auto routes over the CASCADE zoos (noise-matched, every frame rate)
        out.append(
            Candidate(
                name,
                str(entry["version"]),
                float(meta["frame_rate_hz"]),
                str(meta["kind"]),
                lambda n=name, h=entry["sha256"]: _load_shipped(n, str(root), h),
            )
        )
    return out


def model_set(
    model: str | Path | SpikeModel | ModelSet = "auto",
    *,
    cell_class: str = "excitatory",
    project_path: str | Path | None = None,
    causal: bool = False,
) -> ModelSet:
    """The models a call routes to.

    ``model``: ``"auto"`` (the shipped CASCADE zoos of ``cell_class``, nearest frame rate per
    recording), ``"cascade"`` (the same), ``"ens2"`` (the shipped ENS²), a registered name
    (``"NAME"``, ``"NAME@v1.0.0"``, ``"NAME#production"``, optionally prefixed ``registry:``),
    a model file path, a :class:`SpikeModel` or a :class:`ModelSet`. ``causal``: only models
    whose windows end at the predicted frame (closed-loop use); with ``"auto"`` the shipped
    causal zoos, and a recording must lie within 20 % of one's frame rate.
    """
    if isinstance(model, ModelSet):
        return _checked_causal(model, causal, project_path)
    if isinstance(model, SpikeModel):
        one = ModelSet([Candidate.of(model, model.metadata.get("name", model.kind))])
        return _checked_causal(one, causal, project_path)
    if cell_class not in CELL_CLASSES:
        raise ValueError(f"cell_class must be one of {CELL_CLASSES}, got {cell_class!r}")
    root = _project_root(project_path)
    text = str(model).strip()
    if text.lower() in ("auto", "cascade", "ens2"):
        kind = None if text.lower() == "auto" else text.lower()
        if causal and kind is not None and not spike_kind(kind).has_causal_form:
            raise ValueError("ENS² has no causal form; use model='auto' with causal=True")
        found = _shipped_candidates(root, kind=kind, cell_class=cell_class, causal=causal)
        if not found:
            what = "causal " if causal else ""
            raise ValueError(
                f"no shipped {what}{kind or 'CASCADE'} model for {cell_class} neurons in {root} "
                f"(data/06_models/shipped/index.yaml); "
                + (
                    f"causal models: {causal_models(root)}"
                    if causal
                    else f"available: {available_models(root)}"
                )
            )
        return ModelSet(found, causal=causal)
    path = Path(text)
    if text.endswith(".pt") or path.is_file():
        if not path.is_file():
            raise FileNotFoundError(f"spike model file {path} not found")
        loaded = SpikeModel.load(path)
        one = ModelSet([Candidate.of(loaded, path.stem, loaded.metadata.get("version"))])
        return _checked_causal(one, causal, root)
    one = ModelSet([_registered_candidate(text.removeprefix("registry:"), root)])
    return _checked_causal(one, causal, root)


def causal_models(root: str | Path | None = None) -> str:
    """The shipped causal zoos with their frame rates and cell classes (for error messages)."""
    from calcium_dynamics.registry import shipped

    rows = [
        f"{name} ({float(e['meta']['frame_rate_hz']):.4g} Hz, {e['meta'].get('cell_class')})"
        for name, e in shipped.read_index(_project_root(root)).items()
        if (e.get("meta") or {}).get("causal")
    ]
    return ", ".join(rows) or "none"


def _checked_causal(models: ModelSet, causal: bool, root: str | Path | None) -> ModelSet:
    """``models`` marked causal; with ``causal``, every one must be a causal model."""
    if not causal:
        return models
    for cand in models.candidates:
        if not cand.model.causal:
            raise ValueError(
                f"model {cand.name!r} is not causal (its windows see future frames); causal "
                f"models: {causal_models(root)}"
            )
    return ModelSet(models.candidates, models.retrain_hint, causal=True)


def _registered_candidate(spec: str, root: Path) -> Candidate:
    from calcium_dynamics import registry

    stage = version = None
    name = spec
    if "#" in spec:
        name, stage = spec.split("#", 1)
    elif "@" in spec:
        name, version = spec.split("@", 1)
    try:
        resolved = registry.resolve(name, stage=stage, version=version, project_path=root)
    except registry.RegistryError as exc:
        raise ValueError(
            f"unknown spike model {spec!r} ({exc}). Available: {available_models(root)}; "
            "or 'auto', 'cascade', 'ens2', or a model file path"
        ) from exc
    loaded = _load_registered(name, resolved.version, str(root))
    return Candidate.of(loaded, name, resolved.version)


def available_models(root: str | Path | None = None) -> str:
    """Names of the models the registry knows (shipped and tagged), for error messages."""
    from calcium_dynamics import registry

    try:
        rows = registry.list_models(_project_root(root))
    except Exception:  # no DVC project here: only the shipped index is readable
        from calcium_dynamics.registry import shipped

        rows = [{"name": n} for n in shipped.read_index(_project_root(root))]
    return ", ".join(r["name"] for r in rows) or "none"


#: traces per batch of CASCADE's event sampler (its chains run in lockstep over a batch;
#: memory ≈ 4 × 8 bytes × batch × frames)


def _add_events(rows: list[dict], rng: np.random.Generator) -> None:
    """Spike events of every row that asked for them (``_events_of``: model, rate in spikes
    per model frame, model frame rate), in place, all rows of one model in one call (CASCADE's
    sampler runs vectorised over them; see ``SpikeKind.events``)."""
    groups: dict[int, tuple[SpikeModel, float, list[tuple[int, np.ndarray]]]] = {}
    for i, out in enumerate(rows):
        pending = out.pop("_events_of", None)
        if pending is not None:
            model, rate, fr = pending
            groups.setdefault(id(model), (model, fr, []))[2].append((i, rate))
    for model, fr, items in groups.values():
        times = model.events([rate for _, rate in items], fr, rng)
        for (i, _), t in zip(items, times):
            rows[i]["spike_times_s"] = t


def infer_table(
    models: ModelSet,
    traces: pd.DataFrame,
    *,
    events: bool = True,
    stride: int = 1,
    precision: str = "fp32",
    seed: int = 0,
    limits: Limits | None = None,
    source: str = "traces",
    log: bool = True,
    progress: bool = False,
    interval: float | None = None,
) -> pd.DataFrame:
    """Rates, events and routing of every trace of ``traces``.

    Args:
        models: from :func:`model_set`.
        traces: one row per trace: ``trace_id``, ``frame_rate_hz`` (Hz), ``dff`` (ΔF/F array,
            fraction, NaN allowed).
        events: also infer spike events.
        stride: ENS² window stride (samples).
        precision: ENS² arithmetic (``fp32``, ``bf16``, ``auto``).
        seed: seed of CASCADE's event sampling.
        limits: plausibility limits (default :class:`Limits`).
        source: how errors and the summary log name the input (e.g. the recording's path).
        log: write the one-line summary of the warnings (callers that batch log once).
        progress: show a progress bar over the traces (from 50 traces on).
        interval: level in (0, 1) of a calibrated per-frame interval on each rate (None: no
            interval); the model must ship calibration tables.

    Returns:
        :data:`ROUTING_COLUMNS` + ``rate_hz`` (float32 array, Hz) + ``spike_times_s``; with
        ``interval`` also ``rate_lo_hz`` and ``rate_hi_hz`` (float32 arrays, Hz).
    """
    limits = limits or Limits()
    if interval is not None:
        interval = check_level(interval)
    missing = {"trace_id", "frame_rate_hz", "dff"} - set(traces.columns)
    if missing:
        raise ValueError(f"{source}: traces lack column(s) {sorted(missing)}")
    rng = np.random.default_rng(int(seed))
    options = {
        "events": events,
        "stride": stride,
        "precision": precision,
        "rng": rng,
        "interval": interval,
    }
    started = time.perf_counter()
    rows = [
        _infer_trace(models, row, limits, f"{source}, trace {row.trace_id!r}", **options)
        for row in tqdm(
            traces.itertuples(index=False),
            total=len(traces),
            desc=f"spike rates, {source}",
            disable=not progress or len(traces) < 50,
            leave=False,
        )
    ]
    rates_done = time.perf_counter()
    if events:
        _add_events(rows, rng)
    bounds = ["rate_lo_hz", "rate_hi_hz"] if interval is not None else []
    table = pd.DataFrame(rows, columns=[*ROUTING_COLUMNS, "rate_hz", *bounds, "spike_times_s"])
    # wall-clock seconds of the two stages (for benchmarks; not part of the table's data)
    table.attrs["timing_s"] = {
        "rates": round(rates_done - started, 3),
        "events": round(time.perf_counter() - rates_done, 3),
    }
    if log:
        log_warnings(table, models, source)
    return table


def _infer_trace(models: ModelSet, row, limits: Limits, what: str, **options) -> dict:
    """Routing, warnings, rate (Hz) and events of one trace (a ``traces`` row)."""
    rate_in = limits.check_frame_rate(row.frame_rate_hz, what)
    x = np.asarray(row.dff, dtype=np.float64)
    if x.ndim != 1 or x.size < 2:
        raise ValueError(f"{what}: ΔF/F must be 1-D with at least 2 frames, got {x.shape}")
    cand = models.choose(rate_in)
    model = cand.model
    if models.causal and frame_rate_far(rate_in, model.frame_rate_hz):
        raise ValueError(
            f"{what}: no causal model at {rate_in:g} Hz (within 20 %); causal models: "
            f"{causal_models()}. Train one: python -m calcium_dynamics.models.spikes."
            f"zoo_training --causal --frame-rate {rate_in:g} ..."
        )
    interval = options.get("interval")
    calibration = None
    if interval is not None:
        calibration = calibration_of(model, cand.name)  # names the model if it has none
    elif model.metadata.get("calibration"):  # for the expected Corr only: never an error
        try:
            calibration = calibration_of(model, cand.name)
        except CalibrationError:
            calibration = None
    finite = np.isfinite(x)
    out = {
        "trace_id": row.trace_id,
        "frame_rate_hz": rate_in,
        "n_frames": int(x.size),
        "nan_fraction": float(1 - finite.mean()),
        "model": cand.name,
        "model_version": cand.version,
        "model_kind": model.kind,
        "model_frame_rate_hz": model.frame_rate_hz,
        "sigma_s": float(model.config["sigma_s"]),
        "noise_level_nu": float("nan"),
        "model_noise_level": float("nan"),
        "expected_corr": float("nan"),
        "expected_corr_at_nu": float("nan"),
        "interval_width_hz": float("nan"),
        "rate_hz": np.full(x.size, np.nan, np.float32),
        "spike_times_s": np.empty(0),
    }
    if interval is not None:
        out["rate_lo_hz"] = np.full(x.size, np.nan, np.float32)
        out["rate_hi_hz"] = np.full(x.size, np.nan, np.float32)
    warn = []
    # ENS² works on everything resampled to its 60 Hz by design; zoos are per frame rate
    if model.spec.frame_rate_specific and frame_rate_far(rate_in, model.frame_rate_hz):
        warn.append("frame_rate_far")
    if out["nan_fraction"] > limits.max_nan_fraction:
        warn.append("nan_fraction_high")
    if not finite.any():
        warn.append("all_nan")
    elif np.nanmax(np.abs(x)) > limits.max_abs_dff:
        warn.append("dff_implausible")
    else:
        if x.size * model.frame_rate_hz / rate_in < model.window:
            warn.append("too_short")
        pred = infer_rates(
            model,
            x,
            rate_in,
            stride=options["stride"],
            precision=options["precision"],
            name=what,
            interval=interval,
            calibration=calibration,
        )
        out["noise_level_nu"] = pred.noise_level_nu
        out["model_noise_level"] = zoo_level(model, pred.noise_level_nu)
        if calibration is not None:
            out["expected_corr"], out["expected_corr_at_nu"] = calibration.corr_at(
                pred.noise_level_nu
            )
        if nu_above_range(model, pred.noise_level_nu):
            warn.append("nu_above_range")
        if np.nanmax(pred.rate_hz, initial=0.0) > limits.max_rate_hz:
            warn.append("rate_implausible")
        else:
            out["rate_hz"] = pred.rate_hz
            if interval is not None:
                out["rate_lo_hz"], out["rate_hi_hz"] = pred.lo_hz, pred.hi_hz
                width = float(np.nanmean(pred.hi_hz - pred.lo_hz))
                out["interval_width_hz"] = width
                if width > limits.max_interval_ratio * float(np.nanstd(pred.rate_hz)):
                    warn.append("interval_wide")
            if options["events"]:  # computed for all traces at once (_add_events)
                out["_events_of"] = (model, pred.model_rate, pred.model_frame_rate_hz)
    implausible = [w for w in warn if w in ("dff_implausible", "rate_implausible")]
    if implausible and limits.on_implausible == "raise":
        raise ValueError(
            f"{what}: {implausible[0]} ({WARNING_HELP[implausible[0]]}); set "
            "on_implausible: mask to mask such cells and go on"
        )
    out["warnings"] = ";".join(warn)
    return out


def log_warnings(table: pd.DataFrame, models: ModelSet, source: str) -> str | None:
    """One log line summarising the per-cell warnings, with what to do; returns it."""
    counts = Counter(w for ws in table["warnings"] for w in ws.split(";") if w)
    if not counts:
        return None
    parts = []
    for name, n in counts.most_common():
        advice = WARNING_HELP.get(name, "")
        if name == "frame_rate_far":
            rates = sorted(set(table.loc[table["warnings"].str.contains(name), "frame_rate_hz"]))
            advice = advice.format(retrain=models.retrain_command(rates[0]))
        parts.append(f"{n} × {name} ({advice})")
    line = (
        f"{source}: {sum(1 for w in table['warnings'] if w)} of {len(table)} cell(s) have "
        f"warnings (column 'warnings' of the routing table): " + "; ".join(parts)
    )
    logger.warning(line)
    return line


def infer_spikes(
    dff,
    frame_rate_hz: float,
    model: str | Path | SpikeModel | ModelSet = "auto",
    *,
    events: bool = True,
    cell_class: str = "excitatory",
    stride: int = 1,
    precision: str = "fp32",
    seed: int = 0,
    limits: Limits | None = None,
    project_path: str | Path | None = None,
    interval: float | None = None,
    causal: bool = False,
) -> SpikeInference:
    """Spike rates (Hz) and events (s) of ΔF/F traces, with the shipped models by default.

    Args:
        dff: ΔF/F as a fraction (1.0 = 100 %), shape (n_neurons, n_frames), or (n_frames,)
            for one neuron; NaN frames allowed.
        frame_rate_hz: the recording's frame rate in Hz (required).
        model: ``"auto"`` (default: the shipped CASCADE zoo nearest the frame rate, the noise
            level nearest each cell's ν), ``"cascade"``, ``"ens2"``, a registered name
            (``"NAME"``, ``"NAME@v1.0.0"``, ``"NAME#production"``) or a model file path.
        events: also infer spike events (``False`` is faster).
        cell_class: ``"excitatory"`` or ``"inhibitory"`` zoos for ``auto`` / ``cascade``.
        stride: ENS² window stride (1: every window).
        precision: ENS² arithmetic (``fp32``, ``bf16``, ``auto``).
        seed: seed of the event sampling (CASCADE).
        limits: plausibility limits (:class:`~calcium_dynamics.models.spikes.routing.Limits`).
        project_path: project whose shipped / registered models are used (default: this one).
        interval: level in (0, 1), e.g. 0.9: also return ``rates_lo_hz`` / ``rates_hi_hz``,
            a per-frame interval calibrated (leave-one-dataset-out conformal prediction) to
            hold the true smoothed rate with that probability on datasets it never saw.
        causal: use a causal model (windows end at the predicted frame; for closed-loop use,
            see :class:`~calcium_dynamics.models.spikes.stream.SpikeStream`).

    Returns:
        :class:`SpikeInference` with ``rates_hz`` (n_neurons, n_frames) float32,
        ``events_s`` and the ``routing`` table.

    Example:
        >>> import numpy as np
        >>> from calcium_dynamics import infer_spikes
        >>> rng = np.random.default_rng(0)
        >>> dff = rng.normal(0, 0.05, size=(2, 900))  # 2 cells, 30 s at 30 Hz
        >>> result = infer_spikes(dff, frame_rate_hz=30.0, events=False)
        >>> result.rates_hz.shape, result.rates_hz.dtype
        ((2, 900), dtype('float32'))
        >>> result.routing.loc[0, "model"]
        'cascade-30hz-excitatory'
    """
    arr = np.asarray(dff, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise ValueError(f"dff must be (n_neurons, n_frames) or (n_frames,), got {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError("dff holds no neuron")
    if frame_rate_hz is None:
        raise ValueError("frame_rate_hz is required (Hz): a trace without its frame rate")
    if interval is not None:
        interval = check_level(interval)
    models = model_set(model, cell_class=cell_class, project_path=project_path, causal=causal)
    traces = pd.DataFrame(
        {
            "trace_id": np.arange(arr.shape[0]),
            "frame_rate_hz": float(frame_rate_hz),
            "dff": list(arr),
        }
    )
    table = infer_table(
        models,
        traces,
        events=events,
        stride=stride,
        precision=precision,
        seed=seed,
        limits=limits,
        source="infer_spikes",
        interval=interval,
    )

    def stacked(column: str) -> np.ndarray:
        return np.stack(table[column].to_list()).astype(np.float32, copy=False)

    routing = table[ROUTING_COLUMNS].rename(columns={"trace_id": "neuron"})
    if interval is None:
        return SpikeInference(stacked("rate_hz"), list(table["spike_times_s"]), routing)
    return SpikeInference(
        stacked("rate_hz"),
        list(table["spike_times_s"]),
        routing,
        stacked("rate_lo_hz"),
        stacked("rate_hi_hz"),
        interval,
    )
