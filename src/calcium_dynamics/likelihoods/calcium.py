"""Calcium AR(p)-Poisson observation model: latent Poisson spikes driving autoregressive calcium.

For neuron ``n`` at bin ``t`` the ΔF/F value follows

    y_t = Σ_{i=1..p} a_i y_{t−i} + c · s_t + ε_t,   s_t ~ Poisson(λ_t),   ε_t ~ N(0, σ²),

and the unobserved spike count is summed out numerically,

    p(y_t | y_{t−1..t−p}, λ_t) = Σ_{k=0..R} Poisson(k; λ_t) · N(y_t; Σ_i a_i y_{t−i} + c k, σ²),

with ``R = max_spikes``. The sum is taken in log space (shifted by its largest term, as
``logsumexp`` does) so it stays finite for large |y| and tiny rates. It runs as a loop over the
spike count k with a hand-written gradient (``_SpikeCountSum``): no tensor with an extra
``R + 1`` axis is formed or kept for the backward pass, so memory stays that of a few
``(..., T, N)`` tensors; spike counts whose terms are below the rounding of the sum for
every entry of a block of rows are left out (:func:`_skip_gap`). The truncation drops
P(s > R), which :func:`poisson_tail_probability` reports (about 1e-8 for λ = 1 spike / bin
and R = 10, far less for smaller λ).

Boundary choice: the first ``p`` bins of every sequence are predicted from a zero-padded past, i.e.
``y_{t−i} := 0`` for ``t − i < 0``. This treats the recording as starting from a resting (zero
ΔF/F) baseline. It keeps the output the same shape as the input, gives every bin a likelihood term,
and makes no use of data outside the sequence. Callers who want to condition on the first bins
instead can simply drop the first ``p`` time steps of the returned array.

Everything here is plain torch, vectorised over arbitrary leading (batch / trial / state)
dimensions and over neurons, and differentiable in ``log_rate``, ``ar_coefs``, ``jump`` and
``noise_var``. NaNs in ``y`` propagate into the bin itself and the next ``p`` bins; callers that
have missing samples must mask them before calling.
"""

from __future__ import annotations

import math

import torch

__all__ = [
    "ar_prediction",
    "ar_residual",
    "calcium_ar_poisson_log_likelihood",
    "calcium_ar_poisson_state_log_likelihood",
    "poisson_tail_probability",
    "state_spike_count_moments",
]

_LOG_2PI = math.log(2.0 * math.pi)


def _check_params(y: torch.Tensor, ar_coefs: torch.Tensor) -> None:
    if y.ndim < 2:
        raise ValueError(f"y must have shape (..., T, N); got shape {tuple(y.shape)}")
    if ar_coefs.ndim != 2:
        raise ValueError(
            f"ar_coefs must have shape (p, N) with p ≥ 1; got shape {tuple(ar_coefs.shape)}"
        )
    if ar_coefs.shape[0] < 1:
        raise ValueError("ar_coefs must hold at least one AR coefficient (p ≥ 1)")
    if ar_coefs.shape[1] != y.shape[-1]:
        raise ValueError(
            f"ar_coefs has {ar_coefs.shape[1]} neurons but y has {y.shape[-1]} (last axis)"
        )


def ar_prediction(y: torch.Tensor, ar_coefs: torch.Tensor) -> torch.Tensor:
    """Autoregressive prediction ``Σ_i a_i y_{t−i}`` with a zero-padded past.

    Args:
        y: ΔF/F, shape ``(..., T, N)``.
        ar_coefs: AR coefficients ``a_1..a_p`` per neuron, shape ``(p, N)``.

    Returns:
        Prediction of each bin from the ``p`` bins before it, shape ``(..., T, N)``; bins before
        the start of the sequence count as zero.
    """
    _check_params(y, ar_coefs)
    p = ar_coefs.shape[0]
    n_time = y.shape[-2]
    pad = torch.zeros(*y.shape[:-2], p, y.shape[-1], dtype=y.dtype, device=y.device)
    padded = torch.cat([pad, y], dim=-2)
    pred = torch.zeros_like(y) * ar_coefs[0]  # dtype / device / autograd of both operands
    for lag in range(1, p + 1):  # p is the (small) AR order, not the number of neurons
        pred = pred + ar_coefs[lag - 1] * padded[..., p - lag : p - lag + n_time, :]
    return pred


