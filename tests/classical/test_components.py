import numpy as np
import pytest
from sklearn.decomposition import PCA

from calcium_dynamics.classical.components import (
    ICADecomposition,
    PCADecomposition,
    orient_components,
)
from calcium_dynamics.metrics.assignment import nodal_assignment
from calcium_dynamics.simulate.networks import simulate_nodal_network


@pytest.fixture(scope="module")
def data():
    return simulate_nodal_network(n_neurons=50, n_nodes=5, duration_s=40.0, seed=3)


def test_orientation_makes_the_largest_weight_positive_and_keeps_the_product():
    w = np.array([[1.0, -3.0, 2.0], [0.5, 0.2, -0.1]])
    tc = np.array([[1.0, 2.0], [3.0, 4.0]])
    w2, tc2, signs = orient_components(w, tc)
    np.testing.assert_array_equal(signs, [-1.0, 1.0])
    np.testing.assert_array_equal(w2[0], [-1.0, 3.0, -2.0])
    np.testing.assert_allclose(tc2 @ w2, tc @ w)


def test_pca_matches_sklearn_on_the_centred_normalised_data(data):
    est = PCADecomposition(5).fit(data.dff)
    X = data.dff.astype(float)
    Xn = (X - X.min()) / (X.max() - X.min())
    ref = PCA(5).fit(Xn - Xn.mean(axis=0))
    np.testing.assert_allclose(np.abs(est.components_), np.abs(ref.components_), atol=1e-6)
    np.testing.assert_allclose(est.explained_variance_ratio_, ref.explained_variance_ratio_)
    peak = est.components_[np.arange(5), np.abs(est.components_).argmax(axis=1)]
    assert (peak > 0).all()
    # R² with NMF's formula: reconstruction from k components plus neuron means
    rec = est.time_courses_[:, :3] @ est.components_[:3] + Xn.mean(axis=0)
    r2 = 1 - np.sum((Xn - rec) ** 2) / np.sum((Xn - Xn.mean()) ** 2)
    assert est.r2_[2] == pytest.approx(r2)
    assert est.score(X) == pytest.approx(est.r2_[-1])


def test_ica_sign_convention_and_reconstruction(data):
    est = ICADecomposition(5, random_state=0).fit(data.dff)
    peak = est.components_[np.arange(5), np.abs(est.components_).argmax(axis=1)]
    assert (peak > 0).all()
    raw = ICADecomposition(5, random_state=0, orient=False).fit(data.dff)
    np.testing.assert_allclose(np.abs(est.components_), np.abs(raw.components_))
    np.testing.assert_allclose(
        est.time_courses_ @ est.mixing_.T, raw.time_courses_ @ raw.mixing_.T, atol=1e-8
    )
    assert nodal_assignment(est.components_, data.membership).accuracy == 1.0


def test_comparators_refuse_bad_input():
    X = np.random.default_rng(0).random((30, 4))
    with pytest.raises(ValueError, match="exceeds min"):
        PCADecomposition(5).fit(X)
    with pytest.raises(ValueError, match="constant"):
        ICADecomposition(2).fit(np.ones((30, 4)))
    with pytest.raises(ValueError, match="'unmixing' or 'mixing'"):
        ICADecomposition(2, weights="both").fit(X)
