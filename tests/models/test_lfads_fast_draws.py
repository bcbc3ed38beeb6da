"""Faster dropout masks (``fast_dropout_draws``): their probability, their use by dropout and
coordinated dropout, and that nothing else changes."""

import math

import pytest
import torch

from calcium_dynamics.models.lfads import LFADS, CoordinatedDropout
from calcium_dynamics.models.lfads.augmentations import KEEP_STEPS, keep_mask_16bit

SMALL = dict(ic_enc_dim=8, ci_enc_dim=8, con_dim=8, co_dim=2, ic_dim=8, gen_dim=16, fac_dim=6)


@pytest.mark.parametrize("keep", [0.05, 0.5, 0.7, 0.95])
def test_keep_mask_frequency_is_the_rounded_probability(keep):
    """Over 2,000,001 entries (an odd count: half a word unused) the kept fraction is within
    5 binomial standard deviations of round(keep · 65536) / 65536, and both halves of the
    words keep alike (each half within 5 s.d.; pairs independent: P(both) ≈ p²)."""
    g = torch.Generator().manual_seed(1)
    n = 2_000_001
    mask = keep_mask_16bit((n,), keep, generator=g)
    p = round(keep * KEEP_STEPS) / KEEP_STEPS
    assert abs(p - keep) <= 0.5 / KEEP_STEPS
    sd = math.sqrt(p * (1 - p) / n)
    assert abs(mask.float().mean().item() - p) < 5 * sd
    low, high = mask[0:-1:2].float(), mask[1::2].float()
    half_sd = math.sqrt(p * (1 - p) / low.numel())
    assert abs(low.mean().item() - p) < 5 * half_sd
    assert abs(high.mean().item() - p) < 5 * half_sd
    both_sd = math.sqrt(p * p * (1 - p * p) / low.numel())
    assert abs((low * high).mean().item() - p * p) < 5 * both_sd


def test_keep_mask_edges_shape_and_seed():
    assert not keep_mask_16bit((3, 5), 0.0).any()
    assert keep_mask_16bit((3, 5), 1.0).all()
    assert keep_mask_16bit((4, 3, 7), 0.5).shape == (4, 3, 7)
    a = keep_mask_16bit((99,), 0.5, generator=torch.Generator().manual_seed(3))
    b = keep_mask_16bit((99,), 0.5, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="keep"):
        keep_mask_16bit((3,), 1.5)


def test_coordinated_dropout_with_fast_draws():
    torch.manual_seed(0)
    x = torch.ones(4, 50, 40)
    cd = CoordinatedDropout(0.7, fast_draws=True)
    inputs, mask = cd(x, torch.ones_like(x, dtype=torch.bool), training=True)
    kept = inputs > 0
    assert torch.all(mask == ~kept)
    torch.testing.assert_close(inputs[kept], torch.full_like(inputs[kept], 1 / 0.7))
    sd = math.sqrt(0.7 * 0.3 / x.numel())
    assert abs(kept.float().mean().item() - round(0.7 * KEEP_STEPS) / KEEP_STEPS) < 5 * sd


def test_model_dropout_with_fast_draws_scales_like_dropout():
    """``_dropout`` keeps each entry with probability 1 − p and scales it by 1 / (1 − p), as
    ``nn.Dropout`` does; in eval mode it is the identity."""
    torch.manual_seed(0)
    m = LFADS(n_neurons=5, n_steps=12, dropout=0.2, fast_dropout_draws=True, **SMALL)
    x = torch.ones(200, 100, 10)
    y = m._dropout(x)
    kept = y > 0
    torch.testing.assert_close(y[kept], torch.full_like(y[kept], 1 / 0.8))
    sd = math.sqrt(0.8 * 0.2 / x.numel())
    assert abs(kept.float().mean().item() - 0.8) < 5 * sd + 0.5 / KEEP_STEPS
    m.eval()
    assert torch.equal(m._dropout(x), x)


@pytest.mark.parametrize("recurrence", ["fused", "autograd"])
def test_fast_draws_change_nothing_without_dropout(recurrence):
    """With no dropout and no coordinated dropout no mask is drawn: the same loss and
    gradients bit for bit."""
    data = torch.poisson(torch.full((6, 12, 5), 0.5))
    grads = []
    for fast in (False, True):
        torch.manual_seed(0)
        m = LFADS(
            n_neurons=5, n_steps=12, dropout=0.0, recurrence=recurrence,
            fast_dropout_draws=fast, **SMALL,
        )  # fmt: skip
        torch.manual_seed(1)
        loss = m.compute_loss(data, training=True)["loss"]
        loss.backward()
        grads.append([loss.detach()] + [p.grad.clone() for p in m.parameters()])
    for a, b in zip(*grads):
        assert torch.equal(a, b)


@pytest.mark.parametrize("recurrence", ["fused", "autograd"])
def test_fast_draws_train_with_dropout_and_coordinated_dropout(recurrence):
    """A training step runs with both kinds of dropout on; its masks differ from PyTorch's
    draws, so the loss differs, but both are finite."""
    data = torch.poisson(torch.full((6, 12, 5), 0.5))
    losses = []
    for fast in (False, True):
        torch.manual_seed(0)
        m = LFADS(
            n_neurons=5, n_steps=12, dropout=0.3, cd_keep_ratio=0.7, recurrence=recurrence,
            fast_dropout_draws=fast, **SMALL,
        )  # fmt: skip
        torch.manual_seed(1)
        loss = m.compute_loss(data, training=True)["loss"]
        loss.backward()
        assert all(torch.isfinite(p.grad).all() for p in m.parameters() if p.grad is not None)
        losses.append(float(loss.detach()))
    assert losses[0] != losses[1]
