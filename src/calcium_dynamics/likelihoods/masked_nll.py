"""Masked sums of LFADS reconstruction costs (Poisson, Gaussian, ZIG zeros) with hand-written
gradients.

LFADS's reconstruction cost is a mean negative log-likelihood over the entries of a boolean
cost mask of shape (B, T, N). Written as tensor expressions, autograd records each term as its
own pass over full-size tensors in the forward pass and several more in the backward pass
(negations, masks, the gradient of each clamp). These functions compute the same sums with the
masked sum as one dot product, and return the analytic gradient in two or three passes. The
values are the same up to float32 rounding (the sum runs in another order); the tests compare
values and gradients with the autograd expressions in float64.

All return the masked **sum** (a 0-d tensor); callers divide by the number of cost entries.
Gradients flow to the model outputs (log rate; mean and log variance; the logit of q), not to
data or mask.
"""

from __future__ import annotations

import math

import torch

__all__ = [
    "masked_gaussian_nll_sum",
    "masked_poisson_nll_sum",
    "masked_zig_zero_nll_sum",
    "zig_readout_costs",
]

_LOG_2PI = math.log(2.0 * math.pi)


def _flat(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(-1)


class _MaskedPoisson(torch.autograd.Function):
    @staticmethod
    def forward(ctx, raw, data, weight, max_log_rate):
        # a read-only test first: the clamp (a written copy) only where it changes something
        clamped = bool(torch.amax(raw) > max_log_rate)
        log_rate = raw.clamp(max=max_log_rate) if clamped else raw
        term = data * log_rate
        # in place after a clamp: the log rate is not needed any more
        rate = log_rate.exp_() if clamped else log_rate.exp()
        term.sub_(rate)
        ctx.max_log_rate, ctx.clamped = max_log_rate, clamped
        ctx.save_for_backward(raw, data, weight, rate)
        return -torch.dot(_flat(term), _flat(weight))

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_total):
        raw, data, weight, rate = ctx.saved_tensors
        grad = torch.sub(rate, data).mul_(weight).mul_(grad_total)
        if ctx.clamped:  # the clamp passes no gradient there
            grad.masked_fill_(raw > ctx.max_log_rate, 0.0)
        return grad, None, None, None


def masked_poisson_nll_sum(
    raw_log_rate: torch.Tensor, data: torch.Tensor, mask: torch.Tensor, max_log_rate: float
) -> torch.Tensor:
    """Σ over True entries of ``mask`` of λ − x·log λ, with log λ = min(raw, max_log_rate).

    The Poisson negative log-likelihood without its log x! term (that term has no gradient;
    callers add it for the entries that need it).

    Args:
        raw_log_rate: readout output, log of the expected count per bin, (B, T, N), float.
        data: counts (zero-filled where unsampled), (B, T, N), same dtype.
        mask: boolean cost mask, (B, T, N).
        max_log_rate: upper clamp of the log rate (no gradient above it, as ``torch.clamp``).

    Returns:
        0-d tensor, nats (a sum over entries, not a mean).
    """
    return _MaskedPoisson.apply(raw_log_rate, data, mask.to(raw_log_rate.dtype), max_log_rate)


class _MaskedGaussian(torch.autograd.Function):
    @staticmethod
    def forward(ctx, mean, raw_log_var, data, weight, min_log_var, max_log_var):
        low, high = torch.aminmax(raw_log_var)
        # a read-only test first: the clamp (a written copy) only where it changes something
        clamped = bool(low < min_log_var) or bool(high > max_log_var)
        log_var = raw_log_var.clamp(min_log_var, max_log_var) if clamped else raw_log_var
        precision = log_var.neg().exp_()
        diff = data - mean
        scaled = diff * precision  # (x − μ)/σ²
        square = diff.mul_(scaled)  # (x − μ)²/σ², in place of x − μ
        w = _flat(weight)
        total = torch.dot(_flat(square), w) + torch.dot(_flat(log_var), w)
        ctx.bounds, ctx.clamped = (min_log_var, max_log_var), clamped
        ctx.save_for_backward(raw_log_var, weight, scaled, square)
        return 0.5 * (total + _LOG_2PI * weight.sum())

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_total):
        raw_log_var, weight, scaled, square = ctx.saved_tensors
        lo, hi = ctx.bounds
        grad_mean = torch.mul(scaled, weight).mul_(-grad_total)
        grad_log_var = torch.rsub(square, 1.0).mul_(weight).mul_(0.5 * grad_total)
        if ctx.clamped:  # the clamp passes no gradient there
            grad_log_var.masked_fill_((raw_log_var < lo) | (raw_log_var > hi), 0.0)
        return grad_mean, grad_log_var, None, None, None, None


def masked_gaussian_nll_sum(
    mean: torch.Tensor,
    raw_log_var: torch.Tensor,
    data: torch.Tensor,
    mask: torch.Tensor,
    min_log_var: float,
    max_log_var: float,
) -> torch.Tensor:
    """Σ over True entries of ``mask`` of −log N(x; μ, σ²), log σ² = clamp(raw, min, max).

    Args:
        mean: μ, (B, T, N), data units.
        raw_log_var: readout output for the log variance (data units²), (B, T, N).
        data: observations (zero-filled where unsampled), (B, T, N).
        mask: boolean cost mask, (B, T, N).
        min_log_var, max_log_var: clamp of the log variance (no gradient outside, as
            ``torch.clamp``).

    Returns:
        0-d tensor, nats (a sum over entries, not a mean).
    """
    weight = mask.to(mean.dtype)
    return _MaskedGaussian.apply(mean, raw_log_var, data, weight, min_log_var, max_log_var)


