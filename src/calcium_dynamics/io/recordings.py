"""Kedro datasets that read a lab's recordings into one table of raw traces (read-only).

Every reader returns one row per ROI with the columns of :data:`TRACE_TABLE_COLUMNS`:
``trace_id`` (e.g. ``plane0/cell12``), ``plane`` (int), ``cell`` (ROI index in its plane),
``frame_rate_hz`` (Hz), ``F`` (raw fluorescence, float array (n_frames,)), ``Fneu`` (neuropil
fluorescence of the same length, or ``None``), ``dff`` (ΔF/F as a fraction when the file
already holds it, else ``None``), ``source`` (the file or folder read) and ``start_time_s``
(time of the first frame, s; NWB: session time, else 0). A recording without
a frame rate is refused with a message that says how to give one.

Also here: :class:`NWBTrialsDataset` (an NWB file's trials table),
:class:`OptionalPartitionedDataset` (a partitioned dataset that may be empty: optional inputs
such as trials tables) and
:class:`SpikeModelSourceDataset` (the spike model from a file, a shortcut name or the model
registry).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from kedro.io import AbstractDataset, DatasetError
from kedro_datasets.partitions import PartitionedDataset

from calcium_dynamics.io.safe_pickle import load_npy_restricted
from calcium_dynamics.signal.validation import check_frame_rate

logger = logging.getLogger(__name__)

TRACE_TABLE_COLUMNS = [
    "trace_id",
    "plane",
    "cell",
    "frame_rate_hz",
    "F",
    "Fneu",
    "dff",
    "source",
    "start_time_s",
]
SUITE2P_FILES = ("F.npy", "Fneu.npy", "iscell.npy")


class RecordingError(DatasetError):
    """A recording that cannot be read as it is."""


def _frame_rate(value: Any, where: str) -> float:
    try:
        return check_frame_rate(value, where)
    except ValueError as err:
        raise RecordingError(
            f"{err}. Give the frame rate in the catalog entry, e.g. `frame_rate_hz: 30.0`"
        ) from None


class _ReadOnly(AbstractDataset[pd.DataFrame, pd.DataFrame]):
    def _save(self, data: pd.DataFrame) -> None:
        raise DatasetError(f"{type(self).__name__} is read-only: it reads a recording's files")

    def _exists(self) -> bool:
        return self._path.exists()


class Suite2pDataset(_ReadOnly):
    """A Suite2p output folder: ``plane0/``, ``plane1/`` … or a single plane's folder.

    Each plane folder holds ``F.npy`` and ``Fneu.npy`` ((n_rois, n_frames)), ``iscell.npy``
    ((n_rois, 2): label, classifier probability) and ``ops.npy`` (holding ``fs``, the plane's
    frame rate in Hz). Suite2p's ``combined/`` folder repeats the planes and is skipped.

    Args:
        path: the ``suite2p`` folder (with ``plane*`` sub-folders), one plane folder, or a
            plane's ``F.npy`` (so that a ``PartitionedDataset`` with ``filename_suffix: /F.npy``
            gives one partition per plane).
        iscell_threshold: a ROI is a cell when its classifier probability (column 1 of
            ``iscell.npy``) is ≥ this; ``None`` uses the label column 0 instead (it carries the
            curation done in Suite2p's GUI).
        cells_only: drop ROIs that are not cells (otherwise keep them, flagged in ``is_cell``).
        frame_rate_hz: overrides ``ops['fs']`` (needed when ``ops.npy`` is missing).
    """

    def __init__(
        self,
        path: str,
        iscell_threshold: float | None = 0.5,
        cells_only: bool = True,
        frame_rate_hz: float | None = None,
        metadata: dict | None = None,
    ):
        self._path = Path(path)
        self._threshold = None if iscell_threshold is None else float(iscell_threshold)
        self._cells_only = bool(cells_only)
        self._frame_rate_hz = frame_rate_hz
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {
            "path": str(self._path),
            "iscell_threshold": self._threshold,
            "cells_only": self._cells_only,
            "frame_rate_hz": self._frame_rate_hz,
        }

    def _plane_folders(self) -> list[tuple[int, Path]]:
        folder = self._path
        if folder.name == "F.npy" and folder.is_file():
            folder = folder.parent
        if not folder.is_dir():
            raise RecordingError(f"Suite2p folder {self._path} does not exist")
        if (folder / "F.npy").is_file():
            name = folder.name
            plane = int(name[5:]) if name.startswith("plane") and name[5:].isdigit() else 0
            return [(plane, folder)]
        planes = sorted(
            (int(p.name[5:]), p)
            for p in self._path.iterdir()
            if p.is_dir() and p.name.startswith("plane") and p.name[5:].isdigit()
        )
        if not planes and (self._path / "suite2p").is_dir():
            return Suite2pDataset(self._path / "suite2p")._plane_folders()
        if not planes:
            raise RecordingError(
                f"{self._path} is not a Suite2p output folder: it holds neither F.npy nor "
                "plane0/, plane1/ … sub-folders"
            )
        return planes

    def _ops_rate(self, folder: Path) -> float:
        if self._frame_rate_hz is not None:
            return _frame_rate(self._frame_rate_hz, f"Suite2p folder {folder}")
        ops_file = folder / "ops.npy"
        if not ops_file.is_file():
            raise RecordingError(
                f"{ops_file} not found: Suite2p writes the frame rate (`fs`) there. Copy "
                "ops.npy next to F.npy, or give the rate in the catalog entry, e.g. "
                "`frame_rate_hz: 30.0`"
            )
        # ops.npy is Suite2p's own format: a Python dict pickled by numpy. It is read with a
        # restricted unpickler that admits plain data only, so a crafted file cannot run code.
        try:
            ops = load_npy_restricted(ops_file)
        except ValueError as exc:  # UnsafePickleError included: it names the file and type
            raise RecordingError(str(exc)) from exc
        if not isinstance(ops, dict) or "fs" not in ops:
            raise RecordingError(
                f"{ops_file} holds no frame rate `fs`; give it in the catalog entry, e.g. "
                "`frame_rate_hz: 30.0`"
            )
        return _frame_rate(ops["fs"], f"{ops_file} (fs)")

    def _read_plane(self, plane: int, folder: Path) -> pd.DataFrame:
        missing = [n for n in SUITE2P_FILES if not (folder / n).is_file()]
        if missing:
            raise RecordingError(f"Suite2p plane folder {folder} lacks {', '.join(missing)}")
        f = np.load(folder / "F.npy")  # numeric arrays only: allow_pickle stays False
        fneu = np.load(folder / "Fneu.npy")
        iscell = np.load(folder / "iscell.npy")
        if not np.issubdtype(f.dtype, np.floating):
            f = f.astype(np.float32)
        if not np.issubdtype(fneu.dtype, np.floating):
            fneu = fneu.astype(np.float32)
        if f.ndim != 2:
            raise RecordingError(f"{folder / 'F.npy'} must be (n_rois, n_frames), got {f.shape}")
        if fneu.shape != f.shape:
            raise RecordingError(
                f"{folder}: F.npy has shape {f.shape} but Fneu.npy has shape {fneu.shape}; "
                "both must come from the same Suite2p run"
            )
        iscell = iscell.reshape(len(iscell), -1) if iscell.ndim else iscell.reshape(1, 1)
        if iscell.shape[0] != f.shape[0]:
            raise RecordingError(
                f"{folder}: iscell.npy lists {iscell.shape[0]} ROIs but F.npy has {f.shape[0]}"
            )
        rate = self._ops_rate(folder)
        prob = iscell[:, 1] if iscell.shape[1] > 1 else iscell[:, 0]
        if self._threshold is None:
            is_cell = iscell[:, 0] > 0.5
        else:
            is_cell = prob >= self._threshold
        rows = np.flatnonzero(is_cell) if self._cells_only else np.arange(f.shape[0])
        logger.info("%s: %d of %d ROIs kept at %.3g Hz", folder, rows.size, f.shape[0], rate)
        return pd.DataFrame(
            {
                "trace_id": [f"plane{plane}/cell{i}" for i in rows],
                "plane": plane,
                "cell": rows.astype(int),
                "frame_rate_hz": rate,
                # rows are views of the loaded arrays (Suite2p's float32): no copy per ROI
                "F": [f[i] for i in rows],
                "Fneu": [fneu[i] for i in rows],
                "dff": None,
                "source": str(folder),
                "start_time_s": 0.0,
                "is_cell": is_cell[rows],
                "cell_probability": prob[rows].astype(float),
            },
            columns=[*TRACE_TABLE_COLUMNS, "is_cell", "cell_probability"],
        )

    def _load(self) -> pd.DataFrame:
        table = pd.concat(
            [self._read_plane(p, folder) for p, folder in self._plane_folders()],
            ignore_index=True,
        )
        if table.empty:
            raise RecordingError(
                f"no cells in {self._path} at iscell_threshold={self._threshold}: lower the "
                "threshold or set cells_only: false"
            )
        return table


class ArrayTraceDataset(_ReadOnly):
    """Traces in a ``.npy``, ``.h5`` or ``.csv`` file, neurons × time, with the frame rate given
    here.

    Args:
        path: the file (``.npy``: a 2-D array; ``.h5`` / ``.hdf5``: the 2-D dataset ``key``;
            ``.csv``: numbers only, or a header row).
        frame_rate_hz: frames per second (Hz); required (a file does not carry its rate).
        neuropil_path: optional file of the same shape with neuropil fluorescence.
        key: name of the traces' dataset inside an HDF5 file (``None``: its only dataset).
        neuropil_key: name of a neuropil dataset of the same shape inside the same HDF5 file
            (optional; used when ``neuropil_path`` is not given).
        signal: ``"F"`` (raw fluorescence: ΔF/F is computed) or ``"dff"`` (already ΔF/F as a
            fraction: used as it is).
        transpose: the file is time × neurons.
    """

    def __init__(
        self,
        path: str,
        frame_rate_hz: float | None = None,
        neuropil_path: str | None = None,
        signal: str = "F",
        transpose: bool = False,
        key: str | None = None,
        neuropil_key: str | None = None,
        metadata: dict | None = None,
    ):
        if signal not in ("F", "dff"):
            raise ValueError(f"signal={signal!r} must be 'F' (raw fluorescence) or 'dff'")
        self._path = Path(path)
        self._frame_rate_hz = frame_rate_hz
        self._neuropil_path = None if neuropil_path is None else Path(neuropil_path)
        self._signal = signal
        self._transpose = bool(transpose)
        self._key = key
        self._neuropil_key = neuropil_key
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {
            "path": str(self._path),
            "frame_rate_hz": self._frame_rate_hz,
            "neuropil_path": None if self._neuropil_path is None else str(self._neuropil_path),
            "signal": self._signal,
            "transpose": self._transpose,
            "key": self._key,
            "neuropil_key": self._neuropil_key,
        }

    @staticmethod
    def _read_h5(path: Path, key: str | None) -> np.ndarray:
        import h5py  # installed with pynwb (the `nwb` extra)

        with h5py.File(path, "r") as h5:
            names: list[str] = []
            h5.visititems(lambda n, obj: names.append(n) if isinstance(obj, h5py.Dataset) else None)
            if key is None:
                if len(names) != 1:
                    raise RecordingError(
                        f"{path} holds {len(names)} datasets {names[:10]}: name the traces with "
                        "`key:` in the catalog entry"
                    )
                key = names[0]
            if key not in h5 or not isinstance(h5[key], h5py.Dataset):
                raise RecordingError(f"{path} has no dataset {key!r}; it holds {names[:10]}")
            return np.asarray(h5[key][()])

    def _read(self, path: Path, key: str | None = None) -> np.ndarray:
        if not path.is_file():
            raise RecordingError(f"trace file {path} does not exist")
        suffix = path.suffix.lower()
        if suffix == ".npy":
            arr = np.load(path)  # numeric arrays only: allow_pickle stays False
        elif suffix in (".h5", ".hdf5"):
            arr = self._read_h5(path, key)
        elif suffix == ".csv":
            table = pd.read_csv(path, header=None)
            numeric = table.apply(pd.to_numeric, errors="coerce")
            if numeric.iloc[0].isna().all() and len(table) > 1:  # a header row
                numeric = numeric.iloc[1:]
            arr = numeric.to_numpy(np.float64)
        else:
            raise RecordingError(
                f"{path}: unsupported file type {suffix!r} (use .npy, .h5 or .csv)"
            )
        arr = np.asarray(arr, dtype=np.float64)
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2:
            raise RecordingError(f"{path} must hold neurons × time, got shape {arr.shape}")
        return arr.T if self._transpose else arr

    def _load(self) -> pd.DataFrame:
        rate = _frame_rate(self._frame_rate_hz, f"trace file {self._path}")
        traces = self._read(self._path, self._key)
        if self._neuropil_path is not None:
            fneu = self._read(self._neuropil_path, self._neuropil_key)
        elif self._neuropil_key is not None:
            fneu = self._read(self._path, self._neuropil_key)
        else:
            fneu = None
        if fneu is not None and fneu.shape != traces.shape:
            raise RecordingError(
                f"{self._path} has shape {traces.shape} but its neuropil "
                f"({self._neuropil_path or self._neuropil_key}) has shape "
                f"{fneu.shape}: the neuropil file must match the traces"
            )
        n = traces.shape[0]
        is_f = self._signal == "F"
        return pd.DataFrame(
            {
                "trace_id": [f"cell{i}" for i in range(n)],
                "plane": 0,
                "cell": np.arange(n),
                "frame_rate_hz": rate,
                "F": list(traces) if is_f else None,
                "Fneu": list(fneu) if fneu is not None and is_f else None,
                "dff": None if is_f else list(traces),
                "source": str(self._path),
                "start_time_s": 0.0,
            },
            columns=TRACE_TABLE_COLUMNS,
        )


class NWBDataset(_ReadOnly):
    """ROI traces from an NWB file: a ``RoiResponseSeries`` in the ``ophys`` processing module.

    Args:
        path: the ``.nwb`` file.
        interface: ``"Fluorescence"`` (raw: ΔF/F is computed) or ``"DfOverF"`` (already ΔF/F,
            used as it is).
        series: name of the ``RoiResponseSeries`` in the interface; ``None`` takes the only
            one, or the first that is not the neuropil series.
        neuropil_series: name of a series in ``Fluorescence`` holding neuropil traces (as in
            Suite2p's NWB export), used for neuropil subtraction when present.
        frame_rate_hz: overrides the series' ``rate`` (needed when the series has neither a
            rate nor timestamps).
    """

    def __init__(
        self,
        path: str,
        interface: str = "Fluorescence",
        series: str | None = None,
        neuropil_series: str | None = "Neuropil",
        frame_rate_hz: float | None = None,
        metadata: dict | None = None,
    ):
        if interface not in ("Fluorescence", "DfOverF"):
            raise ValueError(f"interface={interface!r} must be 'Fluorescence' or 'DfOverF'")
        self._path = Path(path)
        self._interface = interface
        self._series = series
        self._neuropil = neuropil_series
        self._frame_rate_hz = frame_rate_hz
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {
            "path": str(self._path),
            "interface": self._interface,
            "series": self._series,
            "neuropil_series": self._neuropil,
            "frame_rate_hz": self._frame_rate_hz,
        }

    def _rate(self, series) -> float:
        where = f"{self._path} ({series.name})"
        if self._frame_rate_hz is not None:
            return _frame_rate(self._frame_rate_hz, where)
        if series.rate is not None:
            return _frame_rate(series.rate, where)
        if series.timestamps is not None and len(series.timestamps) > 1:
            dt = np.diff(np.asarray(series.timestamps[:], dtype=np.float64))
            if np.any(dt <= 0):
                raise RecordingError(f"{where}: timestamps are not increasing")
            if np.ptp(dt) > 0.01 * np.median(dt):
                logger.warning("%s: frame intervals vary by > 1 %%; using the median", where)
            return _frame_rate(1.0 / float(np.median(dt)), where)
        return _frame_rate(None, where)

    @staticmethod
    def _traces(series) -> np.ndarray:
        data = np.asarray(series.data[:], dtype=np.float64)  # NWB: time × ROIs
        return data[:, None].T if data.ndim == 1 else data.T

    def _load(self) -> pd.DataFrame:
        from pynwb import NWBHDF5IO  # optional dependency, needed only for NWB files

        if not self._path.is_file():
            raise RecordingError(f"NWB file {self._path} does not exist")
        with NWBHDF5IO(str(self._path), "r") as io:
            nwb = io.read()
            if "ophys" not in nwb.processing:
                raise RecordingError(
                    f"{self._path} has no 'ophys' processing module: it holds no ROI traces "
                    "(an NWB file with optical physiology keeps them in "
                    "processing['ophys'] as Fluorescence or DfOverF)"
                )
            ophys = nwb.processing["ophys"]
            if self._interface not in ophys.data_interfaces:
                raise RecordingError(
                    f"{self._path}: ophys holds no {self._interface!r}; it holds "
                    f"{sorted(ophys.data_interfaces)} (set `interface` in the catalog entry)"
                )
            container = ophys[self._interface]
            names = list(container.roi_response_series)
            name = self._series
            if name is None:
                candidates = [n for n in names if n != self._neuropil] or names
                name = candidates[0]
            if name not in names:
                raise RecordingError(
                    f"{self._path}: {self._interface} has no series {name!r}; it has {names}"
                )
            series = container.roi_response_series[name]
            traces = self._traces(series)
            rate = self._rate(series)
            if series.timestamps is not None and len(series.timestamps) > 0:
                start = float(series.timestamps[0])
            else:
                start = float(series.starting_time or 0.0)
            fneu = None
            if self._interface == "Fluorescence" and self._neuropil in names and self._neuropil:
                fneu = self._traces(container.roi_response_series[self._neuropil])
                if fneu.shape != traces.shape:
                    raise RecordingError(
                        f"{self._path}: series {name!r} has shape {traces.shape} but "
                        f"{self._neuropil!r} has shape {fneu.shape}"
                    )
            try:
                roi_ids = [int(i) for i in series.rois.table.id[:]]
                roi_ids = [roi_ids[int(i)] for i in series.rois.data[:]]
            except (AttributeError, TypeError, IndexError):
                roi_ids = list(range(traces.shape[0]))
        n = traces.shape[0]
        is_f = self._interface == "Fluorescence"
        return pd.DataFrame(
            {
                "trace_id": [f"plane0/cell{i}" for i in roi_ids[:n]],
                "plane": 0,
                "cell": roi_ids[:n],
                "frame_rate_hz": rate,
                "F": list(traces) if is_f else None,
                "Fneu": list(fneu) if fneu is not None else None,
                "dff": None if is_f else list(traces),
                "source": str(self._path),
                "start_time_s": start,
                "series": f"ophys/{self._interface}/{name}",
            },
            columns=[*TRACE_TABLE_COLUMNS, "series"],
        )


class NWBTrialsDataset(_ReadOnly):
    """The trials table (a ``TimeIntervals`` table) of an NWB file, or an empty table.

    Returns one row per trial with ``start_time`` and ``stop_time`` (s, in the file's session
    time) and the table's other one-value-per-trial columns. A file without the table gives an
    empty table with those two columns: trials are optional.

    Args:
        path: the ``.nwb`` file.
        table: ``"trials"`` (``nwbfile.trials``) or the name of another table in
            ``nwbfile.intervals``.
    """

    def __init__(self, path: str, table: str = "trials", metadata: dict | None = None):
        self._path = Path(path)
        self._table = table
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path), "table": self._table}

    def _load(self) -> pd.DataFrame:
        from pynwb import NWBHDF5IO  # optional dependency, needed only for NWB files

        if not self._path.is_file():
            raise RecordingError(f"NWB file {self._path} does not exist")
        with NWBHDF5IO(str(self._path), "r") as io:
            nwb = io.read()
            intervals = nwb.intervals or {}
            if self._table not in intervals:
                logger.info("%s has no %r table: no trials", self._path, self._table)
                return pd.DataFrame({"start_time": [], "stop_time": []})
            frame = intervals[self._table].to_dataframe()
        keep = [
            c
            for c in frame.columns
            if c in ("start_time", "stop_time")
            or frame[c].map(lambda v: np.isscalar(v) or v is None).all()
        ]
        return frame[keep].reset_index(drop=True)


class OptionalPartitionedDataset(PartitionedDataset):
    """A ``partitions.PartitionedDataset`` that loads as ``{}`` when its folder is missing or
    holds no partition (an optional input, e.g. trials tables for some recordings only)."""

    def load(self) -> dict[str, Any]:
        try:
            return super().load()
        except (DatasetError, FileNotFoundError) as err:
            logger.info("%s: no partitions (%s)", self._path, err)
            return {}

    def _exists(self) -> bool:
        return True


class SpikeModelSourceDataset(AbstractDataset[None, Any]):
    """The spike model(s) a recording is run through, named by one string (read-only).

    ``source`` is one of:

    * ``auto`` (the default): the shipped CASCADE zoos; each recording goes to the zoo whose
      frame rate is nearest its own, each cell to the noise level nearest its ν;
    * ``cascade`` (the same) or ``ens2`` (the shipped ENS²);
    * a path to a model file (``.pt``, written by ``SpikeModel.save``, e.g. a model the
      ``spike_inference`` pipeline trained: ``data/06_models/cascade_zoo.pt``);
    * a registered name, ``registry:NAME``, ``registry:NAME@vX.Y.Z`` or
      ``registry:NAME#STAGE``: checksum-verified, loaded without running code.

    Loads a :class:`~calcium_dynamics.models.spikes.routing.ModelSet` (models load on first
    use).

    Args:
        source: see above.
        cell_class: ``excitatory`` or ``inhibitory`` zoos for ``auto`` / ``cascade``.
        project_path: the project holding the shipped models and the registry.
    """

    def __init__(
        self,
        source: str = "auto",
        cell_class: str = "excitatory",
        project_path: str = ".",
        metadata: dict | None = None,
    ):
        self._source = str(source)
        self._cell_class = cell_class
        self._project_path = project_path
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"source": self._source, "cell_class": self._cell_class}

    def _load(self) -> Any:
        from calcium_dynamics.models.spikes.api import model_set

        if self._source.strip() == "registry:":
            raise DatasetError(
                f"spike model {self._source!r}: give a registered name, e.g. "
                "registry:cascade-30hz-excitatory#production or registry:NAME@v1.0.0"
            )
        try:
            return model_set(
                self._source, cell_class=self._cell_class, project_path=self._project_path
            )
        except (ValueError, FileNotFoundError) as exc:
            raise DatasetError(
                f"spike_model={self._source!r}: {exc}. Choose --params spike_model=auto | "
                "cascade | ens2 | /path/to/model.pt | registry:NAME#production"
            ) from exc

    def _save(self, data: Any) -> None:
        raise DatasetError(
            f"spike model {self._source!r} is read-only here: models are written by the "
            "spike_inference pipeline or the zoo training command"
        )

    def _exists(self) -> bool:
        try:
            self._load()
        except DatasetError:
            return False
        return True
