"""Poisson log-likelihood of counts given log rates (torch, elementwise)."""

from __future__ import annotations

import torch

__all__ = ["poisson_log_likelihood"]


def poisson_log_likelihood(x: torch.Tensor, log_rate: torch.Tensor) -> torch.Tensor:
    """log Poisson(x; λ) with λ = exp(log_rate), elementwise.

    Args:
        x: counts (≥ 0; non-integer values use the Gamma-function extension), any shape.
        log_rate: log of the expected count per bin, broadcastable against ``x``.

    Returns:
        Log-likelihood in nats, broadcast shape of the inputs.
    """
    return x * log_rate - torch.exp(log_rate) - torch.lgamma(x + 1.0)
