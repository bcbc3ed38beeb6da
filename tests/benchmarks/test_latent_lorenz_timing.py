"""The LFADS timing benchmark's same-run comparisons: baseline names, ratios, loss checks."""

import pytest


def _run(epoch_s: float, step_s: float, loss: float) -> dict:
    return {
        "train_epoch_cpu_s_median": epoch_s,
        "train_step_cpu_s_median": step_s,
        "losses_after_training": {"train/loss": loss, "valid/loss": loss + 0.5},
    }


def test_suffix_combinations_keep_their_order(latent_lorenz):
    combos = latent_lorenz._suffix_combinations()
    assert combos == [
        "_previous",
        "_autograd",
        "_previous_autograd",
        "_system_malloc",
        "_previous_system_malloc",
        "_autograd_system_malloc",
        "_previous_autograd_system_malloc",
    ]


def test_same_run_comparisons(latent_lorenz):
    runs = {
        "autolfads": [_run(1.5, 0.5, 0.25)],
        "autolfads_autograd_system_malloc": [_run(1.8, 0.6, 0.25)],
        "calcium_lfads": [_run(2.0, 0.7, 0.5)],
        "calcium_lfads_previous_autograd_system_malloc": [_run(3.0, 1.05, 0.5 + 2**-20)],
    }
    out = {name: r[0] for name, r in runs.items()}
    ratios, losses = latent_lorenz.same_run_comparisons(out, runs)
    assert ratios["autolfads_speedup_vs_autograd_system_malloc"] == pytest.approx(1.2)
    assert ratios["autolfads_step_speedup_vs_autograd_system_malloc"] == pytest.approx(1.2)
    assert ratios["calcium_lfads_speedup_vs_previous_autograd_system_malloc"] == 1.5
    assert ratios["calcium_lfads_step_speedup_vs_previous_autograd_system_malloc"] == 1.5
    assert ratios["calcium_lfads_epoch_cost_vs_poisson"] == pytest.approx(1.333)
    assert "autolfads_speedup_vs_previous" not in ratios  # only timed baselines
    assert losses == {
        "autolfads_vs_autograd_system_malloc": 0.0,
        "calcium_lfads_vs_previous_autograd_system_malloc": 2**-20,
    }


def test_bf16_variants_are_compared_with_float32_products(latent_lorenz):
    runs = {
        "autolfads": [_run(1.5, 0.5, 0.25)],
        "autolfads_autograd_system_malloc": [_run(1.8, 0.6, 0.25)],
        "autolfads_bf16": [_run(1.2, 0.4, 0.25 + 2**-10)],
        "calcium_lfads": [_run(2.0, 0.7, 0.5)],
        "calcium_lfads_bf16": [_run(1.6, 0.56, 0.5)],
    }
    out = {name: r[0] for name, r in runs.items()}
    ratios, losses = latent_lorenz.same_run_comparisons(out, runs)
    assert ratios["autolfads_bf16_speedup_vs_fp32"] == 1.25
    assert ratios["autolfads_bf16_step_speedup_vs_fp32"] == 1.25
    assert ratios["autolfads_bf16_speedup_vs_fp32_autograd_system_malloc"] == 1.5
    assert ratios["calcium_lfads_bf16_speedup_vs_fp32"] == 1.25
    # each variant's cost against Poisson LFADS with the same products
    assert ratios["calcium_lfads_bf16_epoch_cost_vs_poisson"] == pytest.approx(1.333)
    assert ratios["calcium_lfads_epoch_cost_vs_poisson"] == pytest.approx(1.333)
    assert "autolfads_bf16_epoch_cost_vs_poisson" not in ratios
    assert losses["autolfads_bf16_vs_fp32"] == 2**-10
    assert losses["calcium_lfads_bf16_vs_fp32"] == 0.0