def _zig_zero_cost(logit_q, weight, low, high):
    """Σ weight · clamp(softplus(logit_q), low, high), and the entries outside the clamp (None
    when there are none: the clamp passes no gradient there)."""
    cost = torch.nn.functional.softplus(logit_q)  # −log(1 − σ(c))
    least, most = torch.aminmax(cost)
    outside = None
    if bool(least < low) or bool(most > high):
        outside = (cost < low) | (cost > high)
    cost.clamp_(low, high)
    return torch.dot(_flat(cost), _flat(weight)), outside


def _zig_zero_grad(logit_q, weight, outside, grad_total, out=None):
    """Gradient of :func:`_zig_zero_cost` for ``logit_q`` (into ``out`` when given)."""
    grad = torch.sigmoid(logit_q, out=out).mul_(weight).mul_(grad_total)
    if outside is not None:
        grad.masked_fill_(outside, 0.0)
    return grad


class _MaskedZIGZero(torch.autograd.Function):
    @staticmethod
    def forward(ctx, logit_q, weight, low, high):
        total, ctx.outside = _zig_zero_cost(logit_q, weight, low, high)
        ctx.save_for_backward(logit_q, weight)
        return total

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_total):
        logit_q, weight = ctx.saved_tensors
        return _zig_zero_grad(logit_q, weight, ctx.outside, grad_total), None, None, None


def masked_zig_zero_nll_sum(
    logit_q: torch.Tensor, mask: torch.Tensor, q_min: float
) -> torch.Tensor:
    """Σ over True entries of ``mask`` of −log(1 − q), q = clamp(σ(logit_q), q_min, 1 − q_min):
    the zero-inflated gamma's cost of its zero entries (RADICaL), as −log(1 − σ(c)) =
    softplus(c) clamped to [−log(1 − q_min), −log q_min].

    Args:
        logit_q: readout output, the logit of the probability of a non-zero event, (B, T, N).
        mask: boolean, the zero entries that carry cost, (B, T, N).
        q_min: the clamp of q, in (0, 0.5).

    Returns:
        0-d tensor, nats (a sum over entries, not a mean).
    """
    low, high = -math.log1p(-q_min), -math.log(q_min)
    return _MaskedZIGZero.apply(logit_q, mask.to(logit_q.dtype), low, high)


class _ZIGReadout(torch.autograd.Function):
    """The zero entries' cost on channel 2 of the readout, and every channel at the entries of
    ``index``, with one gradient of the whole readout (see :func:`zig_readout_costs`)."""

    @staticmethod
    def forward(ctx, readout, weight, index, low, high):
        logit_q = readout[:, :, 2]
        total, ctx.outside = _zig_zero_cost(logit_q, weight, low, high)
        n_params, n_neurons = readout.shape[2], readout.shape[3]
        # flat index of entry (b, t, n) of channel p in (B, T, P, N): (b·T + t)·P·N + p·N + n
        base = torch.div(index, n_neurons, rounding_mode="floor").mul_(n_params * n_neurons)
        base += index % n_neurons
        flat = readout.reshape(-1)
        picked = tuple(flat.index_select(0, base + p * n_neurons) for p in range(n_params))
        ctx.save_for_backward(readout, weight, base)
        return (total, *picked)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_total, *grad_picked):
        readout, weight, base = ctx.saved_tensors
        n_params, n_neurons = readout.shape[2], readout.shape[3]
        grad = torch.empty_like(readout, memory_format=torch.contiguous_format)
        grad[:, :, :2].zero_()
        grad[:, :, 3:].zero_()
        _zig_zero_grad(readout[:, :, 2], weight, ctx.outside, grad_total, out=grad[:, :, 2])
        flat = grad.view(-1)
        for p in range(n_params):
            if grad_picked[p] is not None:
                flat.index_add_(0, base + p * n_neurons, grad_picked[p])
        return grad, None, None, None, None


def zig_readout_costs(
    readout: torch.Tensor, zero_mask: torch.Tensor, index: torch.Tensor, q_min: float
) -> tuple[torch.Tensor, ...]:
    """The zero-inflated gamma's cost of its zero entries, and the readout at its non-zero
    entries, from the readout output as one tensor.

    The same values as :func:`masked_zig_zero_nll_sum` on ``readout[:, :, 2]`` and as gathering
    each channel at ``index``; the gradient of the readout is formed once (one full-size tensor),
    where separate channels would each get a full-size gradient, then be stacked into one.

    Args:
        readout: (B, T, P, N) readout output, channel 2 the logit of q (P ≥ 3).
        zero_mask: boolean (B, T, N), the zero entries that carry cost.
        index: flat indices into (B, T, N) of the non-zero entries that carry cost, (K,).
        q_min: the clamp of q, in (0, 0.5).

    Returns:
        The zero entries' cost (0-d tensor, nats, a sum), then per channel its K values at
        ``index`` ((K,) each, in channel order).
    """
    if readout.ndim != 4 or readout.shape[2] < 3:
        raise ValueError(f"readout must have shape (B, T, P >= 3, N); got {tuple(readout.shape)}")
    low, high = -math.log1p(-q_min), -math.log(q_min)
    weight = zero_mask.to(readout.dtype)
    return _ZIGReadout.apply(readout, weight, index, low, high)
