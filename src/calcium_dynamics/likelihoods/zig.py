"""Zero-inflated gamma (ZIG) log-likelihood for deconvolved calcium events (RADICaL).

x ~ (1 − q)·δ₀ + q·Gamma(shape k, scale α, location s_min):

    log p(0)           = log(1 − q)
    log p(x), x > 0    = log q + (k − 1) log(x − s_min) − (x − s_min)/α − log Γ(k) − k log α

The mean (RADICaL's event rate, Eq. 3) is q·(k·α + s_min).
"""

from __future__ import annotations

import torch

__all__ = ["zig_log_likelihood", "zig_mean"]


def zig_log_likelihood(
    x: torch.Tensor,
    q: torch.Tensor,
    shape: torch.Tensor,
    scale: torch.Tensor,
    loc: torch.Tensor | float,
    *,
    min_excess: float = 1e-4,
    check: bool = True,
) -> torch.Tensor:
    """Elementwise ZIG log-likelihood.

    Args:
        x: events (≥ 0), any shape.
        q: probability of a non-zero event, in (0, 1), broadcastable against ``x``.
        shape: gamma shape k > 0, broadcastable.
        scale: gamma scale α > 0 (units of x), broadcastable.
        loc: gamma location s_min ≥ 0 (the smallest non-zero event), broadcastable.
        min_excess: non-zero events at or below ``loc`` are evaluated at ``loc + min_excess``
            (a guard, so an event equal to s_min has a finite density).
        check: raise on negative or NaN ``x`` (callers that mask entries pass zero-filled data).

    Returns:
        Log-likelihood in nats (a density for x > 0), broadcast shape.
    """
    if check:
        if torch.isnan(x).any():
            raise ValueError("ZIG observations contain NaN; mask and zero-fill them first")
        if (x < 0).any():
            raise ValueError(
                f"ZIG observations must be >= 0 (event sizes); minimum is {float(x.min()):.4g}"
            )
    nonzero = x > 0
    excess = torch.clamp(x - loc, min=min_excess)
    log_gamma = (
        (shape - 1.0) * torch.log(excess)
        - excess / scale
        - torch.lgamma(shape)
        - shape * torch.log(scale)
    )
    return torch.where(nonzero, torch.log(q) + log_gamma, torch.log1p(-q))


def zig_mean(
    q: torch.Tensor, shape: torch.Tensor, scale: torch.Tensor, loc: torch.Tensor | float
) -> torch.Tensor:
    """Mean of the ZIG distribution, q·(k·α + s_min) (event rate, units of x per bin)."""
    return q * (shape * scale + loc)
