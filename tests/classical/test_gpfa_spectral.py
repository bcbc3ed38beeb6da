"""GPFA with the spectral (cosine-basis) GP prior: the prior against the exact SE covariance,
its gradients, and fits on simulated data against the exact-prior path."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from calcium_dynamics.classical.gpfa import (
    GPFA,
    se_covariance,
    spectral_basis,
    spectral_factor,
    spectral_sd,
)
from calcium_dynamics.metrics.latents_linear import linear_latent_r2


def _prior(n_time: int, n_basis: int, ell: float) -> torch.Tensor:
    basis, omega = spectral_basis(n_time, n_basis)
    factor = spectral_factor(basis, spectral_sd(torch.tensor([ell], dtype=torch.float64), omega))
    return factor[0] @ factor[0].T


def test_basis_is_orthonormal_on_its_window():
    """On the full 2T window the cosine vectors are the orthonormal DCT-II basis."""
    basis, omega = spectral_basis(4, 8)  # window of 8 bins; the segment is bins 2..5
    full_t = torch.arange(8, dtype=torch.float64)
    alpha = torch.where(torch.arange(8) == 0, 1.0, 2.0).double()
    full = torch.sqrt(alpha / 8) * torch.cos(omega * (full_t[:, None] + 0.5))
    np.testing.assert_allclose((full.T @ full).numpy(), np.eye(8), atol=1e-12)
    np.testing.assert_allclose(basis.numpy(), full[2:6].numpy(), atol=1e-15)


@pytest.mark.parametrize(("ell", "tol"), [(8.0, 1e-7), (20.0, 1e-7), (100.0, 0.03), (200.0, 0.07)])
def test_prior_is_the_squared_exponential_correlation(ell, tol):
    """Unit variance in every bin; away from ℓ ≈ T the covariance is the exact SE kernel
    (measured max |difference| for T = 200: 2e-8 at ℓ ≤ T / 10, 0.027 at T / 2, 0.062 at T)."""
    prior = _prior(200, 128, ell)
    np.testing.assert_allclose(prior.diagonal().numpy(), 1.0, atol=1e-12)
    exact = se_covariance(200, ell, 0.0)
    assert float((prior - exact).abs().max()) < tol


def test_length_scale_gradient_is_finite_where_the_density_underflows():
    """High frequencies have S(ω) = 0 in float64 for long ℓ: the gradient stays finite and
    equals central finite differences."""
    basis, omega = spectral_basis(100, 100)
    log_ell = torch.tensor([np.log(300.0), np.log(7.0)], dtype=torch.float64, requires_grad=True)
    weights = torch.randn(2, 100, generator=torch.Generator().manual_seed(0), dtype=torch.float64)

    def value(le):
        return (spectral_factor(basis, spectral_sd(le.exp(), omega)) * weights[:, None]).sum()

    value(log_ell).backward()
    assert torch.isfinite(log_ell.grad).all()
    h = 1e-6
    for j in range(2):
        step = torch.zeros(2, dtype=torch.float64)
        step[j] = h
        fd = (value(log_ell.detach() + step) - value(log_ell.detach() - step)) / (2 * h)
        np.testing.assert_allclose(log_ell.grad[j].item(), fd.item(), rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize(
    ("observations", "source"), [("calcium", "calcium"), ("poisson", "spikes")]
)
def test_spectral_fit_recovers_latents_like_the_exact_prior(
    gpfa_sim, small_gpfa, observations, source
):
    """Same data, same settings: the spectral prior recovers the latents as well as the exact
    one (R² within 0.05; measured calcium 0.90 / 0.90, Poisson …), with M weights per latent
    and segment instead of T."""
    scores = {}
    for basis in ("exact", "spectral"):
        model = small_gpfa(observations=observations, n_iter=150, gp_basis=basis, n_basis=40)
        latents = model.fit_transform(getattr(gpfa_sim, source))
        assert latents.shape == (240, 2)
        scores[basis] = linear_latent_r2(latents, gpfa_sim.latents)["r2_mean"]
        held = model.transform(getattr(gpfa_sim, source)[:120])
        assert held.shape == (120, 2) and np.all(np.isfinite(held))
    print(scores)
    assert scores["spectral"] > 0.6
    assert abs(scores["spectral"] - scores["exact"]) < 0.05


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"gp_basis": "fourier"}, "gp_basis"),
        ({"n_basis": 1}, "n_basis"),
        ({"n_basis": 2.5}, "n_basis"),
    ],
)
def test_bad_basis_settings_get_clear_errors(kwargs, match):
    x = np.random.default_rng(0).poisson(1.0, size=(50, 4)).astype(float)
    with pytest.raises(ValueError, match=match):
        GPFA(observations="poisson", n_latents=1, **kwargs).fit(x)


def test_default_basis_size_and_a_warning_when_it_is_too_coarse(gpfa_sim):
    model = GPFA(observations="poisson", gp_basis="spectral", length_scale_init=350.0)
    assert model._n_basis(500) == 64  # max(64, ⌈8·500 / 350⌉)
    assert GPFA(length_scale_init=10.0)._n_basis(500) == 400  # ⌈8·500 / 10⌉
    assert GPFA(length_scale_init=1.0)._n_basis(500) == 1000  # capped at 2T
    coarse = GPFA(
        n_latents=2,
        observations="poisson",
        segment_length=120,
        length_scale_init=25.0,
        n_iter=5,
        gp_basis="spectral",
        n_basis=4,  # represents ℓ ≥ 3.2 · 120 / 4 = 96 bins
    )
    with pytest.warns(UserWarning, match=r"latents \[0, 1\].*raise n_basis"):
        coarse.fit(gpfa_sim.spikes)
