"""LFADS's recurrent parts with hand-written backward passes.

Autograd records every small operation of a recurrence: at the paper sizes (90 bins, batch
128) the two bidirectional encoders and the controller–generator loop of one LFADS training
step are tens of thousands of recorded operations, each a few microseconds of bookkeeping
around a tiny kernel. Here each recurrence is one autograd function:

- :func:`bidirectional_grus`: the four encoder directions (initial condition and controller
  input, forward and backward in time) advance together, one batched matrix product per bin;
  the input projections are one matrix product before the loop, and their weight gradients
  are accumulated bin by bin in the backward loop.
- :func:`controlled_generator`: the controller, the inferred-input sampling, the generator and
  the factor read-out over all bins.

The backward passes walk the bins once in reverse and compute per bin only what the recurrence
needs; weight gradients are accumulated or formed by one product over all bins. Parameters stay
those of the modules (``nn.GRU``, the cells, the linear maps), so state dicts and model files
are unchanged. GRU equations (PyTorch's gate order r, z, n)::

    r = σ(W_ir x + b_ir + W_hr h + b_hr)
    z = σ(W_iz x + b_iz + W_hz h + b_hz)
    n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
    h' = n + z ⊙ (h − n)

Shapes: B trials, T bins, N inputs, H hidden units, D directions.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property

import torch
from torch import nn


def _bins(x: torch.Tensor, dim: int = 0) -> tuple[torch.Tensor, ...]:
    """Views of ``x`` per bin (along ``dim``), made in one call: indexing inside the loops
    over bins would cost one dispatched view operation per use."""
    return x.unbind(dim)


class _GateViews:
    """Per-bin views of a GRU's gate buffers (T, B, 3H) split as [r z | n] or [r | z | n],
    each split made on its first use."""

    def __init__(self, x: torch.Tensor, size: int):
        self._x, self._size = x, size

    @cached_property
    def all(self):
        return _bins(self._x)

    @cached_property
    def rz(self):
        return _bins(self._x[..., : 2 * self._size])

    @cached_property
    def r(self):
        return _bins(self._x[..., : self._size])

    @cached_property
    def z(self):
        return _bins(self._x[..., self._size : 2 * self._size])

    @cached_property
    def n(self):
        return _bins(self._x[..., 2 * self._size :])


def _bin_views(views: _GateViews, t: int) -> tuple[torch.Tensor, ...]:
    """Bin t's ``(all, rz, r, z, n)`` views (the gradient buffers of :func:`_gru_backward`)."""
    return views.all[t], views.rz[t], views.r[t], views.z[t], views.n[t]


