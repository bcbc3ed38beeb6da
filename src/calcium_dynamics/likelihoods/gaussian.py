"""Gaussian log-likelihood with a per-entry mean and log variance (torch, elementwise)."""

from __future__ import annotations

import math

import torch

__all__ = ["gaussian_log_likelihood"]

_LOG_2PI = math.log(2.0 * math.pi)


def gaussian_log_likelihood(
    x: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor
) -> torch.Tensor:
    """log N(x; mean, exp(log_var)), elementwise.

    Args:
        x: observations, any shape (units of the data, e.g. ΔF/F).
        mean: mean, broadcastable against ``x``.
        log_var: natural log of the variance (data units²), broadcastable against ``x``.

    Returns:
        Log density in nats, broadcast shape of the inputs.
    """
    return -0.5 * (_LOG_2PI + log_var + (x - mean) ** 2 * torch.exp(-log_var))
