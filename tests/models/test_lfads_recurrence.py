"""The hand-written recurrences against autograd through the same operations (second
implementation: ``nn.GRU`` and LFADS(recurrence='autograd')), in float64."""

import pytest
import torch
from torch import nn

from calcium_dynamics.models.lfads import LFADS
from calcium_dynamics.models.lfads.recurrence import _GRURecurrence, bidirectional_grus

SIZES = dict(ic_enc_dim=5, ci_enc_dim=5, con_dim=4, co_dim=2, ic_dim=3, gen_dim=6, fac_dim=4)


@pytest.fixture
def float64():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def test_gru_recurrence_gradients_match_finite_differences(float64):
    torch.manual_seed(0)
    x = torch.randn(3, 5, 7)
    w_ih = torch.randn(4 * 6, 7, requires_grad=True)  # 4 directions, H = 2
    b_ih = torch.randn(4 * 6, requires_grad=True)
    w_hh = torch.randn(4, 6, 2, requires_grad=True)
    b_hh = torch.randn(4, 6, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda *w: _GRURecurrence.apply(x, *w, 2), (w_ih, b_ih, w_hh, b_hh)
    )


def test_bidirectional_grus_equal_nn_gru(float64):
    torch.manual_seed(1)
    x = torch.randn(4, 9, 6)
    encoders = [nn.GRU(6, 3, batch_first=True, bidirectional=True) for _ in range(2)]
    weights = [p for enc in encoders for p in enc.parameters()]
    probes = [torch.randn(4, 9, 6), torch.randn(2, 4, 3)]

    def loss(pairs):
        return sum((out * probes[0]).sum() + (h_n * probes[1]).sum() for out, h_n in pairs)

    reference = [enc(x) for enc in encoders]
    fused = bidirectional_grus(x, encoders)
    for (ref_out, ref_h), (out, h_n) in zip(reference, fused, strict=True):
        torch.testing.assert_close(out, ref_out, rtol=0, atol=1e-12)
        torch.testing.assert_close(h_n, ref_h, rtol=0, atol=1e-12)
    grads_ref = torch.autograd.grad(loss(reference), weights)
    grads = torch.autograd.grad(loss(fused), weights)
    for g_ref, g in zip(grads_ref, grads, strict=True):
        torch.testing.assert_close(g, g_ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("wanted", [[False, True], [True, False], [False, False]])
def test_bidirectional_grus_outputs_not_wanted(float64, wanted):
    """Outputs left out come back as None; the gradients of what is used equal nn.GRU's."""
    torch.manual_seed(2)
    x = torch.randn(3, 7, 5)
    encoders = [nn.GRU(5, 4, batch_first=True, bidirectional=True) for _ in range(2)]
    weights = [p for enc in encoders for p in enc.parameters()]
    probes = [(torch.randn(3, 7, 8), torch.randn(2, 3, 4)) for _ in encoders]

    def loss(pairs):
        total = 0.0
        for (out, h_n), (p_out, p_h), w in zip(pairs, probes, wanted, strict=True):
            total = total + (h_n * p_h).sum() + ((out * p_out).sum() if w else 0.0)
        return total

    fused = bidirectional_grus(x, encoders, outputs=wanted)
    assert [out is None for out, _ in fused] == [not w for w in wanted]
    grads_ref = torch.autograd.grad(loss([enc(x) for enc in encoders]), weights)
    grads = torch.autograd.grad(loss(fused), weights, allow_unused=True)
    for g_ref, g in zip(grads_ref, grads, strict=True):
        torch.testing.assert_close(g, g_ref, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="one flag per encoder"):
        bidirectional_grus(x, encoders, outputs=[True])


def test_bidirectional_grus_rejects_mixed_sizes():
    encoders = [nn.GRU(4, 3, batch_first=True, bidirectional=True), nn.GRU(4, 5, batch_first=True,
                bidirectional=True)]  # fmt: skip
    with pytest.raises(ValueError, match="one hidden size"):
        bidirectional_grus(torch.zeros(2, 3, 4), encoders)
    with pytest.raises(ValueError, match="bidirectional"):
        bidirectional_grus(torch.zeros(2, 3, 4), [nn.GRU(4, 3, batch_first=True)])


@pytest.mark.parametrize(
    "settings",
    [
        dict(observation="poisson", dropout=0.3, cd_keep_ratio=0.7),
        dict(observation="gaussian", dropout=0.0, ci_lag=2),
        dict(observation="zig", sbtt=True, dropout=0.1),
        dict(observation="poisson", dropout=0.2, ic_enc_dim=7, ci_enc_dim=4),  # two encoder sizes
    ],
)
def test_fused_lfads_equals_autograd_lfads(float64, settings):
    """Same loss terms and parameter gradients (same dropout and sampling draws), and the same
    posterior means, as the model whose every operation autograd records."""
    kw = dict(n_neurons=7, n_steps=11, **{**SIZES, **settings})
    torch.manual_seed(2)
    reference = LFADS(**kw, recurrence="autograd")
    fused = LFADS(**kw, recurrence="fused")
    fused.load_state_dict(reference.state_dict())
    gen = torch.Generator().manual_seed(3)
    x = torch.poisson(torch.full((9, 11, 7), 1.5), generator=gen)
    if settings.get("sbtt"):
        x[:, ::3, :4] = float("nan")
    results = []
    for model in (reference, fused):
        torch.manual_seed(5)
        terms = model.compute_loss(x, training=True)
        terms["loss"].backward()
        results.append((terms, {k: p.grad for k, p in model.named_parameters()}))
    (ref_terms, ref_grads), (terms, grads) = results
    for key in ref_terms:
        torch.testing.assert_close(terms[key], ref_terms[key], rtol=1e-12, atol=1e-12)
    assert ref_grads.keys() == grads.keys()
    for key, g_ref in ref_grads.items():
        assert g_ref is not None and grads[key] is not None, key
        torch.testing.assert_close(grads[key], g_ref, rtol=1e-10, atol=1e-12, msg=key)
    reference.eval(), fused.eval()
    with torch.no_grad():
        ref_out, out = (
            reference(torch.nan_to_num(x), sample=False),
            fused(torch.nan_to_num(x), sample=False),
        )
    for key in ("factors", "co_mean", "co_std", "u", "ic_mean"):
        torch.testing.assert_close(out[key], ref_out[key], rtol=0, atol=1e-12)


def test_unknown_recurrence_is_rejected():
    with pytest.raises(ValueError, match="recurrence"):
        LFADS(n_neurons=3, n_steps=4, recurrence="cudnn")


def test_auto_recurrence_is_fused_on_cpu(float64):
    """'auto' (the default) takes the fused path on a CPU: the fused model's outputs bit for
    bit."""
    kw = dict(n_neurons=7, n_steps=11, **SIZES)
    torch.manual_seed(2)
    auto = LFADS(**kw)
    assert auto.hparams.recurrence == "auto"
    fused = LFADS(**kw, recurrence="fused")
    fused.load_state_dict(auto.state_dict())
    x = torch.rand(4, 11, 7)
    with torch.no_grad():
        torch.manual_seed(1)
        a = auto(x)["factors"]
        torch.manual_seed(1)
        f = fused(x)["factors"]
    assert torch.equal(a, f)


def test_inputs_that_require_a_gradient_get_one(float64):
    """The fused encoders give no input gradient: such inputs run the recorded path, and the
    gradient equals the one of recurrence='autograd'."""
    kw = dict(n_neurons=7, n_steps=11, **SIZES)
    torch.manual_seed(2)
    fused = LFADS(**kw, recurrence="fused")
    reference = LFADS(**kw, recurrence="autograd")
    reference.load_state_dict(fused.state_dict())
    grads = []
    for model in (fused, reference):
        x = torch.rand(4, 11, 7, requires_grad=True)
        with torch.no_grad():
            x.copy_(torch.linspace(0, 1, x.numel()).view_as(x))
        model(x, sample=False)["factors"].sum().backward()
        grads.append(x.grad)
    assert grads[0].abs().max() > 0
    torch.testing.assert_close(grads[0], grads[1], rtol=0, atol=0)
    enc = nn.GRU(7, 3, batch_first=True, bidirectional=True)
    with pytest.raises(ValueError, match="no gradient for its inputs"):
        bidirectional_grus(torch.rand(2, 5, 7, requires_grad=True), [enc])
