import numpy as np
import pytest
import torch

from calcium_dynamics.metrics.latent_recovery import latent_r2
from calcium_dynamics.models.lfads import (
    LFADS,
    CoordinatedDropout,
    SelectiveBackprop,
    model_from_dict,
    model_to_dict,
    train_lfads,
    validate_lfads_data,
)
from calcium_dynamics.models.lfads.observations import ZIGObservation

SMALL = dict(
    ic_enc_dim=8, ci_enc_dim=8, con_dim=8, co_dim=2, ic_dim=8, gen_dim=16, fac_dim=6, dropout=0.0
)


def _model(n=5, t=12, **kw):
    torch.manual_seed(0)
    return LFADS(n_neurons=n, n_steps=t, **{**SMALL, **kw})


def test_forward_and_infer_shapes():
    m = _model(observation="zig", sbtt=True)
    x = torch.rand(3, 12, 5)
    out = m(x)
    assert len(out["params"]) == 3 and out["params"][0].shape == (3, 12, 5)
    assert out["factors"].shape == (3, 12, 6) and out["u"].shape == (3, 12, 2)
    data = x.numpy().copy()
    data[:, ::3] = np.nan
    res = m.infer(data)
    assert res["rates"].shape == (3, 12, 5) and np.isfinite(res["rates"]).all()
    assert res["factors"].shape == (3, 12, 6)


def test_model_without_controller():
    m = _model(co_dim=0)
    terms = m.compute_loss(torch.poisson(torch.full((2, 12, 5), 0.5)), training=True)
    assert torch.isfinite(terms["loss"]) and float(terms["kl_co"]) == 0.0


def test_sbtt_masks_inputs_and_cost():
    x = torch.tensor([[[1.0, float("nan")], [2.0, 3.0]]])
    inputs, mask = SelectiveBackprop()(x, torch.ones_like(x, dtype=torch.bool), True)
    assert inputs[0, 0, 1] == 0 and not mask[0, 0, 1] and mask.sum() == 3


def test_sbtt_gradient_ignores_unsampled_entries():
    """The loss and every weight gradient are unchanged whatever the unsampled entries hold,
    and the readout outputs at unsampled entries receive exactly zero gradient."""
    rng = np.random.default_rng(0)
    data = (rng.gamma(1.0, 0.3, (4, 12, 5)) * (rng.random((4, 12, 5)) < 0.4)).astype(np.float32)
    mask = rng.random(data.shape) < 0.35
    mask[:, 0] = True
    a = np.where(mask, data, np.nan)
    m = _model(observation="zig", sbtt=True)
    m.observation.set_locations(a)

    def loss_and_grads(values):
        torch.manual_seed(1)
        m.zero_grad()
        out_holder = {}
        orig = m.forward

        def spy(x, sample=True):
            out = orig(x, sample)
            out["readout"].retain_grad()  # (B, T, 3, N): the cost is computed from it
            out_holder["out"] = out
            return out

        m.forward = spy
        loss = m.compute_loss(torch.as_tensor(values), training=True)["loss"]
        loss.backward()
        m.forward = orig
        grads = {k: p.grad.clone() for k, p in m.named_parameters() if p.grad is not None}
        return loss.detach(), grads, out_holder["out"]["readout"]

    loss_a, grads_a, readout_a = loss_and_grads(a)
    for channel in readout_a.grad.unbind(dim=2):
        assert torch.all(channel[torch.as_tensor(~mask)] == 0)
    # observation level: changing targets where the cost mask is False changes nothing
    obs = m.observation
    params = tuple(torch.randn(4, 12, 5, requires_grad=True) for _ in range(3))
    target_a = torch.as_tensor(np.nan_to_num(a))
    target_b = torch.where(torch.as_tensor(mask), target_a, torch.tensor(7.5))
    nll_a = obs.nll(target_a, params, torch.as_tensor(mask))
    g_a = torch.autograd.grad(nll_a, params)
    nll_b = obs.nll(target_b, params, torch.as_tensor(mask))
    g_b = torch.autograd.grad(nll_b, params)
    torch.testing.assert_close(nll_a, nll_b)
    for x, y in zip(g_a, g_b):
        torch.testing.assert_close(x, y)
    # same loss and gradients when recomputed (determinism of the comparison)
    loss_b, grads_b, _ = loss_and_grads(a.copy())
    torch.testing.assert_close(loss_a, loss_b)
    for k in grads_a:
        torch.testing.assert_close(grads_a[k], grads_b[k])


