"""recordings: a lab's own recording (Suite2p, NWB, arrays) → ΔF/F, QC, spike rates and events."""

from calcium_dynamics.pipelines.recordings.pipeline import create_pipeline

__all__ = ["create_pipeline"]
