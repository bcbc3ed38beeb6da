"""float32_matmul_precision: set only while training fits, restored after, products within the
bfloat16 rounding bound, bad values refused by name before any work."""

import lightning as L
import numpy as np
import pytest
import torch

from calcium_dynamics.models.lfads.training import make_trainer, train_lfads
from calcium_dynamics.models.matmul_precision import float32_matmul_precision

SMALL = dict(
    ic_enc_dim=8, ci_enc_dim=8, con_dim=8, co_dim=2, ic_dim=8, gen_dim=16, fac_dim=6, dropout=0.0
)


def _spikes(n_trials=24, n_bins=10, n_neurons=6, seed=0):
    rng = np.random.default_rng(seed)
    latent = rng.uniform(-1, 1, (n_trials, 1, 1))
    rates = np.exp(latent * rng.normal(0, 1.5, (1, 1, n_neurons)) + np.log(0.5))
    return rng.poisson(np.broadcast_to(rates, (n_trials, n_bins, n_neurons))).astype(np.float32)


def test_context_sets_and_restores_the_setting_also_on_error():
    assert torch.get_float32_matmul_precision() == "highest"
    with float32_matmul_precision("medium") as value:
        assert value == "medium" and torch.get_float32_matmul_precision() == "medium"
    assert torch.get_float32_matmul_precision() == "highest"
    with pytest.raises(RuntimeError, match="inside"), float32_matmul_precision("high"):
        raise RuntimeError("inside")
    assert torch.get_float32_matmul_precision() == "highest"


@pytest.mark.parametrize("value", ["low", "bf16", None, 32])
def test_bad_values_are_refused_by_name(value):
    with pytest.raises(ValueError, match="float32_matmul_precision") as refused:
        float32_matmul_precision(value).__enter__()
    assert repr(value) in str(refused.value)
    with pytest.raises(ValueError, match="float32_matmul_precision"):
        make_trainer({"max_epochs": 1, "float32_matmul_precision": value})
    assert torch.get_float32_matmul_precision() == "highest"


def test_products_stay_within_the_bfloat16_rounding_bound():
    """Each input of a product rounded to 8 significant bits, sums in float32:
    |AB − exact| ≤ 2·2⁻⁸·(|A||B|) entry by entry (float32 alone: far inside 1e-5 of it)."""
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(64, 300, generator=gen), torch.randn(300, 40, generator=gen)
    exact = a.double() @ b.double()
    scale = a.abs().double() @ b.abs().double()
    with float32_matmul_precision("medium"):
        medium = (a @ b).double()
    with float32_matmul_precision("highest"):
        highest = (a @ b).double()
    assert bool(((medium - exact).abs() <= 2 * 2**-8 * scale).all())
    assert bool(((highest - exact).abs() <= 1e-5 * scale).all())


def test_training_uses_the_setting_only_while_it_fits():
    class Seen(L.Callback):
        def __init__(self):
            self.values = []

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            self.values.append(torch.get_float32_matmul_precision())

    spikes = _spikes()
    trainer = {"max_epochs": 3, "batch_size": 8, "enable_progress_bar": False, "logger": False}
    losses = {}
    for value in ("highest", "medium"):
        seen = Seen()
        _, info = train_lfads(
            spikes,
            "autolfads",
            SMALL,
            {**trainer, "float32_matmul_precision": value},
            callbacks=[seen],
        )
        batches = 3 * -(-len(info["train_idx"]) // 8)  # 3 epochs of batches of 8
        assert seen.values == [value] * batches
        assert torch.get_float32_matmul_precision() == "highest"
        losses[value] = info["metrics"]["valid/loss"]
    # same seed and data: bfloat16 products move the validation loss by rounding only
    assert losses["medium"] == pytest.approx(losses["highest"], rel=2e-2)


def test_a_bad_setting_fails_before_training():
    with pytest.raises(ValueError, match=r"float32_matmul_precision.*'fast'"):
        train_lfads(_spikes(), "autolfads", SMALL, {"float32_matmul_precision": "fast"})
    assert torch.get_float32_matmul_precision() == "highest"