class _GRURecurrence(torch.autograd.Function):
    """D GRU recurrences over the same inputs from zero initial states, the first
    ``n_forward`` read forward in time and the others backward.

    Inputs: ``x`` (B, T, N) (no gradient is returned for it); ``w_ih`` (D·3H, N) and ``b_ih``
    (D·3H), the directions' input weights stacked; ``w_hh`` (D, 3H, H); ``b_hh`` (D, 3H).
    Output: the states (T + 1, D, B, H) after 0, 1, …, T bins of each direction's own reading
    order (index 0 is the zero initial state).
    """

    @staticmethod
    def forward(ctx, x, w_ih, b_ih, w_hh, b_hh, n_forward: int):
        batch, n_steps, n_in = x.shape
        n_dir, three_h, size = w_hh.shape
        x = x.contiguous()
        # the bias is added bin by bin: adding it to the full product is one more pass over memory
        gi = torch.mm(x.view(-1, n_in), w_ih.t()).view(batch, n_steps, n_dir, three_h)
        b_i = b_ih.view(n_dir, three_h)
        w_t = w_hh.transpose(1, 2)
        bias = b_hh.unsqueeze(1)
        states = x.new_empty(n_steps + 1, n_dir, batch, size)
        states[0] = 0.0
        gates_rz = x.new_empty(n_steps, n_dir, batch, 2 * size)
        cand = x.new_empty(n_steps, n_dir, batch, size)
        hidden_proj = x.new_empty(n_steps, n_dir, batch, three_h)
        g_buf = x.new_empty(batch, n_dir, three_h)  # one bin's input projections, all directions
        g = g_buf.transpose(0, 1)
        g_rz, g_n = g[..., : 2 * size], g[..., 2 * size :]
        gi_f, gi_b = _bins(gi[:, :, :n_forward], 1), _bins(gi[:, :, n_forward:], 1)
        states_, gh, cand_ = _bins(states), _GateViews(hidden_proj, size), _bins(cand)
        rz_, r_, z_ = _bins(gates_rz), _bins(gates_rz[..., :size]), _bins(gates_rz[..., size:])
        for t in range(n_steps):
            torch.baddbmm(bias, states_[t], w_t, out=gh.all[t])
            torch.cat((gi_f[t], gi_b[n_steps - 1 - t]), dim=1, out=g_buf).add_(b_i)
            _gru_forward(g_rz, g_n, gh.rz[t], gh.n[t], states_[t], rz_[t], r_[t], z_[t],
                         cand_[t], states_[t + 1])  # fmt: skip
        ctx.n_forward = n_forward
        ctx.save_for_backward(x, states, gates_rz, cand, hidden_proj, w_hh)
        return states

    @staticmethod
    def backward(ctx, d_states):
        x, states, gates_rz, cand, hidden_proj, w_hh = ctx.saved_tensors
        nf = ctx.n_forward
        n_steps, n_dir, batch, size = cand.shape
        new, zeros = d_states.new_empty, d_states.new_zeros
        n_in = x.shape[-1]
        d_gi, d_gh = (_GateViews(new(1, n_dir, batch, 3 * size), size) for _ in range(2))
        d_gi_t, d_gh_t = d_gi.all[0], d_gh.all[0]
        d_gi_bin, d_gh_bin = _bin_views(d_gi, 0), _bin_views(d_gh, 0)
        d_gi_f, d_gi_b, d_gh_tt = (
            d_gi_t[:nf].transpose(1, 2),
            d_gi_t[nf:].transpose(1, 2),
            d_gh_t.transpose(1, 2),
        )
        # weight and bias gradients, accumulated bin by bin (a full-size gradient of the input
        # projections, written out and multiplied once, is slower: its writes miss the cache)
        d_w_ih, d_b_ih = zeros(n_dir, 3 * size, n_in), zeros(n_dir, 3 * size)
        d_w_ih_f, d_w_ih_b = d_w_ih[:nf], d_w_ih[nf:]
        d_w, d_b = zeros(n_dir, 3 * size, size), zeros(n_dir, 3 * size)
        states_, cand_, d_states_, x_ = _bins(states), _bins(cand), _bins(d_states), _bins(x, 1)
        r_, z_ = _bins(gates_rz[..., :size]), _bins(gates_rz[..., size:])
        gh_n = _bins(hidden_proj[..., 2 * size :])
        dh = d_states[n_steps].clone()
        for t in range(n_steps - 1, -1, -1):
            if t < n_steps - 1:
                dh += d_states_[t + 1]
            dz = _gru_backward(dh, states_[t], r_[t], z_[t], cand_[t], gh_n[t], d_gi_bin,
                               d_gh_bin)  # fmt: skip
            d_w_ih_f.baddbmm_(d_gi_f, x_[t].expand(nf, -1, -1))
            d_w_ih_b.baddbmm_(d_gi_b, x_[n_steps - 1 - t].expand(n_dir - nf, -1, -1))
            d_b_ih += d_gi_t.sum(dim=1)
            d_w.baddbmm_(d_gh_tt, states_[t])
            d_b += d_gh_t.sum(dim=1)
            dh = torch.baddbmm(dz, d_gh_t, w_hh)
        return None, d_w_ih.view(-1, n_in), d_b_ih.view(-1), d_w, d_b, None