def ar_residual(y: torch.Tensor, ar_coefs: torch.Tensor) -> torch.Tensor:
    """``y − ar_prediction(y, ar_coefs)``, the same values bit for bit, in fewer passes.

    The prediction is summed over the lags in the same order, on the bins that have a past
    (``t ≥ 1``; the others predict 0 exactly), and subtracted from a copy of ``y`` in place:
    no zero-padded copy of ``y`` and no zero prediction to add to.

    Args:
        y: ΔF/F, shape ``(..., T, N)``.
        ar_coefs: ``(p, N)``.

    Returns:
        The residuals, shape ``(..., T, N)``; differentiable in ``ar_coefs`` (and ``y``). The
        gradient of ``ar_coefs`` sums over the bins with a past only, so it equals the one
        through :func:`ar_prediction` to the rounding of that sum.
    """
    _check_params(y, ar_coefs)
    return _ar_residual(y, ar_coefs)


def _ar_residual(y: torch.Tensor, ar_coefs: torch.Tensor) -> torch.Tensor:
    """:func:`ar_residual` of inputs already checked."""
    residual = y.clone()
    if y.shape[-2] < 2:
        return residual + 0.0 * ar_coefs[0]  # no bin has a past (the graph reaches ar_coefs)
    pred = ar_coefs[0] * y[..., :-1, :]  # bins 1..T−1
    for lag in range(2, min(ar_coefs.shape[0], y.shape[-2] - 1) + 1):
        pred[..., lag - 1 :, :] += ar_coefs[lag - 1] * y[..., :-lag, :]
    residual[..., 1:, :] -= pred
    return residual


def calcium_ar_poisson_log_likelihood(
    y: torch.Tensor,
    log_rate: torch.Tensor,
    ar_coefs: torch.Tensor,
    jump: torch.Tensor,
    noise_var: torch.Tensor,
    max_spikes: int = 10,
) -> torch.Tensor:
    """Per-bin log-likelihood of ΔF/F under the calcium AR(p)-Poisson model.

    Args:
        y: ΔF/F, shape ``(..., T, N)``.
        log_rate: log of the expected spike count per bin (λ in spikes / bin), shape
            broadcastable against ``y`` (e.g. ``(..., T, N)``, or ``(K, 1, N)`` for K state
            rates against ``y`` of shape ``(T, N)``).
        ar_coefs: AR coefficients ``a_1..a_p``, shape ``(p, N)``; unconstrained.
        jump: ΔF/F jump per spike ``c``, shape ``(N,)``.
        noise_var: innovation noise variance ``σ²`` (ΔF/F²), shape ``(N,)``, strictly positive.
        max_spikes: truncation ``R`` of the spike-count sum, ``k = 0..R``.

    Returns:
        ``log p(y_t | y_{t−1..t−p}, λ_t)`` in nats, shape ``broadcast(y, log_rate)``.
    """
    if isinstance(max_spikes, bool) or int(max_spikes) != max_spikes or max_spikes < 0:
        raise ValueError(f"max_spikes must be a non-negative integer; got {max_spikes!r}")
    _check_params(y, ar_coefs)
    n_neurons = y.shape[-1]
    if jump.shape != (n_neurons,):
        raise ValueError(f"jump must have shape ({n_neurons},); got {tuple(jump.shape)}")
    if noise_var.shape != (n_neurons,):
        raise ValueError(f"noise_var must have shape ({n_neurons},); got {tuple(noise_var.shape)}")
    if bool((noise_var <= 0).any()):
        bad = torch.nonzero(noise_var <= 0).flatten().tolist()
        raise ValueError(f"noise_var must be > 0; neurons {bad} are not")

    residual = _ar_residual(y, ar_coefs)
    return _SpikeCountSum.apply(log_rate, residual, jump, noise_var, int(max_spikes))


_BLOCK_ENTRIES = 1 << 17  # entries per block of the spike-count loop (bounds the temporaries)


# Exponents below _NEGLIGIBLE are raised to it before exponentiation (exp(-60) ≈ 9e-27 of a
# sum ≥ 1 changes no float32 or float64 sum): the CPU's exp takes a slow path below ≈ -87
# (10-30x slower).
_NEGLIGIBLE = -60.0
# A spike count whose term is below exp(log(eps) − _SKIP_MARGIN) times the largest one, for
# every entry of a block, is skipped (see _skip_gap).
_SKIP_MARGIN = 8.0