def test_coordinated_dropout_costs_only_dropped_entries():
    torch.manual_seed(0)
    x = torch.ones(2, 50, 40)
    cd = CoordinatedDropout(0.7)
    inputs, mask = cd(x, torch.ones_like(x, dtype=torch.bool), training=True)
    kept = inputs > 0
    assert torch.all(mask == ~kept)
    torch.testing.assert_close(inputs[kept], torch.full_like(inputs[kept], 1 / 0.7))
    assert abs(kept.float().mean().item() - 0.7) < 0.03
    same, full = cd(x, torch.ones_like(x, dtype=torch.bool), training=False)
    assert torch.equal(same, x) and full.all()
    with pytest.raises(ValueError, match="keep_ratio"):
        CoordinatedDropout(0.0)


def test_all_nan_neuron_is_rejected():
    data = np.random.default_rng(0).random((3, 12, 4)).astype(np.float32)
    data[:, :, 2] = np.nan
    with pytest.raises(ValueError, match=r"neurons \[2\] have no sampled entries"):
        validate_lfads_data(data, ZIGObservation(4), sbtt=True)


def test_nan_without_sbtt_is_rejected():
    data = np.ones((2, 12, 3), np.float32)
    data[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="SBTT is off"):
        validate_lfads_data(data, ZIGObservation(3), sbtt=False)


def test_short_trials_are_rejected():
    m = _model()
    with pytest.raises(
        ValueError, match="trials have 8 bins but the model was built for n_steps=12"
    ):
        m.infer(np.ones((2, 8, 5), np.float32))


def test_batch_without_sampled_entries_has_zero_reconstruction():
    m = _model(observation="zig", sbtt=True)
    terms = m.compute_loss(torch.full((2, 12, 5), float("nan")), training=True)
    assert float(terms["recon"]) == 0.0
    assert torch.isfinite(terms["loss"])
    terms["loss"].backward()
    assert m.readout.weight.grad is None or torch.all(m.readout.weight.grad == 0)


def test_negative_events_are_rejected_for_zig_training():
    data = np.abs(np.random.default_rng(0).normal(size=(10, 12, 3))).astype(np.float32)
    data[0, 3, 1] = -0.5
    with pytest.raises(ValueError, match="ZIG event sizes must be >= 0"):
        train_lfads(data, "radical", SMALL, {"max_epochs": 1, "enable_progress_bar": False})


def _trial_latent_data(n_trials=80, n_bins=20, n_neurons=20, seed=0):
    """Poisson spikes whose log rates follow one latent value per trial (constant in time)."""
    rng = np.random.default_rng(seed)
    latent = np.repeat(rng.uniform(-1, 1, (n_trials, 1, 1)), n_bins, axis=1)
    w = rng.normal(0, 1.5, (1, n_neurons))
    rates = np.exp(latent @ w + np.log(0.5))
    return rng.poisson(rates).astype(np.float32), latent


def test_tiny_training_lowers_loss_and_recovers_latent():
    spikes, latent = _trial_latent_data()
    trainer = {"max_epochs": 25, "batch_size": 32, "enable_progress_bar": False}
    params = {**SMALL, "co_dim": 0, "lr": 1e-2}
    model, _info = train_lfads(spikes, "autolfads", params, trainer, seed=0)
    untrained = LFADS(n_neurons=20, n_steps=20, observation="poisson", **params)
    untrained.initialise_from_data(spikes)
    x = torch.as_tensor(spikes)
    with torch.no_grad():
        before = float(untrained.compute_loss(x, training=False)["recon"])
        after = float(model.compute_loss(x, training=False)["recon"])
    assert after < before - 0.02
    rates = model.infer(spikes)["rates"]
    r2 = latent_r2(np.log(rates), latent, n_splits=2, inner_folds=2).r2[0]
    shuffled = latent_r2(
        np.log(rates), latent[np.random.default_rng(1).permutation(80)], n_splits=2, inner_folds=2
    ).r2[0]
    assert r2 > 0.5 and r2 > shuffled + 0.4