def test_previous_costs_are_the_autograd_expressions(latent_lorenz):
    """The ``_previous`` baselines' Poisson, Gaussian and ZIG costs give the values and
    gradients of the hand-written ones, to float32 rounding (they differ only in how they are
    computed)."""
    import torch

    from calcium_dynamics.models.lfads.observations import (
        CalciumARPoissonObservation,
        GaussianObservation,
        PoissonObservation,
        ZIGObservation,
    )

    gen = torch.Generator().manual_seed(0)
    data = torch.poisson(torch.full((4, 9, 6), 0.7), generator=gen) * 0.3
    mask = torch.rand(data.shape, generator=gen) < 0.5
    for obs, previous in (
        (PoissonObservation(6), latent_lorenz._previous_poisson_nll),
        (GaussianObservation(6), latent_lorenz._previous_nll_mean),
        (CalciumARPoissonObservation(6, max_spikes=4), latent_lorenz._previous_nll_mean),
        (ZIGObservation(6, s_min=0.2), latent_lorenz._previous_zig_nll),
    ):
        raw = torch.randn(obs.n_params, *data.shape, generator=gen) - 0.5
        raw[:, 0, 0, :3] = torch.tensor([20.0, -20.0, 6.0])  # beyond the clamps
        raw[:, 1, 0, :2] = torch.tensor([14.0, -14.0])  # q beyond its clamp (ZIG)
        grads = []
        for nll in (type(obs).nll, previous):  # the class's own, or the generic one
            params = tuple(p.clone().requires_grad_() for p in raw)
            value = nll(obs, data, params, mask)
            value.backward()
            grads.append((float(value), [p.grad for p in params]))
        (new, new_grads), (old, old_grads) = grads
        assert abs(new - old) <= 1e-6 * abs(old)
        for a, b in zip(new_grads, old_grads, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)


def test_previous_training_step_restores_the_entry_wise_nan_test_and_adam_loop(
    latent_lorenz, monkeypatch
):
    import torch

    from calcium_dynamics.models.lfads import model as lfads_model

    monkeypatch.setattr(lfads_model, "_contains_nan", lfads_model._contains_nan)
    monkeypatch.setattr(
        lfads_model.LFADS, "configure_optimizers", lfads_model.LFADS.configure_optimizers
    )
    monkeypatch.setattr(lfads_model.LFADS, "_augmented", lfads_model.LFADS._augmented)
    m = lfads_model.LFADS(n_neurons=3, n_steps=4, weight_decay=1e-3)
    assert m.configure_optimizers().defaults["foreach"] is True
    latent_lorenz._previous_training_step()
    old = m.configure_optimizers()
    assert old.defaults["foreach"] is False and old.defaults["weight_decay"] == 1e-3
    x = torch.zeros(2, 4, 3)
    x[0, 0, 0], x[1, 1, 1] = float("inf"), float("-inf")
    assert lfads_model._contains_nan(x) is False
    x[1, 2, 2] = float("nan")
    assert lfads_model._contains_nan(x) is True


@pytest.mark.parametrize("sbtt", [True, False])
def test_previous_augmentations_give_the_same_inputs_targets_and_masks(latent_lorenz, sbtt):
    """The baseline's SBTT inside the stack, and the targets formed again, give what SBTT run
    first gives, bit for bit (only the passes over the data differ)."""
    import numpy as np
    import torch

    from calcium_dynamics.models.lfads.model import LFADS

    x = torch.tensor(np.random.default_rng(2).gamma(1.0, 0.3, (5, 8, 6)).astype(np.float32))
    if sbtt:
        x[:, ::3] = float("nan")
    m = LFADS(n_neurons=6, n_steps=8, observation="zig", sbtt=sbtt, cd_keep_ratio=0.6)
    results = []
    for augmented in (LFADS._augmented, latent_lorenz._previous_augmented):
        torch.manual_seed(4)
        results.append(augmented(m, x, True))
    for new, old in zip(*results, strict=True):
        assert torch.equal(torch.as_tensor(new), torch.as_tensor(old))