def bidirectional_grus(
    inputs: torch.Tensor, encoders: Sequence[nn.GRU], outputs: Sequence[bool] | None = None
) -> list[tuple[torch.Tensor | None, torch.Tensor]]:
    """Run single-layer, bidirectional, batch-first GRUs that share their inputs, from zero
    initial states: the same values as ``encoder(inputs)`` for each encoder.

    Args:
        inputs: (B, T, N).
        encoders: ``nn.GRU`` modules with ``bidirectional=True``, ``batch_first=True``,
            ``num_layers=1``, ``bias=True``, input size N and one hidden size H.
        outputs: per encoder, whether its full output is needed (default: all); the final
            states are always returned.

    Returns:
        For each encoder ``(output, h_n)``: output (B, T, 2H) — forward states, then backward
        states, per bin; None where ``outputs`` says it is not needed — and h_n (2, B, H), the
        final state of each direction.
    """
    sizes = {enc.hidden_size for enc in encoders}
    for enc in encoders:
        if not (enc.bidirectional and enc.batch_first and enc.num_layers == 1 and enc.bias):
            raise ValueError(
                "bidirectional_grus needs single-layer, bidirectional, batch-first GRUs with bias"
            )
    if len(sizes) != 1:
        raise ValueError(f"bidirectional_grus needs one hidden size; got {sorted(sizes)}")
    if inputs.requires_grad:
        raise ValueError(
            "bidirectional_grus returns no gradient for its inputs; run the nn.GRU modules "
            "(LFADS does so for inputs that require a gradient)"
        )
    n_enc = len(encoders)
    fwd = [(enc.weight_ih_l0, enc.bias_ih_l0, enc.weight_hh_l0, enc.bias_hh_l0) for enc in encoders]
    rev = [
        (
            enc.weight_ih_l0_reverse,
            enc.bias_ih_l0_reverse,
            enc.weight_hh_l0_reverse,
            enc.bias_hh_l0_reverse,
        )
        for enc in encoders
    ]
    directions = fwd + rev
    w_ih = torch.cat([d[0] for d in directions])
    b_ih = torch.cat([d[1] for d in directions])
    w_hh = torch.stack([d[2] for d in directions])
    b_hh = torch.stack([d[3] for d in directions])
    states = _GRURecurrence.apply(inputs, w_ih, b_ih, w_hh, b_hh, n_enc)  # (T + 1, D, B, H)
    wanted = tuple(bool(w) for w in (outputs if outputs is not None else [True] * n_enc))
    if len(wanted) != n_enc:
        raise ValueError(f"outputs needs one flag per encoder ({n_enc}); got {len(wanted)}")
    split = _EncoderOutputs.apply(states, wanted)
    return [(split[2 * e] if wanted[e] else None, split[2 * e + 1]) for e in range(n_enc)]


class _EncoderOutputs(torch.autograd.Function):
    """Per encoder, the output (B, T, 2H) and final states h_n (2, B, H) of the states
    (T + 1, D, B, H) of :class:`_GRURecurrence` (E encoders: directions e and E + e).

    The backward pass writes the gradients of all outputs into one gradient of the states;
    through slicing, autograd would form a zero-filled full-size gradient per slice and add
    them up. Outputs not ``wanted`` are returned empty (their encoder's h_n still is).
    """

    @staticmethod
    def forward(ctx, states, wanted):
        n_enc = len(wanted)
        ctx.set_materialize_grads(False)
        ctx.wanted, ctx.shape = wanted, states.shape
        out = []
        for e in range(n_enc):
            forward_states, backward_states = states[1:, e], states[1:, n_enc + e]
            output = states.new_empty(0)
            if wanted[e]:
                output = torch.cat((forward_states, backward_states.flip(0)), dim=-1)
                output = output.transpose(0, 1)
            out += [output, torch.stack((forward_states[-1], backward_states[-1]))]
        ctx.mark_non_differentiable(*(out[2 * e] for e in range(n_enc) if not wanted[e]))
        return tuple(out)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, *grads):
        n_enc, size = len(ctx.wanted), ctx.shape[-1]
        given = [g for g in grads if g is not None]
        if not given:
            return None, None
        d_states = given[0].new_empty(ctx.shape)
        d_states[0] = 0.0  # the zero initial states (not read by the recurrence's backward)
        for e in range(n_enc):
            d_output, d_h_n = grads[2 * e], grads[2 * e + 1]
            fwd, bwd = d_states[1:, e], d_states[1:, n_enc + e]
            if ctx.wanted[e] and d_output is not None:
                d_output = d_output.transpose(0, 1)  # (T, B, 2H)
                fwd.copy_(d_output[..., :size])
                bwd.copy_(d_output[..., size:].flip(0))
            else:
                fwd.zero_()
                bwd.zero_()
            if d_h_n is not None:
                fwd[-1] += d_h_n[0]
                bwd[-1] += d_h_n[1]
        return d_states, None


