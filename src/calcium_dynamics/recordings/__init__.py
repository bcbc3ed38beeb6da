"""A lab's recordings as tables: ΔF/F and QC, spike rates and events, populations, trials.

Pure pandas / numpy on one recording at a time (no Kedro); the ``recordings`` pipeline maps
these functions over the partitions of a Suite2p / NWB / array folder.
"""

from calcium_dynamics.recordings.dff_tables import (
    QC_COLUMNS,
    compute_recording_dff,
    recording_dff_table,
)
from calcium_dynamics.recordings.qc_figure import plot_recording_qc
from calcium_dynamics.recordings.spike_tables import SPIKE_COLUMNS, infer_recording_spikes
from calcium_dynamics.recordings.trials import cut_trials

__all__ = [
    "QC_COLUMNS",
    "SPIKE_COLUMNS",
    "compute_recording_dff",
    "cut_trials",
    "infer_recording_spikes",
    "plot_recording_qc",
    "recording_dff_table",
]