def test_saved_model_loads_with_weights_only(tmp_path):
    m = _model(observation="gaussian")
    path = tmp_path / "m.pt"
    torch.save(model_to_dict(m), path)
    loaded = model_from_dict(torch.load(path, weights_only=True))
    x = np.random.default_rng(0).normal(size=(2, 12, 5)).astype(np.float32)
    np.testing.assert_allclose(loaded.infer(x)["rates"], m.infer(x)["rates"], rtol=1e-6)


def test_extra_callbacks_see_every_training_epoch():
    """``callbacks`` reach the Lightning trainer: called once per epoch on the returned model."""
    import lightning as L

    class Record(L.Callback):
        def __init__(self):
            self.epochs, self.modules = [], set()

        def on_train_epoch_end(self, trainer, pl_module):
            self.epochs.append(trainer.current_epoch)
            self.modules.add(id(pl_module))

    spikes, _ = _trial_latent_data(n_trials=16, n_bins=8, n_neurons=4)
    record = Record()
    trainer = {"max_epochs": 3, "batch_size": 8, "enable_progress_bar": False, "logger": False}
    model, info = train_lfads(spikes, "autolfads", SMALL, trainer, callbacks=[record])
    assert record.epochs == [0, 1, 2] and record.modules == {id(model)}
    assert len(info["epoch_s"]) == 3


def test_best_validation_epoch_is_restored_and_patience_stops_training():
    """The weights returned are those of the lowest valid/recon after the ramps (never a
    latent score); with patience the run stops once valid/recon stops improving."""
    import lightning as L

    class Valid(L.Callback):  # valid/recon and a weight snapshot of every epoch
        def __init__(self):
            self.recon, self.states = [], []

        def on_validation_epoch_end(self, trainer, pl_module):
            self.recon.append(float(trainer.callback_metrics["valid/recon"]))
            self.states.append({k: v.clone() for k, v in pl_module.state_dict().items()})

    spikes, _ = _trial_latent_data(n_trials=24, n_bins=8, n_neurons=4)
    params = {**SMALL, "kl_ramp_epochs": 2, "l2_ramp_epochs": 2, "lr": 0.05}
    trainer = {"max_epochs": 12, "batch_size": 8, "enable_progress_bar": False, "logger": False}
    seen = Valid()
    model, info = train_lfads(
        spikes, "autolfads", params, {**trainer, "restore_best": True}, callbacks=[seen]
    )
    after_ramps = np.asarray(seen.recon[2:])
    best = 2 + int(np.argmin(after_ramps))
    assert info["best_epoch"] == best and info["best_valid_recon"] == after_ramps.min()
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, seen.states[best][key])
    stopped = Valid()
    _, short = train_lfads(
        spikes, "autolfads", params, {**trainer, "early_stopping_patience": 1}, callbacks=[stopped]
    )
    recon = np.asarray(stopped.recon)
    # it ran until the first epoch after the ramps whose valid/recon did not improve
    worse = [e for e in range(3, len(recon)) if recon[e] >= recon[2:e].min()]
    assert short["epochs_run"] == (worse[0] + 1 if worse else 12)