def _gru_forward(gi_rz, gi_n, gh_rz, gh_n, h, rz_out, r, z, n_out, h_out) -> None:
    """One GRU update (B, H) from the input and hidden projections' [r z] and n parts, into
    buffers; ``r`` and ``z`` are the two halves of ``rz_out``."""
    torch.sigmoid(gi_rz + gh_rz, out=rz_out)
    torch.tanh(torch.addcmul(gi_n, r, gh_n), out=n_out)
    torch.addcmul(n_out, z, h - n_out, out=h_out)


def _gru_backward(dh, h, r, z, n, gh_n, d_gi, d_gh) -> torch.Tensor:
    """Backward of :func:`_gru_forward` for the gradient ``dh`` (B, H) of the new state: fills
    the gradients of the input and hidden projections (``d_gi``, ``d_gh``: :class:`_GateViews`
    of one bin, given as ``(all, rz, r, z, n)``) and returns the part of the previous state's
    gradient that bypasses the hidden projection (dh ⊙ z)."""
    _, d_gi_rz, d_gi_r, d_gi_z, d_gi_n = d_gi
    _, d_gh_rz, _, _, d_gh_n = d_gh
    dz = dh * z
    d_an = torch.ops.aten.tanh_backward(dh - dz, n, grad_input=d_gi_n)
    torch.ops.aten.sigmoid_backward(dh * (h - n), z, grad_input=d_gi_z)
    torch.ops.aten.sigmoid_backward(d_an * gh_n, r, grad_input=d_gi_r)
    d_gh_rz.copy_(d_gi_rz)
    torch.mul(d_an, r, out=d_gh_n)
    return dz


