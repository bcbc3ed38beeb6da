import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from calcium_dynamics.classical.nmf import (
    NMFSelector,
    aic,
    check_activity_matrix,
    first_increase,
    global_min_max,
    r_squared,
)
from calcium_dynamics.metrics.assignment import nodal_assignment
from calcium_dynamics.simulate.networks import simulate_nodal_network


@pytest.fixture(scope="module")
def nodal():
    return simulate_nodal_network(n_neurons=50, n_nodes=5, duration_s=40.0, seed=3)


@pytest.fixture(scope="module")
def nodal_fit(nodal):
    return NMFSelector(max_components=8).fit(nodal.dff)


def test_aic_selects_the_five_nodes_and_assigns_every_node(nodal, nodal_fit):
    assert nodal_fit.n_components_ == 5
    # stopped at the first increase: k = 1..6 tried, AIC falls to 5 and rises at 6
    assert nodal_fit.n_components_tried_.tolist() == [1, 2, 3, 4, 5, 6]
    assert np.all(np.diff(nodal_fit.aic_[:5]) < 0) and nodal_fit.aic_[5] > nodal_fit.aic_[4]
    assert nodal_assignment(nodal_fit.components_, nodal.membership).accuracy == 1.0
    # every neuron of a node goes to the same component, a different one per node
    comp = nodal_fit.assignment_
    per_node = [set(comp[nodal.membership == i]) for i in range(5)]
    assert all(len(s) == 1 for s in per_node) and len(set.union(*per_node)) == 5
    assert nodal_fit.components_.shape == (5, 50)
    assert nodal_fit.time_courses_.shape == (nodal.dff.shape[0], 5)


def test_full_curve_gives_the_same_selection(nodal, nodal_fit):
    full = NMFSelector(max_components=8, early_stop=False).fit(nodal.dff)
    assert full.n_components_ == nodal_fit.n_components_
    assert len(full.aic_) == 8
    np.testing.assert_allclose(full.aic_[:6], nodal_fit.aic_)


def test_kept_model_equals_a_refit_at_the_chosen_k(nodal, nodal_fit):
    refit = NMFSelector(n_components=nodal_fit.n_components_).fit(nodal.dff)
    np.testing.assert_allclose(refit.components_, nodal_fit.components_, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(refit.time_courses_, nodal_fit.time_courses_, atol=1e-6)


def test_r2_and_aic_match_the_direct_formulas():
    rng = np.random.default_rng(0)
    X = rng.gamma(2.0, 1.0, size=(120, 15)) + 3.0
    est = NMFSelector(n_components=3, solver_dtype="float64").fit(X)
    Xn = (X - X.min()) / (X.max() - X.min())
    resid = Xn - est.time_courses_ @ est.components_
    ss_res = np.sum(resid**2)
    ss_tot = np.sum((Xn - Xn.mean()) ** 2)
    assert est.r2_[0] == pytest.approx(1 - ss_res / ss_tot, rel=1e-10)
    sigma2 = np.mean((Xn - Xn.mean()) ** 2)
    assert est.sigma2_ == pytest.approx(sigma2)
    expected_aic = 2 * (ss_res / (2 * sigma2) + 3 * (15 + 120))
    assert est.aic_[0] == pytest.approx(expected_aic, rel=1e-10)
    assert aic(ss_res, sigma2, 3, 15, 120) == pytest.approx(expected_aic)
    assert est.score(X) == pytest.approx(est.r2_[0], abs=1e-3)  # transform re-solves W
    assert r_squared(Xn, Xn) == 1.0


def test_min_max_scaling_is_global_and_keeps_relative_amplitudes():
    X = np.array([[0.0, 10.0], [5.0, 20.0]])
    Xn, lo, hi = global_min_max(X)
    np.testing.assert_allclose(Xn, [[0.0, 0.5], [0.25, 1.0]])
    assert (lo, hi) == (0.0, 20.0)


@settings(max_examples=60, deadline=None)
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(2, 12), st.integers(1, 6)),
        elements=st.floats(-1e300, 1e300, allow_nan=False, allow_infinity=False),
    )
)
def test_normalised_matrix_is_never_negative(X):
    if X.max() == X.min():
        with pytest.raises(ValueError, match="constant"):
            check_activity_matrix(X)
        return
    Xn, _, _ = global_min_max(check_activity_matrix(X))
    assert np.isfinite(Xn).all()
    assert Xn.min() == 0.0 and Xn.max() == 1.0
    assert (Xn >= 0).all() and (Xn <= 1).all()


def test_first_increase_rule():
    assert first_increase([5, 4, 3, 3.5, 1]) == 2
    assert first_increase([5, 6]) == 0
    assert first_increase([5, 4, 3]) == 2  # never increases: the last one


def test_constant_matrix_is_refused():
    with pytest.raises(ValueError, match="constant"):
        NMFSelector().fit(np.full((20, 4), 0.3))


def test_nan_is_refused_naming_the_neuron():
    X = np.random.default_rng(0).random((20, 4))
    X[3, 2] = np.nan
    with pytest.raises(ValueError, match=r"NaN.*cell_c"):
        NMFSelector(n_components=2).fit(X, neuron_names=["cell_a", "cell_b", "cell_c", "d"])
    with pytest.raises(ValueError, match=r"neuron\(s\): 2"):
        NMFSelector(n_components=2).fit(X)


def test_k_larger_than_the_matrix_is_refused():
    X = np.random.default_rng(0).random((30, 4))
    with pytest.raises(ValueError, match=r"n_components=5 exceeds min\(time points, neurons\)=4"):
        NMFSelector(n_components=5).fit(X)
    with pytest.raises(ValueError, match="max_components=6 exceeds"):
        NMFSelector(max_components=6).fit(X)
    with pytest.raises(ValueError, match="positive integer"):
        NMFSelector(n_components=0).fit(X)


def test_wrong_shapes_are_refused():
    with pytest.raises(ValueError, match="2-D"):
        NMFSelector().fit(np.arange(10.0))
    est = NMFSelector(n_components=2).fit(np.random.default_rng(0).random((30, 4)))
    with pytest.raises(ValueError, match="3 neurons, the model 4"):
        est.transform(np.random.default_rng(1).random((10, 3)))
