import numpy as np
import pytest

from calcium_dynamics.simulate.networks import (
    CalciumModel,
    calcium_response,
    process_weights,
    simulate_nodal_network,
    simulate_process_network,
)


@pytest.fixture(scope="module")
def nodal():
    return simulate_nodal_network(duration_s=60.0, seed=11)


@pytest.fixture(scope="module")
def process():
    return simulate_process_network(duration_s=60.0, seed=12)


def test_calcium_filter_matches_the_recursion():
    model = CalciumModel()
    rng = np.random.default_rng(0)
    spikes = (rng.random((200, 3)) < 0.1).astype(float)
    eps = rng.standard_normal((200, 3))
    dt = 1 / 30
    got = calcium_response(spikes, dt, model, eps)
    ca = np.full(3, model.calcium_baseline)
    for t in range(200):
        ca = (
            ca
            - dt / model.tau_s * (ca - model.calcium_baseline)
            + model.spike_amplitude * spikes[t]
            + model.sigma_calcium * np.sqrt(dt) * eps[t]
        )
        np.testing.assert_allclose(got[t], ca, rtol=1e-12)


def test_nodal_network_structure_and_truth(nodal):
    assert nodal.dff.shape == (1800, 100) and nodal.frame_rate_hz == pytest.approx(30.0)
    assert np.bincount(nodal.membership).tolist() == [20] * 5
    assert nodal.membership[:20].tolist() != [0] * 20  # shuffled order
    a = nodal.adjacency
    same = nodal.membership[:, None] == nodal.membership[None, :]
    assert (a[same & ~np.eye(100, dtype=bool)] == 1).all() and (a[~same] == 0).all()
    assert (np.diag(a) == 0).all()
    np.testing.assert_array_equal(nodal.weights.argmax(axis=0), nodal.membership)


def test_nodal_spikes_propagate_within_the_node_only(nodal):
    s = nodal.spikes
    member = nodal.weights.astype(bool)  # (nodes, neurons)
    node_count_prev = s[:-1].astype(int) @ member.T.astype(int)  # (T−1, nodes)
    others_prev = node_count_prev[:, nodal.membership] - s[:-1]  # other members at t−1
    refractory = np.zeros_like(s)
    refractory[1:] |= s[:-1]
    refractory[2:] |= s[:-2]
    must_spike = (others_prev[:, :] > 0) & ~refractory[1:]
    assert must_spike.any()
    assert s[1:][must_spike].all()  # P ≥ 1: every free member follows a node spike


def test_refractory_period_is_respected(nodal, process):
    for sim in (nodal, process):
        s = sim.spikes
        assert not (s[1:] & s[:-1]).any() and not (s[2:] & s[:-2]).any()


def test_nodal_event_rate_is_near_the_nominal_rate(nodal):
    starts = (nodal.source_spikes[1:] > 0) & (nodal.source_spikes[:-1] == 0)
    rate = starts.sum(axis=0) / 60.0  # node events per second
    # spontaneous P per step = r·k/N·dt per neuron; 20 neurons → r per node, minus refractory
    assert np.all((rate > 1.8) & (rate < 3.5))


def test_process_weights_follow_the_mixture():
    rng = np.random.default_rng(0)
    w = process_weights(5, 20000, 0.2, (0.2, 1.0), 8.0472, 0.2, rng)
    strong = w > 0.2
    assert strong.mean() == pytest.approx(0.2, abs=0.005)
    assert w[strong].min() >= 0.2 and w[strong].max() <= 1.0
    assert w[strong].mean() == pytest.approx(0.6, abs=0.005)
    lam, c = 8.0472, 0.2
    truncated_mean = 1 / lam - c * np.exp(-lam * c) / (1 - np.exp(-lam * c))
    assert w[~strong].mean() == pytest.approx(truncated_mean, rel=0.01)
    assert np.exp(-lam * c) == pytest.approx(0.2, abs=1e-4)  # the cap is the 80th percentile


def test_process_neurons_spike_only_after_a_process_spike(process):
    any_process = process.source_spikes.any(axis=1)
    after = np.zeros_like(any_process)
    after[1:] = any_process[:-1]
    assert not process.spikes[~after].any()
    # where exactly one process spiked and the neuron was free, P = w_kn
    one = np.flatnonzero(process.source_spikes[:-1].sum(axis=1) == 1) + 1
    k = process.source_spikes[one - 1].argmax(axis=1)
    free = ~(process.spikes[one - 1] | process.spikes[np.maximum(one - 2, 0)])
    p = np.minimum(process.weights[k], 1.0)
    observed = process.spikes[one][free].mean()
    assert observed == pytest.approx(p[free].mean(), abs=0.02)


def test_source_activity_is_the_delayed_noise_free_kernel(process):
    model = process.calcium_model
    first = np.flatnonzero(process.source_spikes[:, 0])[0]
    act = process.source_activity[:, 0]
    assert act[first] == 0.0 and act[first + 1] == pytest.approx(model.spike_amplitude)


def test_no_spikes_no_noise_gives_zero_dff():
    quiet = CalciumModel(sigma_calcium=0.0, sigma_fluorescence=0.0)
    sim = simulate_process_network(
        n_neurons=10, rate_hz=1e-9, duration_s=5.0, calcium_model=quiet, seed=0
    )
    assert not sim.spikes.any()
    np.testing.assert_allclose(sim.dff, 0.0, atol=1e-6)
    np.testing.assert_allclose(sim.fluorescence, quiet.resting_fluorescence, rtol=1e-6)


def test_same_seed_same_network():
    a = simulate_process_network(n_neurons=20, duration_s=5.0, seed=4)
    b = simulate_process_network(n_neurons=20, duration_s=5.0, seed=4)
    np.testing.assert_array_equal(a.dff, b.dff)
    c = simulate_process_network(n_neurons=20, duration_s=5.0, seed=5)
    assert not np.array_equal(a.dff, c.dff)


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="multiple of n_nodes"):
        simulate_nodal_network(n_neurons=101, n_nodes=5)
    with pytest.raises(ValueError, match="refractory_steps"):
        simulate_nodal_network(refractory_steps=-1, duration_s=1.0)
    with pytest.raises(ValueError, match="duration_s"):
        simulate_process_network(duration_s=0.0)
    with pytest.raises(ValueError, match="tau_s"):
        CalciumModel(tau_s=0.0)
    with pytest.raises(ValueError, match="strong_fraction"):
        simulate_process_network(strong_fraction=1.5, duration_s=1.0)