def _skip_gap(dtype: torch.dtype) -> float:
    """Log-ratio to the largest term below which a spike count's term is left out of the sum.

    The largest term of the shifted sum is 1, so leaving out at most R terms each below
    ``eps · e^-8`` (``eps`` the dtype's relative rounding unit: −23.9 for float32, −44.0 for
    float64) changes the sum by less than ``R · 3.4e-4`` of a rounding unit (0.003 of one for
    R = 10), far less than rounding the sum itself does; the same bound holds for the
    posterior moments. ``_SKIP_MARGIN = inf`` keeps every spike count."""
    return math.log(torch.finfo(dtype).eps) - _SKIP_MARGIN


def _spike_count_top(a, c2_inv, max_spikes):
    """The largest spike count k whose term is not negligible for some entry of a block.

    With ``f_k(a) = k·a − e_k`` (``e_k = log k! + c² k² / 2σ²`` per neuron), an entry's term k
    is negligible when ``f_k(a) − max_j f_j(a) < _skip_gap(dtype)``. The largest non-negligible k
    never decreases as ``a`` grows (if k is non-negligible at ``a`` and ``a' > a``, then either
    the maximiser at ``a'`` is ≥ k, or ``f_k − f_j`` grew by ``(k − j)(a' − a) > 0`` against
    every ``j < k``), so the entry with the largest ``a`` of each neuron decides: the test runs
    on (R + 1, N) numbers instead of (R + 1) full blocks."""
    a_max = a.amax(dim=0)  # (N,)
    ks = torch.arange(max_spikes + 1, dtype=a.dtype, device=a.device)
    e = torch.lgamma(ks + 1.0)[:, None] + (ks * ks)[:, None] * c2_inv  # (R + 1, N)
    f = ks[:, None] * a_max - e
    kept = (f - f.amax(dim=0) >= _skip_gap(a.dtype)).any(dim=1).nonzero()
    return int(kept.max()) if len(kept) else 0


def _spike_count_block(log_rate, r, jump, noise_var, consts, max_spikes, out, moments, factors):
    """One block of rows (M, N) of :class:`_SpikeCountSum`'s forward pass, written into ``out``
    and, when given, the three posterior moments E[k], E[k·d], E[d²] (d = r − c k) into
    ``moments``, or the gradient factors of :class:`_SpikeCountSum` into ``factors`` (entries
    ``None`` are not wanted)."""
    two_c_inv, c2_inv, neg_inv_2var = consts
    # pass 1: shift = max_k [k·a − (log k! + c² k² / 2σ²)] − r² / 2σ², a = log λ + c r / σ²
    a = torch.addcmul(log_rate, r, two_c_inv)
    # the largest k at which some entry's term is not negligible (higher ones add nothing)
    top = _spike_count_top(a, c2_inv, max_spikes)
    shift = torch.zeros_like(a)  # the k = 0 term of the expanded form
    for k in range(1, top + 1):
        torch.maximum(
            shift, torch.add(-(math.lgamma(k + 1.0) + (k * k) * c2_inv), a, alpha=k), out=shift
        )
    r2 = r * r
    neg_shift = torch.addcmul(shift, r2, neg_inv_2var).neg_()
    neg_shift.nan_to_num_(nan=0.0, posinf=0.0, neginf=0.0)  # a non-finite shift: none
    # which sums over k the outputs need: Σ k w_k, Σ k d w_k, Σ d² w_k
    if moments:
        m_k, m_kd, m_d2 = moments
    else:
        want_k = factors[0] is not None or factors[1] is not None
        m_k = torch.empty_like(a) if want_k else None
        m_kd = torch.empty_like(a) if factors[2] is not None else None
        m_d2 = torch.empty_like(a) if factors[3] is not None else None
    # pass 2: Σ_k exp(term_k − shift), term_k = k log λ − log k! − (r − c k)² / 2σ²; the
    # k = 0 term starts each sum (no k = 0 term in the sums weighted by k)
    total = neg_shift.addcmul(r2, neg_inv_2var).clamp_min_(_NEGLIGIBLE).exp_()
    if m_d2 is not None:
        torch.mul(total, r2, out=m_d2)
    if top == 0:
        for m in (m_k, m_kd):
            if m is not None:
                m.zero_()
    for k in range(1, top + 1):
        d = torch.add(r, jump, alpha=-k)
        d2 = d * d
        term = torch.add(neg_shift, log_rate, alpha=k)
        term.sub_(math.lgamma(k + 1.0)).addcmul_(d2, neg_inv_2var).clamp_min_(_NEGLIGIBLE).exp_()
        total += term
        if k == 1:  # the sums weighted by k start here
            if m_k is not None:
                m_k.copy_(term)
            if m_kd is not None:
                torch.mul(term, d, out=m_kd)
        else:
            if m_k is not None:
                m_k.add_(term, alpha=k)
            if m_kd is not None:
                m_kd.addcmul_(term, d, value=k)
        if m_d2 is not None:
            m_d2.addcmul_(term, d2)
    torch.sub(torch.log(total), neg_shift, out=out)
    rate = torch.exp(log_rate)
    out -= rate
    for m in (m_k, m_kd, m_d2):
        if m is not None:
            m.div_(total)
    if not moments:
        _gradient_factors(m_k, m_kd, m_d2, rate, r, jump, noise_var, factors)


