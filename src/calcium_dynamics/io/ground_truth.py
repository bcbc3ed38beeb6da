"""Kedro dataset for a ground-truth database folder (simultaneous spikes + calcium, MATLAB files).

Layout: one folder per dataset named ``DSnn-<indicator>-<species>-<region>[-extra]``, one
``*_mini.mat`` file per neuron holding ``CAttached``, a cell array with one struct per recording:
``fluo_time`` (s), ``fluo_mean`` (ΔF/F as a fraction), ``events_AP`` (spike times in 10 kHz
samples).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from kedro.io import AbstractDataset, DatasetError
from scipy import io as sio

from calcium_dynamics.io.dataset_names import parse_dataset_name

logger = logging.getLogger(__name__)

EPHYS_RATE_HZ = 1e4
MIN_FRAMES = 2
RECORD_COLUMNS = [
    "dataset",
    "neuron",
    "recording",
    "file",
    "indicator",
    "species",
    "region",
    "cell_type",
    "inhibitory",
    "frame_rate_hz",
    "t0_s",
    "dff",
    "spike_times_s",
    "valid",
    "issue",
]


class GroundTruthError(DatasetError):
    """A ground-truth file or recording that cannot be read as it is."""


@dataclass
class _Recording:
    frame_rate_hz: float = float("nan")
    t0_s: float = float("nan")
    dff: np.ndarray | None = None
    spike_times_s: np.ndarray | None = None
    issue: str = ""
    notes: list[str] = field(default_factory=list)


def _unwrap(value: Any) -> Any:
    """Strip the 1×1 object arrays ``scipy.io.loadmat`` wraps around MATLAB values."""
    while isinstance(value, np.ndarray) and value.dtype == object and value.size == 1:
        value = value.flat[0]
    return value


def _field(struct: np.ndarray, name: str) -> np.ndarray | None:
    if name not in (struct.dtype.names or ()):
        return None
    return np.asarray(_unwrap(struct[name]))


def _numeric(struct: np.ndarray, name: str) -> np.ndarray | None:
    value = _field(struct, name)
    if value is None:
        return None
    try:
        return np.asarray(value, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        return None


def parse_recording(struct: np.ndarray) -> _Recording:
    """Validate one ``CAttached`` cell; problems go into ``issue`` (never a silent fix)."""
    rec = _Recording()
    if not isinstance(struct, np.ndarray) or struct.dtype.names is None:
        rec.issue = "cell is not a MATLAB struct"
        return rec
    t = _numeric(struct, "fluo_time")
    y = _numeric(struct, "fluo_mean")
    missing = [n for n, v in (("fluo_time", t), ("fluo_mean", y)) if v is None or v.size == 0]
    if missing:
        rec.issue = f"missing or empty field(s) {', '.join(missing)}"
        return rec
    if t.size != y.size:
        rec.issue = f"fluo_time has {t.size} samples but fluo_mean has {y.size}"
        return rec
    # Leading / trailing samples without a time stamp carry no usable frame: drop them.
    finite_t = np.flatnonzero(np.isfinite(t))
    if finite_t.size < MIN_FRAMES:
        rec.issue = "frame rate cannot be computed: fewer than 2 finite time stamps"
        return rec
    first, last = finite_t[0], finite_t[-1]
    if first > 0 or last < t.size - 1:
        rec.notes.append(f"dropped {first + t.size - 1 - last} edge samples without time stamps")
    t, y = t[first : last + 1], y[first : last + 1]
    steps = np.diff(t)
    finite_steps = steps[np.isfinite(steps)]
    if finite_steps.size == 0 or not np.median(finite_steps) > 0:
        rec.issue = "frame rate cannot be computed: time stamps do not increase"
        return rec
    period = float(np.median(finite_steps))
    # A repeated time stamp on the final frames (a known export artefact) is trimmed.
    n_end = 0
    while n_end < steps.size and steps[steps.size - 1 - n_end] <= 0:
        n_end += 1
    if n_end:
        rec.notes.append(f"dropped {n_end} trailing sample(s) with a repeated time stamp")
        t, y, steps = t[:-n_end], y[:-n_end], steps[:-n_end]
    bad_steps = np.flatnonzero(~(steps > 0) & np.isfinite(steps))
    if bad_steps.size:
        rec.issue = f"non-increasing time stamps at sample {int(bad_steps[0]) + 1}"
        return rec
    inner_nan_t = ~np.isfinite(t)
    if inner_nan_t.any():
        if np.isfinite(y[inner_nan_t]).any():
            rec.issue = "samples with ΔF/F but without time stamps inside the recording"
            return rec
        idx = np.arange(t.size)
        t = np.interp(idx, idx[~inner_nan_t], t[~inner_nan_t])
    if t.size < MIN_FRAMES:
        rec.issue = f"only {t.size} usable frame(s)"
        return rec
    spikes_raw = _numeric(struct, "events_AP")
    spikes = np.empty(0) if spikes_raw is None else spikes_raw[np.isfinite(spikes_raw)]
    spikes = np.sort(spikes / EPHYS_RATE_HZ)
    rate = 1.0 / period
    inside = (spikes >= t[0] - 0.5 * period) & (spikes < t[-1] + 0.5 * period)
    if not inside.all():
        rec.notes.append(f"dropped {int((~inside).sum())} spike(s) outside the imaging window")
    rec.frame_rate_hz = rate
    rec.t0_s = float(t[0])
    rec.dff = y.astype(np.float32)
    rec.spike_times_s = spikes[inside]
    return rec


def read_ground_truth_file(path: Path) -> list[_Recording]:
    """All recordings of one neuron file; raise :class:`GroundTruthError` if it is unusable."""
    try:
        content = sio.loadmat(path, squeeze_me=False, struct_as_record=True)
    except Exception as exc:  # scipy raises a zoo of types for corrupt files
        raise GroundTruthError(f"{path}: not a readable MATLAB file ({exc})") from exc
    if "CAttached" not in content:
        keys = sorted(k for k in content if not k.startswith("__"))
        raise GroundTruthError(f"{path}: no variable 'CAttached' (found {keys})")
    cells = content["CAttached"]
    if not isinstance(cells, np.ndarray) or cells.size == 0:
        raise GroundTruthError(f"{path}: 'CAttached' holds no recordings")
    if cells.dtype != object:  # a single struct instead of a cell array
        cells = np.array([cells], dtype=object)
    return [parse_recording(_unwrap_struct(cell)) for cell in cells.ravel()]


def _unwrap_struct(cell: Any) -> Any:
    while isinstance(cell, np.ndarray) and cell.dtype == object and cell.size == 1:
        cell = cell.flat[0]
    if isinstance(cell, np.ndarray) and cell.dtype.names is not None and cell.size == 1:
        return cell.reshape(1, 1)
    return cell


class GroundTruthDataset(AbstractDataset[None, pd.DataFrame]):
    """Read-only dataset: a ground-truth database folder → one row per recording.

    Columns: ``dataset, neuron, recording, file, indicator, species, region, cell_type,
    inhibitory, frame_rate_hz, t0_s, dff`` (float32 array, NaNs kept), ``spike_times_s``
    (float64 array, s, relative to the same clock as ``t0_s``), ``valid`` and ``issue``.

    Args:
        path: the database folder (one sub-folder per dataset).
        on_invalid: what to do with a recording that cannot be used (missing fields, lengths
            that disagree, non-increasing time stamps, no computable frame rate): ``"skip"``
            keeps it as a row with ``valid=False`` and the reason in ``issue`` (logged as a
            warning), ``"raise"`` raises :class:`GroundTruthError` naming file and recording.
            Unreadable files, files without ``CAttached`` and an empty folder always raise.
    """

    def __init__(self, path: str, on_invalid: str = "skip", metadata: dict | None = None):
        if on_invalid not in {"skip", "raise"}:
            raise ValueError(f"on_invalid must be 'skip' or 'raise', got {on_invalid!r}")
        self._path = Path(path)
        self._on_invalid = on_invalid
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path), "on_invalid": self._on_invalid}

    def _save(self, data: None) -> None:
        raise DatasetError(f"{type(self).__name__} is read-only ({self._path})")

    def _exists(self) -> bool:
        return self._path.is_dir()

    def _load(self) -> pd.DataFrame:
        if not self._path.is_dir():
            raise GroundTruthError(f"ground-truth folder {self._path} does not exist")
        subfolders = sorted(p for p in self._path.iterdir() if p.is_dir())
        folders = [p for p in subfolders if p.name[:2].upper() == "DS"]  # ds03-… too
        for other in sorted(set(subfolders) - set(folders)):
            if not other.name.startswith("."):
                logger.warning("%s: not a 'DSnn-…' dataset folder, ignored", other)
        files = [
            (folder, f)
            for folder in folders
            for f in sorted(folder.iterdir())
            if f.is_file() and f.suffix.lower() == ".mat"  # .MAT too
        ]
        if not files:
            raise GroundTruthError(
                f"ground-truth folder {self._path} holds no 'DSnn-*/*.mat' files"
            )
        rows = []
        for folder, file in files:
            try:
                info = parse_dataset_name(folder.name)
            except ValueError as exc:
                raise GroundTruthError(f"{folder}: {exc}") from exc
            neuron = file.stem.removesuffix("_mini").removesuffix("_MINI")
            for index, rec in enumerate(read_ground_truth_file(file)):
                where = f"{file} recording {index}"
                if rec.issue and self._on_invalid == "raise":
                    raise GroundTruthError(f"{where}: {rec.issue}")
                if rec.issue:
                    logger.warning("Skipping %s: %s", where, rec.issue)
                for note in rec.notes:
                    logger.info("%s: %s", where, note)
                rows.append(
                    {
                        "dataset": info.name,
                        "neuron": neuron,
                        "recording": index,
                        "file": str(file.relative_to(self._path)),
                        "indicator": info.indicator,
                        "species": info.species,
                        "region": info.region,
                        "cell_type": info.cell_type,
                        "inhibitory": info.inhibitory,
                        "frame_rate_hz": rec.frame_rate_hz,
                        "t0_s": rec.t0_s,
                        "dff": rec.dff,
                        "spike_times_s": rec.spike_times_s,
                        "valid": not rec.issue,
                        "issue": rec.issue or "; ".join(rec.notes),
                    }
                )
        return pd.DataFrame(rows, columns=RECORD_COLUMNS)


REJECTION_COLUMNS = ["dataset", "neuron", "recording", "file", "issue"]
# the columns a usable recording keeps: the reader's, without its file and validity fields
RECORDING_COLUMNS = [c for c in RECORD_COLUMNS if c not in ("file", "valid", "issue")]


def validate_recordings(raw: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split usable recordings from rejected ones.

    Rejected: recordings the reader flagged (missing fields, lengths that disagree, …) and
    recordings whose ΔF/F is entirely NaN. Each is logged as a warning and listed with its
    reason in the rejection table.

    Returns:
        ``(recordings, rejections)``.
    """
    all_nan = np.array(
        [bool(v) and np.isnan(np.asarray(d, float)).all() for d, v in zip(raw["dff"], raw["valid"])]
    )
    raw = raw.copy()
    raw.loc[all_nan, "issue"] = "ΔF/F is NaN in every frame"
    bad = ~raw["valid"].to_numpy(bool) | all_nan
    for row in raw[all_nan].itertuples():
        logger.warning("Dropping %s recording %s: %s", row.file, row.recording, row.issue)
    if bad.all():
        raise ValueError("no usable recording in the ground-truth database")
    rejections = raw.loc[bad, REJECTION_COLUMNS].reset_index(drop=True)
    recordings = raw.loc[~bad, RECORDING_COLUMNS].reset_index(drop=True)
    logger.info(
        "%d recordings of %d neurons usable, %d rejected",
        len(recordings),
        recordings.groupby(["dataset", "neuron"]).ngroups,
        len(rejections),
    )
    return recordings, rejections
