"""Kedro dataset: a copy of an NWB recording with the inferred spike rates added.

The original file is never opened for writing: its bytes are copied to the output path and the
copy gets a new processing module (``spike_inference`` by default) holding

* ``inferred_spike_rate``: a ``RoiResponseSeries`` (time × ROIs, Hz) on the same ROIs, frame
  rate / timestamps and start time as the series the rates were inferred from;
* ``inferred_spike_events``: a table with one row per ROI, ``roi_id`` and ``spike_times``
  (s, session time; a ragged column);
* optionally, further ``TimeSeries`` under names of the caller's choosing (latent-model
  outputs such as latent factors (n_times, n_latents) or discrete states (n_times,), with their
  own timestamps in s, session time). Integer data stay integer; float data may hold NaN
  (e.g. for dropped time bins) but not inf.

The copy is written under a temporary name and renamed into place, so an interrupted run
leaves no half-written file under the final name.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
from kedro.io import AbstractDataset, DatasetError

RATE_SERIES = "inferred_spike_rate"
EVENT_TABLE = "inferred_spike_events"
_SERIES_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_SERIES_REQUIRED = ("data", "timestamps_s", "unit", "description")
_SERIES_KEYS = {*_SERIES_REQUIRED, "comments"}


def _source_series(nwb, series: str, source: Path):
    parts = series.split("/")
    if len(parts) != 3:
        raise DatasetError(f"series {series!r} must be 'MODULE/INTERFACE/NAME'")
    module, interface, name = parts
    try:
        return nwb.processing[module][interface].roi_response_series[name]
    except KeyError:
        raise DatasetError(f"{source} has no series {series!r}") from None


def _series_data(name: str, data: Any) -> np.ndarray:
    """``data`` of time series ``name`` as an integer or float array, (n_times,) or
    (n_times, n_columns); refuses inf (NaN is allowed in float data)."""
    array = np.asarray(data)
    if array.dtype.kind not in "iuf":
        raise DatasetError(
            f"time_series[{name!r}]['data'] must be integer or float; got dtype {array.dtype}"
        )
    if array.ndim not in (1, 2) or array.shape[0] == 0:
        raise DatasetError(
            f"time_series[{name!r}]['data'] must be (n_times,) or (n_times, n_columns) with "
            f"n_times ≥ 1; got shape {array.shape}"
        )
    if array.dtype.kind == "f" and np.isinf(array).any():
        raise DatasetError(f"time_series[{name!r}]['data'] holds inf (NaN is allowed)")
    return array


def _series_timestamps(name: str, timestamps: Any, n_times: int) -> np.ndarray:
    """Timestamps (s, session time) of time series ``name``: finite, non-decreasing, (n_times,)."""
    stamps = np.asarray(timestamps, np.float64)
    if stamps.shape != (n_times,):
        raise DatasetError(
            f"time_series[{name!r}]: data has {n_times} rows but timestamps_s has shape "
            f"{stamps.shape}"
        )
    if not np.isfinite(stamps).all():
        raise DatasetError(f"time_series[{name!r}]['timestamps_s'] holds NaN or inf")
    back = np.flatnonzero(np.diff(stamps) < 0)
    if back.size:
        raise DatasetError(
            f"time_series[{name!r}]['timestamps_s'] decrease after sample {int(back[0])} "
            f"({stamps[back[0]]} s → {stamps[back[0] + 1]} s)"
        )
    return stamps


def _time_series(entries: Any) -> dict[str, dict[str, Any]]:
    """The payload's ``time_series``, checked; name → data, timestamps_s, unit, description,
    comments."""
    if entries is None:
        return {}
    if not isinstance(entries, dict):
        raise DatasetError(f"time_series must be a dict name → series; got {type(entries)}")
    out = {}
    for name, entry in entries.items():
        if not isinstance(name, str) or not _SERIES_NAME.match(name):
            raise DatasetError(
                f"time series name {name!r} may hold only letters, digits, '_', '.' and '-'"
            )
        if name in (RATE_SERIES, EVENT_TABLE):
            raise DatasetError(f"time series name {name!r} is taken by the inferred spikes")
        if not isinstance(entry, dict):
            raise DatasetError(f"time_series[{name!r}] must be a dict; got {type(entry)}")
        missing = [k for k in _SERIES_REQUIRED if k not in entry]
        unknown = sorted(set(entry) - _SERIES_KEYS)
        if missing or unknown:
            raise DatasetError(
                f"time_series[{name!r}] needs {list(_SERIES_REQUIRED)} (and optionally "
                f"'comments'); missing {missing}, unknown {unknown}"
            )
        data = _series_data(name, entry["data"])
        out[name] = {
            "data": data,
            "timestamps_s": _series_timestamps(name, entry["timestamps_s"], data.shape[0]),
            "unit": str(entry["unit"]),
            "description": str(entry["description"]),
            "comments": str(entry.get("comments", "no comments")),
        }
    return out


class NWBRatesDataset(AbstractDataset[dict[str, Any], dict[str, Any]]):
    """An NWB file copied from the recording, with inferred rates and events added.

    ``save`` takes a dict: ``source`` (path of the original NWB file), ``series``
    (``"ophys/Fluorescence/NAME"``: the ``RoiResponseSeries`` the rates come from), ``roi_ids``
    (ROI ids of the rows, shape (n_rois,)), ``rate_hz`` (Hz, shape (n_rois, n_frames) at the
    series' frame times), ``spike_times_s`` (optional: one array per ROI, s from the series'
    first frame), ``description`` (text stored with the series) and ``time_series``
    (optional: name → dict of ``data`` (n_times,) or (n_times, n_columns), integer or float,
    NaN allowed, inf not; ``timestamps_s`` (n_times,), s in session time, finite and
    non-decreasing, stored as given; ``unit``; ``description``; optional ``comments``). Each
    time series is stored as a ``pynwb.TimeSeries`` of that name in the added module; names
    match ``^[A-Za-z0-9_.-]+$`` and differ from ``inferred_spike_rate`` and
    ``inferred_spike_events``.

    ``load`` reads the added module back: ``rate_hz`` (n_rois, n_frames), ``roi_ids``,
    ``frame_rate_hz`` (``nan`` when the series has timestamps), ``timestamps_s``,
    ``spike_times_s`` (session time) and ``time_series`` (name → ``data`` in its stored dtype,
    ``timestamps_s``, ``unit``, ``description``; empty when none was saved).

    Args:
        filepath: the output ``.nwb`` file (never the original).
        module_name: name of the processing module added to the copy.
    """

    def __init__(
        self,
        filepath: str,
        module_name: str = "spike_inference",
        metadata: dict[str, Any] | None = None,
    ):
        self._filepath = Path(filepath)
        self._module = module_name
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "module_name": self._module}

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _save(self, data: dict[str, Any]) -> None:
        from hdmf.common import DynamicTable, DynamicTableRegion, VectorData, VectorIndex
        from pynwb import NWBHDF5IO, TimeSeries
        from pynwb.ophys import RoiResponseSeries

        for key in ("source", "series", "roi_ids", "rate_hz"):
            if key not in data:
                raise DatasetError(f"NWBRatesDataset.save needs {key!r}; got {sorted(data)}")
        source = Path(data["source"])
        if not source.is_file():
            raise DatasetError(f"original NWB file {source} does not exist")
        if source.resolve() == self._filepath.resolve():
            raise DatasetError(
                f"the output {self._filepath} is the original recording: choose another path "
                "(the original is never modified)"
            )
        rates = np.asarray(data["rate_hz"], np.float32)
        roi_ids = [int(i) for i in np.asarray(data["roi_ids"]).ravel()]
        if rates.ndim != 2 or rates.shape[0] != len(roi_ids):
            raise DatasetError(
                f"rate_hz must be (n_rois, n_frames) with n_rois = {len(roi_ids)} ROI ids; "
                f"got {rates.shape}"
            )
        extra = _time_series(data.get("time_series"))
        self._filepath.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._filepath.with_name(self._filepath.name + ".partial")
        shutil.copyfile(source, tmp)
        try:
            with NWBHDF5IO(str(tmp), "a") as io:
                nwb = io.read()
                series = _source_series(nwb, str(data["series"]), source)
                if rates.shape[1] != series.data.shape[0]:
                    raise DatasetError(
                        f"{source} {data['series']}: {series.data.shape[0]} frames, but the "
                        f"rates have {rates.shape[1]}"
                    )
                if self._module in nwb.processing:
                    raise DatasetError(
                        f"{source} already holds a processing module {self._module!r}; set "
                        "another `module_name` for the output dataset"
                    )
                table = series.rois.table
                ids = [int(i) for i in table.id[:]]
                missing = [i for i in roi_ids if i not in ids]
                if missing:
                    raise DatasetError(f"{source}: ROI ids {missing[:10]} are not in {table.name}")
                region = DynamicTableRegion(
                    name="rois",
                    data=[ids.index(i) for i in roi_ids],
                    description="ROIs whose spike rates were inferred",
                    table=table,
                )
                if series.rate is not None:
                    timing = {"rate": float(series.rate), "starting_time": series.starting_time}
                    start = float(series.starting_time or 0.0)
                else:
                    stamps = np.asarray(series.timestamps[:], np.float64)
                    timing = {"timestamps": stamps}
                    start = float(stamps[0])
                module = nwb.create_processing_module(
                    name=self._module,
                    description="spike rates and events inferred from calcium imaging traces",
                )
                module.add(
                    RoiResponseSeries(
                        name=RATE_SERIES,
                        data=rates.T,
                        rois=region,
                        unit="Hz",
                        description=str(data.get("description", "inferred spike rate")),
                        comments=f"inferred from {data['series']}",
                        **timing,
                    )
                )
                events = data.get("spike_times_s")
                if events is not None:
                    times = [np.asarray(t, np.float64).ravel() + start for t in events]
                    if len(times) != len(roi_ids):
                        raise DatasetError(
                            f"spike_times_s holds {len(times)} arrays for {len(roi_ids)} ROIs"
                        )
                    flat = np.concatenate(times) if times else np.empty(0)
                    spike_times = VectorData(
                        name="spike_times", description="event times (s)", data=flat
                    )
                    table_ev = DynamicTable(
                        name=EVENT_TABLE,
                        description="inferred spike events per ROI (s, session time)",
                        id=np.arange(len(roi_ids)),
                        columns=[
                            VectorData(
                                name="roi_id",
                                description="ROI id in the segmentation",
                                data=np.asarray(roi_ids, np.int64),
                            ),
                            spike_times,
                            VectorIndex(
                                name="spike_times_index",
                                data=np.cumsum([t.size for t in times]).astype(np.int64),
                                target=spike_times,
                            ),
                        ],
                    )
                    module.add(table_ev)
                for name, entry in extra.items():
                    module.add(
                        TimeSeries(
                            name=name,
                            data=entry["data"],
                            timestamps=entry["timestamps_s"],
                            unit=entry["unit"],
                            description=entry["description"],
                            comments=entry["comments"],
                        )
                    )
                io.write(nwb)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        tmp.replace(self._filepath)

    def _load(self) -> dict[str, Any]:
        from pynwb import NWBHDF5IO, TimeSeries

        if not self._filepath.is_file():
            raise DatasetError(f"{self._filepath} does not exist; run the recordings pipeline")
        with NWBHDF5IO(str(self._filepath), "r") as io:
            nwb = io.read()
            if self._module not in nwb.processing:
                raise DatasetError(f"{self._filepath} has no processing module {self._module!r}")
            module = nwb.processing[self._module]
            series = module[RATE_SERIES]
            ids = np.asarray(series.rois.table.id[:])
            out: dict[str, Any] = {
                "rate_hz": np.asarray(series.data[:], np.float32).T,
                "roi_ids": ids[np.asarray(series.rois.data[:], int)],
                "frame_rate_hz": float(series.rate) if series.rate is not None else np.nan,
                "timestamps_s": np.asarray(series.get_timestamps(), np.float64),
            }
            if EVENT_TABLE in module.data_interfaces:
                frame = module[EVENT_TABLE].to_dataframe()
                out["spike_times_s"] = [np.asarray(t, np.float64) for t in frame["spike_times"]]
            out["time_series"] = {
                name: {
                    "data": np.asarray(obj.data[:]),
                    "timestamps_s": np.asarray(obj.get_timestamps(), np.float64),
                    "unit": obj.unit,
                    "description": obj.description,
                }
                for name, obj in module.data_interfaces.items()
                if name not in (RATE_SERIES, EVENT_TABLE) and isinstance(obj, TimeSeries)
            }
        return out
