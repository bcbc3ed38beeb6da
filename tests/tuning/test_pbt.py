"""Population-based training on a local Ray: 3 tiny members for 2 generations.

The data are Poisson spikes whose log rates follow one latent value per trial (a simulation the
models learn within a few epochs), so the second generation is measurably better than the first.
"""

import numpy as np
import pytest

from calcium_dynamics.tuning.pbt import PBTSettings, run_pbt, weights_digest

LR = (5e-3, 3e-2)
SPACE = {
    "lr": {"low": LR[0], "high": LR[1]},
    "kl_ic_scale": {"low": 1e-6, "high": 1e-3, "log": True, "clip": False},
    "l2_gen_scale": {"low": 1e-4, "high": 1e-2, "log": True, "clip": False},
}
MODEL = dict(
    ic_enc_dim=8, ci_enc_dim=8, con_dim=8, co_dim=0, ic_dim=8, gen_dim=16, fac_dim=6, dropout=0.0
)


def _trial_latent_spikes(n_trials=60, n_bins=12, n_neurons=10, seed=0):
    rng = np.random.default_rng(seed)
    latent = np.repeat(rng.uniform(-1, 1, (n_trials, 1, 1)), n_bins, axis=1)
    weights = rng.normal(0, 1.5, (1, n_neurons))
    return rng.poisson(np.exp(latent @ weights + np.log(0.5))).astype(np.float32)


@pytest.fixture(scope="module")
def population():
    data = _trial_latent_spikes()
    settings = PBTSettings(
        variant="autolfads",
        population_size=3,
        epochs_per_generation=3,
        max_generations=2,
        patience=5,
        quantile_fraction=0.34,  # one member of three is replaced each generation
        search_space=SPACE,
        seed=0,
        num_cpus=2,
    )
    trainer = {"batch_size": 16, "accelerator": "cpu"}
    return data, run_pbt(data, MODEL, trainer, settings)


def test_population_completes_two_generations(population):
    _, result = population
    history = result.history
    assert len(history) == 6 and history["member"].nunique() == 3
    generations = history.groupby("member")["generation"].apply(sorted)
    assert all(list(g) == [1, 2] for g in generations)
    assert result.cpus == 2.0 and result.wall_s > 0


def test_a_worse_member_takes_a_better_members_weights_and_perturbed_hyperparameters(population):
    _, result = population
    history = result.history
    first = history[history["generation"] == 1].set_index("member")
    second = history[history["generation"] == 2].set_index("member")
    exploited = second[second["exploited_from"] != ""]
    assert len(exploited) == 1
    member, row = next(exploited.iterrows())
    donor = first.loc[row["exploited_from"]]
    assert donor["valid_recon"] == first["valid_recon"].min()
    assert first.loc[member, "valid_recon"] == first["valid_recon"].max()
    # exactly the donor's weights at the end of generation 1, not its own
    assert row["start_digest"] == donor["end_digest"] != first.loc[member, "end_digest"]
    for name in SPACE:
        ratio = row[name] / donor[name]
        assert row[name] in LR or 0.7 - 1e-9 <= ratio <= 1.3 + 1e-9
        assert row[name] != donor[name]
    for kept, row in second[second["exploited_from"] == ""].iterrows():
        assert row["start_digest"] == first.loc[kept, "end_digest"]
        assert all(row[name] == first.loc[kept, name] for name in SPACE)


def test_final_best_loss_is_no_worse_than_the_best_initial_member(population):
    _, result = population
    history = result.history
    initial = history.loc[history["generation"] == 1, "valid_recon"].min()
    final = history.loc[history["generation"] == 2, "valid_recon"].min()
    assert final <= initial
    assert result.best["valid_recon"] == pytest.approx(history["valid_recon"].min())


def test_best_model_carries_the_best_members_weights_and_hyperparameters(population):
    data, result = population
    history = result.history
    row = history.loc[history["valid_recon"].idxmin()]
    assert weights_digest(result.model.state_dict()) == row["end_digest"]
    for name in SPACE:
        assert result.model.hparams[name] == pytest.approx(row[name])
    rates = result.model.infer(data)["rates"]
    assert rates.shape == data.shape and np.isfinite(rates).all()
