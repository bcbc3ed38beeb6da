"""The Poisson and ZIG reconstruction costs equal the per-entry mean they shortcut."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from calcium_dynamics.models.lfads.observations import Observation, build_observation


def _data(name, rng, shape):
    if name == "poisson":
        return rng.poisson(0.4, shape).astype(np.float64)
    events = rng.gamma(1.0, 0.3, shape) + 0.1
    events = np.where(rng.random(shape) < 0.3, events, 0.0)
    events.flat[:3] = 0.1  # events at the location, the guarded edge case
    return events


@pytest.mark.parametrize("name", ["poisson", "zig"])
@pytest.mark.parametrize("keep", [1.0, 0.4, 0.0])
def test_nll_and_gradients_equal_the_masked_mean_of_the_log_likelihood(name, keep):
    rng = np.random.default_rng(3)
    shape = (4, 9, 5)
    obs = build_observation(name, shape[-1]).double()
    data = torch.tensor(_data(name, rng, shape))
    if name == "zig":
        obs.set_locations(data.numpy())
        with torch.no_grad():
            obs.log_sig.add_(torch.tensor(rng.normal(0, 0.3, obs.log_sig.shape)))
    mask = torch.tensor(rng.random(shape) < keep)
    raw = [torch.tensor(rng.normal(0, 2, shape), requires_grad=True) for _ in range(obs.n_params)]
    raw[0].data[0, 0, 0] = 40.0  # beyond the log-rate clamp

    def value_and_grads(nll):
        for t in [*raw, *obs.parameters()]:
            t.grad = None
        value = nll(obs, data, tuple(raw), mask)
        value.backward()
        grads = [t.grad.clone() for t in raw]
        grads += [p.grad.clone() for p in obs.parameters() if p.grad is not None]
        return value.detach(), grads

    fast, fast_grads = value_and_grads(type(obs).nll)
    plain, plain_grads = value_and_grads(Observation.nll)
    torch.testing.assert_close(fast, plain, rtol=1e-12, atol=1e-12)
    assert len(fast_grads) == len(plain_grads)
    for a, b in zip(fast_grads, plain_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    if keep == 0.0:
        assert float(fast) == 0.0


def _zig_case(rng, shape, keep, dtype=torch.float64):
    obs = build_observation("zig", shape[-1]).to(dtype)
    data = torch.tensor(_data("zig", rng, shape), dtype=dtype)
    obs.set_locations(data.double().numpy())
    with torch.no_grad():
        obs.log_sig.add_(torch.tensor(rng.normal(0, 0.3, obs.log_sig.shape), dtype=dtype))
    mask = torch.tensor(rng.random(shape) < keep)
    readout = torch.tensor(rng.normal(0, 2, (shape[0], shape[1], 3, shape[2])), dtype=dtype)
    readout[0, 0, 2, :2] = torch.tensor([12.0, -12.0], dtype=dtype)  # q beyond both clamps
    return obs, data, mask, readout


def _value_and_grads(obs, readout, nll):
    leaf = readout.clone().requires_grad_()
    for p in obs.parameters():
        p.grad = None
    value = nll(leaf)
    value.backward()
    return value.detach(), [leaf.grad, *(p.grad for p in obs.parameters())]


@pytest.mark.parametrize("keep", [1.0, 0.4, 0.0])
def test_zig_readout_nll_equals_the_nll_of_its_channels(keep):
    """From the readout as one tensor: the value and every gradient (readout, scales) of
    the per-channel cost, in float64 against the masked mean of the log-likelihood too."""
    obs, data, mask, readout = _zig_case(np.random.default_rng(7), (4, 9, 6), keep)
    one, one_grads = _value_and_grads(obs, readout, lambda r: obs.readout_nll(data, r, mask))
    split, split_grads = _value_and_grads(
        obs, readout, lambda r: obs.nll(data, r.unbind(dim=2), mask)
    )
    plain, plain_grads = _value_and_grads(
        obs, readout, lambda r: Observation.nll(obs, data, r.unbind(dim=2), mask)
    )
    assert torch.equal(one, split)
    torch.testing.assert_close(one, plain, rtol=1e-12, atol=1e-12)
    for a, b, c in zip(one_grads, split_grads, plain_grads, strict=True):
        assert torch.equal(a, b)
        torch.testing.assert_close(a, c, rtol=1e-10, atol=1e-12)
    assert float(one_grads[0][0, 0, 2, :2].abs().max()) == 0.0  # the clamp passes nothing
    if keep == 0.0:
        assert float(one) == 0.0 and float(one_grads[0].abs().max()) == 0.0


def test_zig_readout_nll_is_the_same_in_float32_bit_for_bit():
    """Training runs in float32: the one-tensor cost changes no bit of value or gradient."""
    obs, data, mask, readout = _zig_case(np.random.default_rng(8), (16, 30, 40), 0.7, torch.float32)
    one, one_grads = _value_and_grads(obs, readout, lambda r: obs.readout_nll(data, r, mask))
    split, split_grads = _value_and_grads(
        obs, readout, lambda r: obs.nll(data, r.unbind(dim=2), mask)
    )
    assert torch.equal(one, split)
    assert all(torch.equal(a, b) for a, b in zip(one_grads, split_grads, strict=True))


@pytest.mark.parametrize("name", ["poisson", "gaussian", "calcium"])
def test_split_gives_views_and_the_same_gradient_as_unbinding(name):
    rng = np.random.default_rng(9)
    obs = build_observation(name, 5).double()
    shape = (3, 8, obs.n_params, 5)
    readout = torch.tensor(rng.normal(-1, 1, shape))
    data = torch.tensor(_data("poisson", rng, (3, 8, 5)))
    mask = torch.tensor(rng.random((3, 8, 5)) < 0.6)
    params = obs.split(readout)
    assert len(params) == obs.n_params
    step = 8 * 5 * readout.element_size()  # channel i starts i·N entries in
    assert all(p.data_ptr() == readout.data_ptr() + i * step // 8 for i, p in enumerate(params))
    one, one_grads = _value_and_grads(obs, readout, lambda r: obs.readout_nll(data, r, mask))
    split, split_grads = _value_and_grads(
        obs, readout, lambda r: obs.nll(data, r.unbind(dim=2), mask)
    )
    assert torch.equal(one, split)
    for a, b in zip(one_grads, split_grads, strict=True):
        assert (a is None and b is None) or torch.equal(a, b)


def test_zig_readout_costs_reject_a_readout_without_three_channels():
    from calcium_dynamics.likelihoods.masked_nll import zig_readout_costs

    readout = torch.zeros(2, 3, 2, 4)
    with pytest.raises(ValueError, match=r"readout must have shape \(B, T, P >= 3, N\)"):
        zig_readout_costs(readout, torch.ones(2, 3, 4, dtype=torch.bool), torch.arange(3), 1e-5)


def test_radical_training_is_the_same_bit_for_bit_with_the_one_tensor_cost():
    """RADICaL's setting (ZIG, SBTT, coordinated dropout, dropout): three training steps with
    the cost from the readout as one tensor and with the per-channel cost end with the same
    losses and weights, bit for bit."""
    from calcium_dynamics.models.lfads.model import LFADS

    rng = np.random.default_rng(10)
    x = _data("zig", rng, (16, 12, 7)).astype(np.float32)
    x[:, ::3] = np.nan  # line-scan sampling
    batch = torch.tensor(x)

    def train(per_channel: bool):
        torch.manual_seed(0)
        model = LFADS(
            n_neurons=7, n_steps=12, observation="zig", sbtt=True, cd_keep_ratio=0.7,
            dropout=0.1, ic_enc_dim=8, ci_enc_dim=8, con_dim=8, ic_dim=4, gen_dim=10,
            fac_dim=5,
        )  # fmt: skip
        model.initialise_from_data(x)
        if per_channel:
            obs = model.observation
            obs.readout_nll = lambda d, r, m: obs.nll(d, r.unbind(dim=2), m)
        opt = model.configure_optimizers()
        losses = []
        for _ in range(3):
            opt.zero_grad()
            loss = model.compute_loss(batch, training=True)["loss"]
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses, [p.detach().clone() for p in model.parameters()]

    (one_losses, one_weights), (split_losses, split_weights) = train(False), train(True)
    assert one_losses == split_losses
    assert all(torch.equal(a, b) for a, b in zip(one_weights, split_weights, strict=True))


def test_positive_entries_by_cast_equal_the_comparison_for_counts_and_event_sizes():
    from calcium_dynamics.models.lfads.observations import _positive

    data = torch.tensor([0.0, -0.0, 1e-45, 1e-38, 0.1, 1.0, 7.0, 3e38], dtype=torch.float32)
    assert torch.equal(_positive(data), data > 0)
    counts = torch.poisson(torch.full((4, 9, 5), 0.3), generator=torch.Generator().manual_seed(1))
    assert torch.equal(_positive(counts), counts > 0) and bool((counts > 0).any())
