"""Pure numerics shared by every pipeline (no Kedro, no I/O).

Conventions: traces are ΔF/F as a fraction (1.0 = 100 %), 1-D arrays of shape (n_frames,)
or 2-D arrays of shape (n_traces, n_frames); every trace travels with its frame rate in Hz.
"""

from calcium_dynamics.signal.noise import noise_level_nu, pooled_noise_level_nu
from calcium_dynamics.signal.noise_matching import match_noise_level, n_noise_replicas
from calcium_dynamics.signal.resample import rebin_spike_times, resample_trace
from calcium_dynamics.signal.smoothing import causal_kernel, gaussian_kernel, smooth_spike_counts
from calcium_dynamics.signal.windows import extract_windows

__all__ = [
    "causal_kernel",
    "extract_windows",
    "gaussian_kernel",
    "match_noise_level",
    "n_noise_replicas",
    "noise_level_nu",
    "pooled_noise_level_nu",
    "rebin_spike_times",
    "resample_trace",
    "smooth_spike_counts",
]
