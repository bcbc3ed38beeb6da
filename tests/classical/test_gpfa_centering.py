"""GPFA ``center_latents``: the move keeps the rates, never raises the KL term, and a centred fit
ends with latents whose GLS mean (computed here from the fitted latents and the prior, a second
implementation) is zero; where the uncentred fits converge, the centred ones equal them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from calcium_dynamics.classical.gpfa import (
    GPFA,
    center_latents,
    constant_weights,
    se_covariance,
    spectral_basis,
    spectral_factor,
    spectral_sd,
)
from calcium_dynamics.metrics.latents_linear import linear_latent_r2


def _factors(n_time: int, ells: list[float], exact: bool) -> torch.Tensor:
    ell = torch.tensor(ells, dtype=torch.float64)
    if exact:
        return torch.stack([torch.linalg.cholesky(se_covariance(n_time, e, 1e-3)) for e in ell])
    basis, omega = spectral_basis(n_time, 64)
    return spectral_factor(basis, spectral_sd(ell, omega))


def _state(n_time: int, ells: list[float], exact: bool, seed: int = 0):
    """Two segments whose latents carry a constant of 2.0 / −1.5 plus noise, random C, d."""
    gen = torch.Generator().manual_seed(seed)
    factor = _factors(n_time, ells, exact)
    w = constant_weights(factor, exact)
    q, n_dim = w.shape
    mean = torch.randn(2, q, n_dim, generator=gen, dtype=torch.float64) * 0.3
    mean += torch.tensor([2.0, -1.5], dtype=torch.float64)[None, :, None] * w[None]
    model = {
        "loading": torch.randn(7, q, generator=gen, dtype=torch.float64),
        "offset": torch.randn(7, generator=gen, dtype=torch.float64),
    }
    return factor, {n_time: (mean, torch.zeros_like(mean))}, model


def _rates_input(factor, var_params, model) -> torch.Tensor:
    (mean, _) = next(iter(var_params.values()))
    x = torch.einsum("jab,njb->naj", factor, mean)
    return x @ model["loading"].T + model["offset"]


@pytest.mark.parametrize(("exact", "tol"), [(True, 1e-10), (False, 2e-4)])
def test_move_keeps_the_rates_and_lowers_the_kl(exact, tol):
    """``C x + d`` is unchanged (exactly for the Cholesky factor; up to the basis residual for
    the spectral one: measured 2.5e-5 of the largest value), the KL term ½ Σ ‖v‖² drops, and
    the constants put in are found."""
    n_time = 120
    factor, var_params, model = _state(n_time, [30.0, 60.0], exact)
    before = _rates_input(factor, var_params, model)
    kl_before = 0.5 * float((var_params[n_time][0] ** 2).sum())
    c = center_latents({n_time: factor}, var_params, model, exact)
    after = _rates_input(factor, var_params, model)
    kl_after = 0.5 * float((var_params[n_time][0] ** 2).sum())
    assert float((after - before).abs().max()) < tol * float(before.abs().max())
    assert kl_after < kl_before
    np.testing.assert_allclose(c.numpy(), [2.0, -1.5], atol=0.3)
    # a second move finds nothing left to move
    again = center_latents({n_time: factor}, var_params, model, exact)
    np.testing.assert_allclose(again.numpy(), 0.0, atol=1e-9)


def test_constant_weights_reproduce_the_constant():
    """``A w = 1``: exactly with the Cholesky factor; within 2e-4 (measured 5.4e-5) with the
    spectral basis of length scales well below the 2T window."""
    for exact, tol in ((True, 1e-10), (False, 2e-4)):
        factor = _factors(200, [20.0, 80.0], exact)
        w = constant_weights(factor, exact)
        ones = torch.einsum("jab,jb->ja", factor, w)
        assert float((ones - 1.0).abs().max()) < tol


def test_centred_fit_ends_with_zero_gls_mean(gpfa_sim, small_gpfa):
    """After the last step of a centred exact-prior fit the GLS mean of every latent over the
    training segments, Σ_s 1ᵀK⁻¹x_s / (n_seg 1ᵀK⁻¹1) from the returned latents, is 0; the
    uncentred fit of the same data leaves it away from 0."""
    gls = {}
    for center in (False, True):
        model = small_gpfa(n_iter=40, center_latents=center).fit(gpfa_sim.calcium)
        x = model.train_latents_[0].reshape(2, 120, 2)  # (segment, bin, latent)
        means = []
        for j, ell in enumerate(model.length_scales_):
            k_inv_one = np.linalg.solve(se_covariance(120, float(ell), 1e-3).numpy(), np.ones(120))
            means.append(float((x[:, :, j] @ k_inv_one).sum() / (2 * k_inv_one.sum())))
        gls[center] = np.abs(means)
    assert gls[True].max() < 1e-6
    assert gls[False].max() > 1e-3


def test_center_latents_must_be_a_bool():
    x = np.random.default_rng(0).poisson(1.0, size=(50, 4)).astype(float)
    with pytest.raises(ValueError, match="center_latents"):
        GPFA(observations="poisson", n_latents=1, center_latents="yes").fit(x)


def test_centred_fits_match_the_uncentred_ones_where_those_converge(gpfa_sim, small_gpfa):
    """On data without a baseline to carry, centring changes neither prior's fit: latent R²
    within 0.02 of the uncentred fit (measured exact 0.9106 / 0.9103, spectral 0.9019 / 0.8967)
    and the mean ELBO per bin of the last 8 steps within 0.01 nats (measured ±0.004)."""
    for basis in ("exact", "spectral"):
        scores = {}
        for center in (False, True):
            model = small_gpfa(n_iter=150, gp_basis=basis, n_basis=40, center_latents=center)
            latents = model.fit_transform(gpfa_sim.calcium)
            scores[center] = (
                linear_latent_r2(latents, gpfa_sim.latents)["r2_mean"],
                float(np.mean(model.history_[-8:]) / 240),
            )
        assert scores[True][0] > 0.85
        assert abs(scores[True][0] - scores[False][0]) < 0.02
        assert abs(scores[True][1] - scores[False][1]) < 0.01
