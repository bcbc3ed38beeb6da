"""NWB files for tests, written with pynwb as an acquisition system would write them."""

from datetime import datetime, timezone

import numpy as np
import pytest

pynwb = pytest.importorskip("pynwb")


def write_nwb(
    path,
    f,
    fneu=None,
    rate=None,
    timestamps=None,
    trials=None,
    ophys=True,
    series_name="RoiResponseSeries",
    roi_id_offset=10,
):
    """An NWB file as an acquisition system writes it: ROIs, raw (+ neuropil) fluorescence
    (time × ROIs) at ``rate`` or ``timestamps``, and optionally a trials table (a list of
    ``(start, stop, condition)``) and no ophys module at all. ROI ids start at
    ``roi_id_offset`` (10 by default, so that ids differ from row numbers)."""
    from pynwb.ophys import Fluorescence, ImageSegmentation, OpticalChannel, RoiResponseSeries

    nwb = pynwb.NWBFile(
        session_description="test",
        identifier=str(path),
        session_start_time=datetime(2024, 1, 1, tzinfo=timezone.utc),
    )
    if trials is not None:
        nwb.add_trial_column(name="condition", description="stimulus condition")
        for start, stop, cond in trials:
            nwb.add_trial(start_time=start, stop_time=stop, condition=cond)
    if ophys:
        device = nwb.create_device(name="microscope")
        channel = OpticalChannel(name="ch", description="green", emission_lambda=510.0)
        plane = nwb.create_imaging_plane(
            name="plane0",
            optical_channel=channel,
            description="",
            device=device,
            excitation_lambda=920.0,
            imaging_rate=30.0,
            indicator="GCaMP6f",
            location="V1",
        )
        seg = ImageSegmentation()
        rois = seg.create_plane_segmentation(
            description="rois", imaging_plane=plane, name="PlaneSegmentation"
        )
        for i in range(f.shape[0]):
            rois.add_roi(image_mask=np.ones((4, 4)), id=roi_id_offset + i)
        module = nwb.create_processing_module(name="ophys", description="optical physiology")
        module.add(seg)
        region = rois.create_roi_table_region(description="all", region=list(range(f.shape[0])))
        fluo = Fluorescence()
        module.add(fluo)
        kw = {"rate": rate} if rate is not None else {"timestamps": timestamps}
        fluo.add_roi_response_series(
            RoiResponseSeries(name=series_name, data=f.T, rois=region, unit="a.u.", **kw)
        )
        if fneu is not None:
            fluo.add_roi_response_series(
                RoiResponseSeries(name="Neuropil", data=fneu.T, rois=region, unit="a.u.", **kw)
            )
    else:
        nwb.add_acquisition(
            pynwb.TimeSeries(name="running", data=np.zeros(10), unit="m/s", rate=10.0)
        )
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return path