def test_variants_are_chosen_by_parameters():
    """The configured variants carry their observation model and SBTT switch; a new variant
    needs only its parameters; one without an observation is refused by name."""
    from calcium_dynamics.config import project_parameters
    from calcium_dynamics.models.lfads.training import (
        VARIANTS,
        build_model,
        variant_model_params,
        variant_settings,
    )

    lfads = project_parameters()["lfads"]
    for name, defaults in VARIANTS.items():
        settings = variant_settings(name, variant_model_params(lfads, name))
        assert settings["observation"] == defaults["observation"]
        assert settings["sbtt"] == defaults.get("sbtt", False)
    custom = {
        **lfads,
        "variants": {
            "calcium_ar2": {"observation": "calcium", "observation_kwargs": {"ar_order": 2}}
        },
    }
    model = build_model(
        np.abs(np.random.default_rng(0).normal(size=(4, 20, 3))).astype(np.float32),
        "calcium_ar2",
        variant_model_params(custom, "calcium_ar2"),
    )
    assert model.observation.name == "calcium" and model.observation.ar_order == 2
    with pytest.raises(ValueError, match=r"lfads\.variants\.plain\.observation"):
        variant_settings("plain", {"gen_dim": 8})


def test_compute_loss_finds_a_nan_without_sbtt_also_beside_infinities():
    """The NaN test sums first; +inf and -inf (a NaN sum without a NaN) are no NaN."""
    from calcium_dynamics.models.lfads.model import _contains_nan

    x = torch.zeros(2, 12, 3)
    assert not _contains_nan(x)
    x[0, 0, 0], x[1, 1, 1] = float("inf"), float("-inf")
    assert not _contains_nan(x)
    x[1, 2, 2] = float("nan")
    assert _contains_nan(x)
    data = torch.ones(2, 12, 5)
    data[1, 5, 2] = float("nan")
    with pytest.raises(ValueError, match="inputs contain NaN but SBTT is off"):
        _model().compute_loss(data, training=True)


@pytest.mark.parametrize("weight_decay", [0.0, 1e-3])
def test_multi_tensor_adam_updates_equal_the_per_parameter_loop(weight_decay):
    """configure_optimizers' foreach Adam gives the per-parameter loop's weights bit for bit."""
    data = torch.poisson(torch.full((6, 12, 5), 0.5), generator=torch.Generator().manual_seed(0))
    weights = []
    for foreach in (True, False):
        m = _model(observation="poisson", cd_keep_ratio=0.7, dropout=0.1, weight_decay=weight_decay)
        opt = m.configure_optimizers()
        if not foreach:
            opt = torch.optim.Adam(m.parameters(), **{**opt.defaults, "foreach": False})
        assert opt.defaults["foreach"] is foreach
        torch.manual_seed(3)
        for _ in range(3):
            opt.zero_grad()
            m.compute_loss(data, training=True)["loss"].backward()
            opt.step()
        weights.append([p.detach().clone() for p in m.parameters()])
    assert all(torch.equal(a, b) for a, b in zip(*weights, strict=True))
    assert not torch.equal(weights[0][0], _model().state_dict()["ic_encoder.weight_ih_l0"])


def test_sbtt_first_then_the_stack_equals_the_stack_with_sbtt_in_it():
    """compute_loss runs SBTT before the other augmentations and uses its zero-filled data
    as targets: the same inputs, cost mask and targets as SBTT inside the stack, bit for bit."""
    from calcium_dynamics.models.lfads.augmentations import AugmentationStack, CoordinatedDropout

    rng = np.random.default_rng(11)
    x = torch.tensor(rng.gamma(1.0, 0.3, (6, 10, 7)).astype(np.float32))
    x[:, ::3] = float("nan")
    full = torch.ones(x.shape, dtype=torch.bool)
    old = AugmentationStack([SelectiveBackprop(), CoordinatedDropout(0.7)])
    torch.manual_seed(3)
    old_inputs, old_mask = old(x, full, True)
    target, sampled = SelectiveBackprop()(x)
    torch.manual_seed(3)
    inputs, mask = AugmentationStack([CoordinatedDropout(0.7)])(target, sampled, True)
    assert torch.equal(inputs, old_inputs) and torch.equal(mask, old_mask)
    assert torch.equal(target, torch.nan_to_num(x, nan=0.0))
    assert torch.equal(sampled, ~torch.isnan(x))
    assert 0 < int(mask.sum()) < int(sampled.sum())  # dropout took some sampled entries