def _gradient_factors(m_k, m_kd, m_d2, rate, r, jump, noise_var, factors):
    """The derivatives of the log-likelihood by log λ, r, c and σ², entry by entry, from the
    posterior moments E[k], E[k·d], E[d²] (d = r − c k), written into ``factors`` (those not
    ``None``); see :class:`_SpikeCountSum`. Divisions by σ² come last and are divisions (a
    rounded 1 / σ² would bias every entry of a neuron alike, and its sums over entries)."""
    g_log_rate, g_res, g_jump, g_var = factors
    if g_log_rate is not None:  # E[k] − λ
        torch.sub(m_k, rate, out=g_log_rate)
    if g_res is not None:  # −E[d] / σ² = (c E[k] − r) / σ²
        torch.mul(m_k, jump, out=g_res).sub_(r).div_(noise_var)
    if g_jump is not None:  # E[k·d] / σ²
        torch.div(m_kd, noise_var, out=g_jump)
    if g_var is not None:  # (E[d²] / σ² − 1) / 2σ²
        torch.div(m_d2, noise_var, out=g_var).sub_(1.0).div_(2.0 * noise_var)


#: ``_spike_count_sum(..., wanted=MOMENTS)``: the posterior moments, not gradient factors
MOMENTS = "moments"


def _spike_count_sum(log_rate, residual, jump, noise_var, max_spikes, wanted):
    """``log Σ_k Poisson(k; λ) N(r; c k, σ²)`` of the broadcast shape of ``log_rate`` and
    ``residual``, and, with ``wanted=MOMENTS``, the posterior moments E[k], E[k·d], E[d²]
    (d = r − c k), or else the gradient factors of :class:`_SpikeCountSum` (by log λ, r, c, σ²)
    whose flag in the 4-tuple ``wanted`` is true (``None`` for the others); flat rows of N
    entries, computed a block of rows at a time."""
    shape = torch.broadcast_shapes(log_rate.shape, residual.shape)
    n_neurons = shape[-1]
    log_rate_rows = log_rate.expand(shape).reshape(-1, n_neurons)
    r_rows = residual.expand(shape).reshape(-1, n_neurons)
    out = torch.empty_like(r_rows)
    with_moments = wanted == MOMENTS
    moments = [torch.empty_like(r_rows) for _ in range(3 if with_moments else 0)]
    flags = (False,) * 4 if with_moments else wanted
    factors = [torch.empty_like(r_rows) if w else None for w in flags]
    inv_2var = 0.5 / noise_var
    consts = (jump * 2.0 * inv_2var, jump * jump * inv_2var, -inv_2var)
    block = max(1, _BLOCK_ENTRIES // n_neurons)
    for i in range(0, r_rows.shape[0], block):
        rows = slice(i, i + block)
        _spike_count_block(
            log_rate_rows[rows],
            r_rows[rows],
            jump,
            noise_var,
            consts,
            max_spikes,
            out[rows],
            [m[rows] for m in moments],
            [None if f is None else f[rows] for f in factors],
        )
    out += -0.5 * (_LOG_2PI + torch.log(noise_var))
    return out.view(shape), moments if with_moments else factors


class _SpikeCountSum(torch.autograd.Function):
    """``log Σ_k Poisson(k; λ) N(r; c k, σ²)`` with a hand-written gradient, memory-lean.

    The sum over spike counts k = 0..R runs as a loop over k on tensors of the broadcast shape
    of ``log_rate`` and ``residual`` r, so no ``(..., R+1)`` tensor is formed or kept for the
    backward pass. A first pass finds a shift (the largest term, from an algebraically equal
    expanded form of the Gaussian exponent); the second pass sums the shifted terms in the
    same form as the definition, ``k log λ − log k! − (r − c k)² / 2σ²``. The derivatives
    follow from three posterior moments of k per entry, E[k], E[k·d] and E[d²] with
    d = r − c k, under w_k ∝ Poisson(k; λ) N(r; c k, σ²):

        ∂/∂log λ = E[k] − λ,   ∂/∂r = −E[d] / σ²,   ∂/∂c = E[k·d] / σ²,
        ∂/∂σ² = (E[d²] / σ² − 1) / (2σ²);

    the forward pass computes these per-entry factors block by block (while its block is in
    the cache) for the inputs that need a gradient, and saves them: the backward pass only
    multiplies them by the incoming gradient and sums over broadcast dimensions.
    """

    @staticmethod
    def forward(ctx, log_rate, residual, jump, noise_var, max_spikes):
        wanted = tuple(ctx.needs_input_grad[:4])
        out, factors = _spike_count_sum(log_rate, residual, jump, noise_var, max_spikes, wanted)
        ctx.shapes = (log_rate.shape, residual.shape)
        ctx.save_for_backward(*factors)
        return out

    @staticmethod
    def backward(ctx, grad):
        log_rate_shape, residual_shape = ctx.shapes
        f_log_rate, f_res, f_jump, f_var = ctx.saved_tensors
        n_neurons = grad.shape[-1]
        g_log_rate = g_res = g_jump = g_var = None
        if f_log_rate is not None:
            g_log_rate = (grad * f_log_rate.view(grad.shape)).sum_to_size(log_rate_shape)
        if f_res is not None:
            g_res = (grad * f_res.view(grad.shape)).sum_to_size(residual_shape)
        grad_rows = grad.reshape(-1, n_neurons)
        if f_jump is not None:
            g_jump = (grad_rows * f_jump).sum(0)
        if f_var is not None:
            g_var = (grad_rows * f_var).sum(0)
        return g_log_rate, g_res, g_jump, g_var, None


def calcium_ar_poisson_state_log_likelihood(
    y: torch.Tensor,
    state_log_rates: torch.Tensor,
    ar_coefs: torch.Tensor,
    jump: torch.Tensor,
    noise_var: torch.Tensor,
    max_spikes: int = 10,
) -> torch.Tensor:
    """The same log-likelihood for a few time-independent rates (e.g. one per HMM state), fast.

    Equal to ``calcium_ar_poisson_log_likelihood(y, state_log_rates[:, None, :], ...)`` but the
    sum over spike counts is written as a batched matrix product
    ``Σ_k Poisson(k; λ_s) N(y_t; μ_t + c k, σ²)`` = ``G[t, :] · P[:, s]`` per neuron, so the
    ``(states × T × N × (R+1))`` tensor is never formed. Both factors are shifted by their maxima
    over ``k`` before exponentiation; a bin whose Gaussian and Poisson factors share no overlap
    within double-precision range is floored at ``log(1e-300)`` relative to those maxima.

    Args:
        y: ΔF/F, shape ``(..., T, N)``.
        state_log_rates: log spikes / bin for each of ``S`` rate sets, shape ``(S, N)``.
        ar_coefs, jump, noise_var, max_spikes: as in :func:`calcium_ar_poisson_log_likelihood`.

    Returns:
        Log-likelihoods, shape ``(..., S, T, N)``.
    """
    if isinstance(max_spikes, bool) or int(max_spikes) != max_spikes or max_spikes < 0:
        raise ValueError(f"max_spikes must be a non-negative integer; got {max_spikes!r}")
    _check_params(y, ar_coefs)
    n_neurons = y.shape[-1]
    if state_log_rates.ndim != 2 or state_log_rates.shape[1] != n_neurons:
        raise ValueError(
            f"state_log_rates must have shape (S, {n_neurons}); got {tuple(state_log_rates.shape)}"
        )
    if jump.shape != (n_neurons,) or noise_var.shape != (n_neurons,):
        raise ValueError(f"jump and noise_var must have shape ({n_neurons},)")
    if bool((noise_var <= 0).any()):
        bad = torch.nonzero(noise_var <= 0).flatten().tolist()
        raise ValueError(f"noise_var must be > 0; neurons {bad} are not")
    k = torch.arange(int(max_spikes) + 1, dtype=y.dtype, device=y.device)
    residual = _ar_residual(y, ar_coefs).unsqueeze(-1)  # (..., T, N, 1)
    log_gauss = -0.5 * (_LOG_2PI + torch.log(noise_var)).unsqueeze(-1) - (
        residual - jump.unsqueeze(-1) * k
    ) ** 2 / (2.0 * noise_var.unsqueeze(-1))  # (..., T, N, R+1)
    log_poisson = (
        k * state_log_rates.unsqueeze(-1)
        - torch.exp(state_log_rates).unsqueeze(-1)
        - torch.lgamma(k + 1.0)
    )  # (S, N, R+1)
    g_max = log_gauss.amax(dim=-1, keepdim=True).detach()
    p_max = log_poisson.amax(dim=-1, keepdim=True).detach()
    gauss = torch.exp(log_gauss - g_max).transpose(-3, -2)  # (..., N, T, R+1)
    poisson = torch.exp(log_poisson - p_max).permute(1, 2, 0)  # (N, R+1, S)
    mixed = torch.matmul(gauss, poisson).clamp_min(1e-300)  # (..., N, T, S)
    out = torch.log(mixed).transpose(-3, -1)  # (..., S, T, N)
    return out + g_max.squeeze(-1).unsqueeze(-3) + p_max.squeeze(-1).unsqueeze(-2)


def state_spike_count_moments(
    residual: torch.Tensor,
    state_log_rates: torch.Tensor,
    jump: torch.Tensor,
    noise_var: torch.Tensor,
    max_spikes: int = 10,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Log-likelihood and posterior moments of the spike count, per rate set (e.g. HMM state).

    For each rate set ``s``, bin and neuron, with weights w_k ∝ Poisson(k; λ_s) N(r; c k, σ²)
    over k = 0..R (r = y − AR prediction, the ``residual``):

        log Σ_k Poisson(k; λ_s) N(r; c k, σ²),   E[k],   E[k²].

    The log-likelihood equals :func:`calcium_ar_poisson_state_log_likelihood` given the same
    residuals; the moments are what an EM step needs to update rates, AR coefficient, jump and
    noise in closed form. The same memory-lean sum over k as the likelihood's
    (``_spike_count_sum``); E[k²] follows from its E[k] and E[k·(r − c k)].

    Args:
        residual: r, shape ``(..., N)`` (e.g. ``(T, N)``).
        state_log_rates: ``(S, N)``.
        jump, noise_var: ``(N,)``.

    Returns:
        ``(log_lik, mean_k, mean_k2)``, each of shape ``(S, ..., N)``.
    """
    n_extra = residual.ndim - 1
    lr = state_log_rates.reshape(state_log_rates.shape[0], *([1] * n_extra), -1)
    r = residual.unsqueeze(0)
    log_lik, (m_k, m_kd, _) = _spike_count_sum(lr, r, jump, noise_var, int(max_spikes), MOMENTS)
    shape = log_lik.shape
    m_k = m_k.view(shape)
    # E[k·d] = r E[k] − c E[k²]  ⇒  E[k²] = (r E[k] − E[k·d]) / c
    m_k2 = (r * m_k - m_kd.view(shape)) / jump
    return log_lik, m_k, m_k2


def poisson_tail_probability(rate: torch.Tensor | float, max_spikes: int = 10) -> torch.Tensor:
    """Probability mass P(s > R) that the truncated sum leaves out, for s ~ Poisson(rate).

    Args:
        rate: expected spike count per bin λ (spikes / bin), any shape, ≥ 0.
        max_spikes: truncation ``R``.

    Returns:
        ``1 − Σ_{k=0..R} Poisson(k; λ)``, same shape as ``rate``, computed as the regularised
        incomplete gamma ``P(R + 1, λ)`` so it is accurate when tiny.
    """
    rate_t = torch.as_tensor(rate, dtype=torch.float64)
    return torch.special.gammainc(torch.full_like(rate_t, float(max_spikes) + 1.0), rate_t)
