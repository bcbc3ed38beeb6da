import numpy as np
import pytest

from calcium_dynamics.metrics.assignment import (
    activity_correlation,
    aggregate_node_weights,
    correlation_matrix,
    nodal_assignment,
    score_decomposition,
    weight_correlation_matching,
)


def test_aggregation_sums_each_nodes_weights():
    H = np.array([[1.0, 2.0, 0.0, 0.5], [0.0, 1.0, 3.0, 4.0]])
    membership = np.array([0, 0, 1, 1])
    np.testing.assert_array_equal(aggregate_node_weights(H, membership), [[3.0, 1.0], [0.5, 7.0]])


def test_nodal_assignment_hand_computed():
    # aggregated (nodes × components) by hand:
    #   node 0: [5, 1, 0]   → comp 0, column 0 max is node 0 → assigned
    #   node 1: [4, 2, 1]   → comp 0, but column 0 belongs to node 0 → not assigned
    #   node 2: [0, 1, 6]   → comp 2, column 2 max is node 2 → assigned
    H = np.array([[5.0, 4.0, 0.0], [1.0, 2.0, 1.0], [0.0, 1.0, 6.0]])  # one neuron per node
    result = nodal_assignment(H, [0, 1, 2])
    np.testing.assert_array_equal(result.component_of_node, [0, 0, 2])
    np.testing.assert_array_equal(result.assigned, [True, False, True])
    assert result.accuracy == pytest.approx(2 / 3)
    perm = nodal_assignment(H[[2, 0, 1]], [0, 1, 2])  # component order does not matter
    assert perm.accuracy == pytest.approx(2 / 3)


def test_weight_matching_hand_computed():
    truth = np.array([[1.0, 0.0, 0.0, 1.0], [0.0, 1.0, 1.0, 0.0]])
    comps = np.array([[2.0, 0.0, 0.0, 2.0], [0.0, 3.0, 3.0, 1.0]])
    m = weight_correlation_matching(comps, truth)
    # comp 1 vs truth 1: centred [-1.75, 1.25, 1.25, -0.75] · [-.5, .5, .5, -.5] / norms
    c = np.array([-1.75, 1.25, 1.25, -0.75])
    expected = (c @ np.array([-0.5, 0.5, 0.5, -0.5])) / (np.linalg.norm(c) * 1.0)
    assert m.correlations[1, 1] == pytest.approx(expected)
    assert m.correlations[0, 0] == pytest.approx(1.0)
    np.testing.assert_array_equal(m.best_source, [0, 1])
    assert m.success and m.accuracy == 1.0
    both_same = weight_correlation_matching(np.array([[1.0, 0, 0, 1], [2.0, 0, 0, 2]]), truth)
    # both components pick source 0: neither is unique, no source is recovered
    assert not both_same.success and both_same.accuracy == 0.0
    assert not both_same.unique.any()
    truth3 = np.eye(3)
    collide = weight_correlation_matching(np.array([[1.0, 0, 0], [0.9, 0.1, 0], [0, 0, 1]]), truth3)
    np.testing.assert_array_equal(collide.unique, [False, False, True])
    assert collide.accuracy == pytest.approx(1 / 3)


def test_correlation_matrix_against_numpy():
    rng = np.random.default_rng(0)
    a, b = rng.random((3, 20)), rng.random((4, 20))
    np.testing.assert_allclose(correlation_matrix(a, b), np.corrcoef(a, b)[:3, 3:])


def test_activity_correlation_uses_the_matched_source():
    t = np.linspace(0, 10, 200)
    sources = np.stack([np.sin(t), np.cos(t)], axis=1)
    courses = np.stack([3 * np.cos(t) + 1, np.sin(t)], axis=1)
    np.testing.assert_allclose(activity_correlation(courses, sources, [1, 0]), [1.0, 1.0])
    out = activity_correlation(courses, sources, [1, -1])
    assert out[0] == pytest.approx(1.0) and np.isnan(out[1])


def test_score_decomposition_on_a_perfect_nodal_answer():
    membership = np.repeat(np.arange(3), 4)
    truth = (membership[None, :] == np.arange(3)[:, None]).astype(float)
    activity = np.random.default_rng(0).random((50, 3))
    scores = score_decomposition(truth[::-1] * 2, activity[:, ::-1], truth, activity, membership)
    assert scores["assignment_accuracy"] == 1.0 and scores["assignment_success"]
    assert scores["matched_source"] == [2, 1, 0]
    assert scores["weight_correlation"] == pytest.approx(1.0)
    assert scores["activity_correlation"] == pytest.approx(1.0)
    no_time = score_decomposition(truth, None, truth, activity, membership)
    assert np.isnan(no_time["activity_correlation"])


def test_metrics_refuse_bad_input():
    with pytest.raises(ValueError, match="one node per neuron"):
        aggregate_node_weights(np.ones((2, 3)), [0, 1])
    with pytest.raises(ValueError, match="NaN"):
        weight_correlation_matching(np.array([[np.nan, 1.0]]), np.ones((1, 2)))
    with pytest.raises(ValueError, match="equal T"):
        activity_correlation(np.ones((5, 2)), np.ones((6, 2)), [0, 1])
