"""Kedro dataset: a copy of an NWB recording with the inferred spike rates added.

The original file is never opened for writing: its bytes are copied to the output path and the
copy gets a new processing module (``spike_inference`` by default) holding

* ``inferred_spike_rate``: a ``RoiResponseSeries`` (time × ROIs, Hz) on the same ROIs, frame
  rate / timestamps and start time as the series the rates were inferred from;
* ``inferred_spike_events``: a table with one row per ROI, ``roi_id`` and ``spike_times``
  (s, session time; a ragged column).

The copy is written under a temporary name and renamed into place, so an interrupted run
leaves no half-written file under the final name.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
from kedro.io import AbstractDataset, DatasetError

RATE_SERIES = "inferred_spike_rate"
EVENT_TABLE = "inferred_spike_events"


def _source_series(nwb, series: str, source: Path):
    parts = series.split("/")
    if len(parts) != 3:
        raise DatasetError(f"series {series!r} must be 'MODULE/INTERFACE/NAME'")
    module, interface, name = parts
    try:
        return nwb.processing[module][interface].roi_response_series[name]
    except KeyError:
        raise DatasetError(f"{source} has no series {series!r}") from None


class NWBRatesDataset(AbstractDataset[dict[str, Any], dict[str, Any]]):
    """An NWB file copied from the recording, with inferred rates and events added.

    ``save`` takes a dict: ``source`` (path of the original NWB file), ``series``
    (``"ophys/Fluorescence/NAME"``: the ``RoiResponseSeries`` the rates come from), ``roi_ids``
    (ROI ids of the rows, shape (n_rois,)), ``rate_hz`` (Hz, shape (n_rois, n_frames) at the
    series' frame times), ``spike_times_s`` (optional: one array per ROI, s from the series'
    first frame) and ``description`` (text stored with the series).

    ``load`` reads the added module back: ``rate_hz`` (n_rois, n_frames), ``roi_ids``,
    ``frame_rate_hz`` (``nan`` when the series has timestamps), ``timestamps_s`` and
    ``spike_times_s`` (session time).

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
        from pynwb import NWBHDF5IO
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
                io.write(nwb)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        tmp.replace(self._filepath)

    def _load(self) -> dict[str, Any]:
        from pynwb import NWBHDF5IO

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
        return out
