"""Pieces of a member's training that need no Ray: restoring with a new learning rate, the
weights digest, the history figure and the latent score of the search pipeline."""

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pandas as pd
import pytest
import torch

from calcium_dynamics.models.lfads.data import LFADSDataModule
from calcium_dynamics.models.lfads.training import build_model, make_trainer
from calcium_dynamics.pipelines.latent_dynamics_search.nodes import evaluate_search_latents
from calcium_dynamics.tuning.history import history_figure
from calcium_dynamics.tuning.pbt import PBTSettings, _SetLearningRate, weights_digest
from calcium_dynamics.tuning.search_space import parse_search_space

SMALL = dict(ic_enc_dim=4, ci_enc_dim=4, con_dim=4, co_dim=0, ic_dim=4, gen_dim=8, fac_dim=3)


def test_restored_member_trains_on_with_its_new_learning_rate_and_epoch_count(tmp_path):
    rng = np.random.default_rng(0)
    data = rng.poisson(0.5, (16, 10, 5)).astype(np.float32)
    dm = LFADSDataModule(data, np.arange(12), np.arange(12, 16), batch_size=8)
    model = build_model(data, "autolfads", {**SMALL, "lr": 1e-2})
    trainer = make_trainer({"max_epochs": 2, "enable_progress_bar": False, "logger": False})
    trainer.fit(model, datamodule=dm)
    path = tmp_path / "member.ckpt"
    trainer.save_checkpoint(path)
    saved = torch.load(path, weights_only=False)
    assert saved["optimizer_states"][0]["param_groups"][0]["lr"] == 1e-2

    seen = {}

    class Probe(_SetLearningRate):
        def on_train_epoch_start(self, trainer, pl_module):
            seen.setdefault("lr", trainer.optimizers[0].param_groups[0]["lr"])
            seen.setdefault("epoch", trainer.current_epoch)
            seen.setdefault("digest", weights_digest(pl_module.state_dict()))

    copy = build_model(data, "autolfads", {**SMALL, "lr": 3e-3})
    trainer = make_trainer(
        {"max_epochs": 3, "enable_progress_bar": False, "logger": False}, callbacks=[Probe()]
    )
    trainer.fit(copy, datamodule=dm, ckpt_path=str(path))
    # weights come from the checkpoint, the learning rate from the new hyperparameters, and the
    # epoch count (which drives the KL / L2 ramps) carries on
    assert seen == {"lr": 3e-3, "epoch": 2, "digest": weights_digest(saved["state_dict"])}
    assert trainer.current_epoch == 3


def test_weights_digest_sees_any_change():
    state = {"a": torch.zeros(3), "b": torch.ones(2, 2)}
    same = {"b": torch.ones(2, 2), "a": torch.zeros(3)}
    changed = {"a": torch.zeros(3), "b": torch.tensor([[1.0, 1.0], [1.0, 1.0 + 1e-6]])}
    assert weights_digest(state) == weights_digest(same)
    assert weights_digest(state) != weights_digest(changed)


def test_history_figure_draws_every_member_and_hyperparameter():
    space = parse_search_space(
        {"lr": {"low": 1e-4, "high": 1e-2}, "kl_ic_scale": {"low": 1e-6, "high": 1e-3, "log": True}}
    )
    history = pd.DataFrame(
        {
            "member": ["a", "b", "a", "b"],
            "generation": [1, 1, 2, 2],
            "valid_recon": [1.0, 0.8, 0.7, 0.75],
            "exploited_from": ["", "", "b", ""],
            "lr": [1e-3, 2e-3, 2.2e-3, 2e-3],
            "kl_ic_scale": [1e-5, 1e-4, 1.1e-4, 1e-4],
        }
    )
    fig = history_figure(history, space)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == 3
    # two members × (line + exploit ring) per panel, plus the population best on the first
    assert len(axes[0].lines) == 5 and len(axes[1].lines) == 4
    np.testing.assert_allclose(axes[0].lines[-1].get_ydata(), [0.8, 0.7])
    assert axes[2].get_yscale() == "log"
    # the ring marks only the exploited point, also for a table read back from CSV (NaN = none)
    ring = axes[0].lines[1]
    assert list(ring.get_xdata()) == [2]
    from_csv = history.assign(exploited_from=[np.nan, np.nan, "b", np.nan])
    ring = history_figure(from_csv, space).axes[0].lines[1]
    assert list(ring.get_xdata()) == [2]
    with pytest.raises(ValueError, match="exploited_from"):
        history_figure(history.drop(columns="exploited_from"), space)


def test_search_latent_score_is_one_for_rates_linear_in_the_latents():
    rng = np.random.default_rng(0)
    latents = rng.normal(size=(30, 20, 3)).cumsum(axis=1)
    rates = latents @ rng.normal(size=(3, 8))
    params = {"n_splits": 3, "inner_folds": 3, "seed": 0, "lag_bins": 0}
    metrics = evaluate_search_latents(
        {"latents": latents},
        {"frame_bins": 3},
        {},
        {"rates": rates},
        {"variant": "radical"},
        params,
    )
    assert metrics["r2_mean"] == pytest.approx(1.0, abs=1e-3)
    shuffled = evaluate_search_latents(
        {"latents": latents},
        {"frame_bins": 3},
        {},
        {"rates": rng.permutation(rates)},
        {"variant": "radical"},
        params,
    )
    assert shuffled["r2_mean"] < 0.3


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"variant": "lfads_xl"}, "unknown LFADS variant"),
        ({"population_size": 1}, "population_size must be >= 2"),
        ({"epochs_per_generation": 0}, "epochs_per_generation must be >= 1"),
        ({"quantile_fraction": 0.8}, "quantile_fraction"),
        ({"variant": "autolfads"}, "sig_prior"),
        ({"ray": {"adress": "auto"}}, "unknown lfads_search parameter"),
        ({"search_space": {"lr": {"low": 1.0}}}, "needs 'low' and 'high'"),
    ],
)
def test_bad_search_settings_are_refused(change, message):
    params = {
        "variant": "radical",
        "population_size": 4,
        "epochs_per_generation": 2,
        "search_space": {"sig_prior": {"low": 1.0, "high": 5.0}},
        **change,
    }
    with pytest.raises(ValueError, match=message):
        PBTSettings.from_params(params)