class _ControlledGenerator(torch.autograd.Function):
    """The LFADS controller and generator over T bins, with a hand-written backward pass.

    Per bin t (B trials; C controller, K inferred-input, G generator and F factor units)::

        c_t = GRU_c(ci_t + W_fac f_{t-1}, c_{t-1})        ci_t: projected encoder output
        [μ_t, log σ²_t] = W_co c_t + b_co ;  σ_t = exp(log σ²_t / 2) ;  u_t = μ_t + σ_t ε_t
        g_t = GRU_g(W_gi u_t + b_gi, g_{t-1}) ;  f_t = W_f (m_t ⊙ g_t)

    with ε_t the Gaussian draws (zero for posterior means) and m_t the dropout masks
    (``None``: no dropout). Outputs, time-major: f (T, B, F), μ, σ and u (T, B, K).
    """

    @staticmethod
    def forward(
        ctx, ci, f0, c0, g0, eps, masks, w_fac, wc_hh, bc_hh, w_co, b_co, wg_ih, bg_ih, wg_hh,
        bg_hh, w_f,
    ):  # fmt: skip
        batch, n_steps, three_c = ci.shape
        con, gen = three_c // 3, g0.shape[-1]
        n_fac, n_co = w_f.shape[0], w_co.shape[0] // 2
        new = ci.new_empty
        cs, gs = new(n_steps + 1, batch, con), new(n_steps + 1, batch, gen)
        fs = new(n_steps + 1, batch, n_fac)
        cs[0], gs[0], fs[0] = c0, g0, f0
        c_rz, c_n = new(n_steps, batch, 2 * con), new(n_steps, batch, con)
        c_gi, c_gh = new(n_steps, batch, three_c), new(n_steps, batch, three_c)
        g_rz, g_n = new(n_steps, batch, 2 * gen), new(n_steps, batch, gen)
        g_gi, g_gh = new(n_steps, batch, 3 * gen), new(n_steps, batch, 3 * gen)
        co = new(n_steps, batch, 2 * n_co)
        stds, us = new(n_steps, batch, n_co), new(n_steps, batch, n_co)
        gm = new(n_steps, batch, gen) if masks is not None else gs[1:]
        # the log-variance rows halved (exact: a power of two), so the product gives log σ² / 2
        half = torch.cat((torch.ones_like(b_co[:n_co]), torch.full_like(b_co[n_co:], 0.5)))
        w_co_t, b_co = (w_co * half[:, None]).t(), b_co * half
        w_fac_t, wc_hh_t = w_fac.t(), wc_hh.t()
        wg_ih_t, wg_hh_t, w_f_t = wg_ih.t(), wg_hh.t(), w_f.t()
        ci_, cs_, gs_, fs_ = _bins(ci, 1), _bins(cs), _bins(gs), _bins(fs)
        c_gi_, c_gh_ = _GateViews(c_gi, con), _GateViews(c_gh, con)
        g_gi_, g_gh_ = _GateViews(g_gi, gen), _GateViews(g_gh, gen)
        c_rz_, c_r, c_z = _bins(c_rz), _bins(c_rz[..., :con]), _bins(c_rz[..., con:])
        g_rz_, g_r, g_z = _bins(g_rz), _bins(g_rz[..., :gen]), _bins(g_rz[..., gen:])
        c_n_, g_n_, co_ = _bins(c_n), _bins(g_n), _bins(co)
        means, half_logvars = _bins(co[..., :n_co]), _bins(co[..., n_co:])
        stds_, us_, eps_, gm_ = _bins(stds), _bins(us), _bins(eps), _bins(gm)
        masks_ = _bins(masks) if masks is not None else None
        for t in range(n_steps):
            torch.addmm(ci_[t], fs_[t], w_fac_t, out=c_gi_.all[t])
            torch.addmm(bc_hh, cs_[t], wc_hh_t, out=c_gh_.all[t])
            _gru_forward(c_gi_.rz[t], c_gi_.n[t], c_gh_.rz[t], c_gh_.n[t], cs_[t], c_rz_[t],
                         c_r[t], c_z[t], c_n_[t], cs_[t + 1])  # fmt: skip
            torch.addmm(b_co, cs_[t + 1], w_co_t, out=co_[t])
            torch.exp(half_logvars[t], out=stds_[t])
            torch.addcmul(means[t], stds_[t], eps_[t], out=us_[t])
            torch.addmm(bg_ih, us_[t], wg_ih_t, out=g_gi_.all[t])
            torch.addmm(bg_hh, gs_[t], wg_hh_t, out=g_gh_.all[t])
            _gru_forward(g_gi_.rz[t], g_gi_.n[t], g_gh_.rz[t], g_gh_.n[t], gs_[t], g_rz_[t],
                         g_r[t], g_z[t], g_n_[t], gs_[t + 1])  # fmt: skip
            if masks_ is not None:
                torch.mul(gs_[t + 1], masks_[t], out=gm_[t])
            torch.mm(gm_[t], w_f_t, out=fs_[t + 1])
        ctx.save_for_backward(
            cs, gs, fs, c_rz, c_n, c_gh, g_rz, g_n, g_gh, stds, us, gm, eps, masks,
            w_fac, wc_hh, w_co, wg_ih, wg_hh, w_f,
        )  # fmt: skip
        return fs[1:], co[:, :, :n_co], stds, us

    @staticmethod
    def backward(ctx, d_f, d_mean, d_std, d_u):
        (
            cs, gs, fs, c_rz, c_n, c_gh, g_rz, g_n, g_gh, stds, us, gm, eps, masks,
            w_fac, wc_hh, w_co, wg_ih, wg_hh, w_f,
        ) = ctx.saved_tensors  # fmt: skip
        n_steps, batch, con = c_n.shape
        gen, n_co = g_n.shape[-1], stds.shape[-1]
        new = d_f.new_empty
        d_ci = new(batch, n_steps, 3 * con)
        d_c_gh, d_g_gi, d_g_gh = (
            new(n_steps, batch, 3 * con),
            new(n_steps, batch, 3 * gen),
            new(n_steps, batch, 3 * gen),
        )
        d_co = new(n_steps, batch, 2 * n_co)
        d_f_all = d_f.clone()  # gradient of every f_t, including its use by the controller
        d_gi_c = _GateViews(new(1, batch, 3 * con), con)
        dc = d_f.new_zeros(batch, con)
        dg = d_f.new_zeros(batch, gen)
        cs_, gs_, c_n_, g_n_ = _bins(cs), _bins(gs), _bins(c_n), _bins(g_n)
        c_r, c_z = _bins(c_rz[..., :con]), _bins(c_rz[..., con:])
        g_r, g_z = _bins(g_rz[..., :gen]), _bins(g_rz[..., gen:])
        c_gh_n, g_gh_n = _bins(c_gh[..., 2 * con :]), _bins(g_gh[..., 2 * gen :])
        d_c_gh_, d_g_gi_, d_g_gh_ = (
            _GateViews(d_c_gh, con),
            _GateViews(d_g_gi, gen),
            _GateViews(d_g_gh, gen),
        )
        d_co_, d_co_mean, d_co_lv = _bins(d_co), _bins(d_co[..., :n_co]), _bins(d_co[..., n_co:])
        d_f_, d_u_, d_mean_, d_std_ = _bins(d_f_all), _bins(d_u), _bins(d_mean), _bins(d_std)
        eps_, stds_, d_ci_ = _bins(eps), _bins(stds), _bins(d_ci, 1)
        masks_ = _bins(masks) if masks is not None else None
        d_gi_c0 = _bin_views(d_gi_c, 0)
        for t in range(n_steps - 1, -1, -1):
            d_gm = torch.mm(d_f_[t], w_f)
            dg = torch.addcmul(dg, d_gm, masks_[t]) if masks_ is not None else dg + d_gm
            direct = _gru_backward(dg, gs_[t], g_r[t], g_z[t], g_n_[t], g_gh_n[t],
                                   _bin_views(d_g_gi_, t), _bin_views(d_g_gh_, t))  # fmt: skip
            dg = torch.addmm(direct, d_g_gh_.all[t], wg_hh)
            du = torch.addmm(d_u_[t], d_g_gi_.all[t], wg_ih)
            torch.add(d_mean_[t], du, out=d_co_mean[t])
            # σ = exp(log σ² / 2): d log σ² = (dσ + du ε) σ / 2
            torch.mul(torch.addcmul(d_std_[t], du, eps_[t]), stds_[t] * 0.5, out=d_co_lv[t])
            dc = torch.addmm(dc, d_co_[t], w_co)
            direct = _gru_backward(dc, cs_[t], c_r[t], c_z[t], c_n_[t], c_gh_n[t], d_gi_c0,
                                   _bin_views(d_c_gh_, t))  # fmt: skip
            dc = torch.addmm(direct, d_c_gh_.all[t], wc_hh)
            d_ci_[t].copy_(d_gi_c0[0])
            if t > 0:
                d_f_[t - 1].addmm_(d_gi_c0[0], w_fac)
            else:
                d_f0 = torch.mm(d_gi_c0[0], w_fac)

        def outer(grad, x):  # Σ over bins and trials of grad ⊗ x
            grad, x = grad.reshape(-1, grad.shape[-1]), x.reshape(-1, x.shape[-1])
            if x.shape[1] < grad.shape[1]:  # a narrow result column: 4× faster transposed
                return x.t().mm(grad).t()
            return grad.t().mm(x)

        flat = d_ci.transpose(0, 1)
        grads = (
            d_ci, d_f0, dc, dg, None, None,
            outer(flat, fs[:-1]),                      # w_fac
            outer(d_c_gh, cs[:-1]), d_c_gh.sum((0, 1)),  # controller recurrent weights, bias
            outer(d_co, cs[1:]), d_co.sum((0, 1)),       # controller → inferred input
            outer(d_g_gi, us), d_g_gi.sum((0, 1)),       # generator input weights, bias
            outer(d_g_gh, gs[:-1]), d_g_gh.sum((0, 1)),  # generator recurrent weights, bias
            outer(d_f_all, gm),                          # factors
        )  # fmt: skip
        return grads


def controlled_generator(ci, f0, c0, g0, eps, masks, w_fac, controller, con_to_co, generator,
                         factors):  # fmt: skip
    """Run the LFADS controller and generator (see :class:`_ControlledGenerator`).

    Args:
        ci: (B, T, 3C) projected controller inputs (encoder output times W_ci, plus b_ci).
        f0, c0, g0: (B, F), (B, C), (B, G) initial factors, controller and generator states.
        eps: (T, B, K) standard-normal draws (zeros for posterior means).
        masks: (T, B, G) dropout masks of the generator states, or None.
        w_fac: (3C, F) the controller's input weights for the factors.
        controller, generator: cells with ``weight_hh`` / ``bias_hh`` (and ``weight_ih`` /
            ``bias_ih`` for the generator); con_to_co, factors: the linear maps.

    Returns: f (T, B, F), μ (T, B, K), σ (T, B, K), u (T, B, K).
    """
    return _ControlledGenerator.apply(
        ci, f0, c0, g0, eps, masks, w_fac, controller.weight_hh, controller.bias_hh,
        con_to_co.weight, con_to_co.bias, generator.weight_ih, generator.bias_ih,
        generator.weight_hh, generator.bias_hh, factors.weight,
    )  # fmt: skip
