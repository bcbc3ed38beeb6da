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
