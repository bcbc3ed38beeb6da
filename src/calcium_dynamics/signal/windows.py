"""Sliding windows over traces, centred on each sample.

The same indexing serves training and inference: window i is centred on sample i.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def window_offsets(window: int, causal: bool = False) -> tuple[int, int]:
    """Samples before and after the predicted sample of a window of length ``window``.

    Window i covers samples ``i - before … i + after``; for an even length the centre is the
    sample at index ``window // 2`` of the window. A ``causal`` window ends at the predicted
    sample (``before = window - 1``, ``after = 0``): no future frame enters the prediction.
    """
    if window < 1:
        raise ValueError(f"window must be >= 1 sample, got {window}")
    if causal:
        return window - 1, 0
    before = window // 2
    return before, window - before - 1


def extract_windows(trace: np.ndarray, window: int, stride: int = 1) -> np.ndarray:
    """All windows of length ``window`` centred on samples 0, stride, 2·stride, … with zero padding.

    Args:
        trace: shape (n_frames,) or (n_traces, n_frames).
        window: window length in samples.
        stride: distance between window centres in samples.

    Returns:
        A read-only strided view (no copy) of shape (⌈n_frames / stride⌉, window) or
        (n_traces, ⌈n_frames / stride⌉, window); row i is centred on sample ``i * stride``.
    """
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    x = np.asarray(trace)
    if x.ndim not in (1, 2):
        raise ValueError(f"trace must be 1-D or 2-D, got shape {x.shape}")
    before, after = window_offsets(window)
    pad = [(0, 0)] * (x.ndim - 1) + [(before, after)]
    padded = np.pad(x, pad)
    views = sliding_window_view(padded, window, axis=-1)
    return views[..., ::stride, :]
