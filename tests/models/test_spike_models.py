import numpy as np
import pandas as pd
import pytest
import torch

from calcium_dynamics.models.cascade import Cascade, CascadeNet
from calcium_dynamics.models.ens2 import UNet1d
from calcium_dynamics.models.spike_data import WindowBank, split_by_neuron
from calcium_dynamics.models.spike_inference import infer_rates
from calcium_dynamics.models.spike_models import ModelFileError, SpikeModel, build_network
from calcium_dynamics.models.spike_training import train_cascade_zoo, train_ens2
from calcium_dynamics.signal import rebin_spike_times, smooth_spike_counts


def test_cascade_has_exactly_18541_parameters():
    assert sum(p.numel() for p in Cascade().parameters()) == 18_541


def test_cascade_whole_trace_pass_equals_window_by_window():
    torch.manual_seed(0)
    net = CascadeNet()
    x = torch.randn(2, 300)
    padded = torch.nn.functional.pad(x, (32, 31))
    windows = padded.unfold(1, 64, 1).reshape(-1, 64)
    expected = net(windows).reshape(2, 300)
    torch.testing.assert_close(net.forward_trace(padded), expected, rtol=1e-5, atol=1e-6)


def test_cascade_tiled_trace_equals_window_by_window_across_tiles(monkeypatch):
    """Tiles of 50 outputs, 3 per call: a 437-frame trace crosses 8 tile and 2 call
    boundaries; the mean of two members must equal cutting every window by hand."""
    from calcium_dynamics.models import spike_kinds

    monkeypatch.setattr(spike_kinds, "TILE_FRAMES", 50)
    monkeypatch.setattr(spike_kinds, "TILES_PER_CALL", 3)
    torch.manual_seed(1)
    nets = [CascadeNet().eval(), CascadeNet().eval()]
    x = torch.randn(437)
    windows = torch.nn.functional.pad(x, (32, 31)).unfold(0, 64, 1)
    with torch.no_grad():
        expected = torch.stack([net(windows) for net in nets]).mean(0).numpy()
    got = spike_kinds._predict_every_frame(nets, x.numpy(), 64)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_ens2_shapes_init_and_width():
    torch.manual_seed(0)
    net = UNet1d(9)
    out = net(torch.randn(7, 96))
    assert out.shape == (7, 96) and (out >= 0).all()
    weights = torch.cat(
        [
            m.weight.flatten()
            for m in net.modules()
            if isinstance(m, torch.nn.Conv1d | torch.nn.ConvTranspose1d)
        ]
    )
    assert weights.std().item() == pytest.approx(0.02, rel=0.05)
    n9 = sum(p.numel() for p in UNet1d(9).parameters())
    n16 = sum(p.numel() for p in UNet1d(16).parameters())
    assert n16 / n9 == pytest.approx((16 / 9) ** 2, rel=0.05)  # conv weights scale with width²
    with pytest.raises(ValueError, match="divisible by 8"):
        net(torch.randn(2, 90))


def test_unknown_model_name():
    with pytest.raises(ValueError, match="unknown spike model 'mlspike'"):
        build_network("mlspike", {})


def _synthetic_table(n_neurons=6, rate=60.0, seconds=120.0, seed=0):
    """Calcium traces made from Poisson spikes with an exponential kernel, and their targets."""
    rng = np.random.default_rng(seed)
    rows = []
    n = int(seconds * rate)
    kernel = np.exp(-np.arange(int(2 * rate)) / (0.5 * rate))
    for i in range(n_neurons):
        spikes = np.sort(rng.uniform(0, seconds, rng.poisson(1.0 * seconds)))
        counts = rebin_spike_times(spikes, n, rate)
        dff = np.convolve(counts, 0.3 * kernel)[:n] + rng.normal(0, 0.02, n)
        rows.append(
            {
                "dataset": f"DS9{i % 3}-GCaMP6f-m-V1",
                "neuron": f"n{i}",
                "recording": 0,
                "frame_rate_hz": rate,
                "dff": dff.astype(np.float32),
                "target_rate": smooth_spike_counts(counts, rate, 0.025),
                "spike_times_s": spikes,
                "inhibitory": False,
            }
        )
    return pd.DataFrame(rows)


def test_tiny_ens2_training_lowers_the_loss_and_predicts_spikes():
    table = _synthetic_table()
    train, test = split_by_neuron(table, 0.2, seed=1)
    params = {
        "sigma_s": 0.025,
        "seed": 0,
        "data": {"batch_size": 64, "validation_fraction": 0.2, "n_val_batches": 2},
        "trainer": {"max_steps": 120, "val_check_interval": 40, "enable_progress_bar": False},
    }
    bank = WindowBank(list(train.dff), list(train.target_rate), list(train.dataset), 96)
    x, y = bank.batch(bank.sample_centres(512, np.random.default_rng(0), False), True)
    torch.manual_seed(0)
    untrained = torch.nn.functional.mse_loss(UNet1d(9)(x), y).item()
    model = train_ens2(train, params)
    trained = torch.nn.functional.mse_loss(model.ensembles[model.noise_levels[0]][0](x), y)
    assert trained.item() < 0.7 * untrained
    row = test.iloc[0]
    pred = infer_rates(model, row.dff, row.frame_rate_hz)
    assert np.corrcoef(pred.model_rate, row.target_rate)[0, 1] > 0.3


def test_ens2_stops_on_a_training_loss_plateau_when_asked():
    params = {
        "sigma_s": 0.025,
        "seed": 0,
        "data": {"batch_size": 16, "validation_fraction": 0.0},
        "trainer": {"max_steps": 200, "enable_progress_bar": False},
        "train_loss_patience": 1,  # stop at the first batch that does not beat the best
    }
    model = train_ens2(_synthetic_table(n_neurons=3, seconds=20.0), params)
    steps = model.metadata["training"]["steps"]
    assert 2 <= steps < 200
    assert model.metadata["params"]["train_loss_patience"] == 1


def test_ens2_ensemble_members_are_the_networks_of_their_seeds():
    """``n_members: 2`` trains member m with seed + 1000·m: the same networks as two single
    trainings with those seeds; the model's rate is their mean."""
    table = _synthetic_table(n_neurons=3, seconds=20.0)
    base = {
        "sigma_s": 0.025,
        "data": {"batch_size": 16, "validation_fraction": 0.0},
        "trainer": {"max_steps": 3, "enable_progress_bar": False},
    }
    both = train_ens2(table, {**base, "seed": 5, "n_members": 2})
    alone = [train_ens2(table, {**base, "seed": s}) for s in (5, 1005)]
    nets = both.ensembles[both.noise_levels[0]]
    assert len(nets) == 2 and both.metadata["training"]["steps"] == [3, 3]
    for net, single in zip(nets, alone, strict=True):
        for a, b in zip(
            net.state_dict().values(),
            single.ensembles[single.noise_levels[0]][0].state_dict().values(),
            strict=True,
        ):
            torch.testing.assert_close(a, b)
    row = table.iloc[0]
    mean = np.mean([infer_rates(m, row.dff, row.frame_rate_hz).model_rate for m in alone], axis=0)
    np.testing.assert_allclose(
        infer_rates(both, row.dff, row.frame_rate_hz).model_rate, mean, rtol=1e-5, atol=1e-7
    )
    with pytest.raises(ValueError, match="n_members"):
        train_ens2(table, {**base, "n_members": 0})


def test_cascade_zoo_training_depends_on_its_seed_alone():
    table = _synthetic_table(n_neurons=4, seconds=40.0)
    params = {
        "sigma_s": 0.05,
        "seed": 3,
        "noise_levels": [4.0],
        "n_members": 1,
        "max_noise_replicas": 1,
        "data": {"batch_size": 32, "validation_fraction": 0.25, "n_val_batches": 1},
        "trainer": {"max_steps": 3, "val_check_interval": 3, "enable_progress_bar": False},
    }
    weights = []
    for global_seed in (0, 12345):  # whatever ran before must not matter
        torch.manual_seed(global_seed)
        zoo = train_cascade_zoo(table, params)
        weights.append(torch.cat([p.flatten() for p in zoo.ensembles[4.0][0].parameters()]))
    torch.testing.assert_close(weights[0], weights[1], rtol=0, atol=0)


def _tiny_model(kind="ens2"):
    torch.manual_seed(0)
    net = build_network(kind, {"base_channels": 4})
    config = {
        "frame_rate_hz": 60.0,
        "sigma_s": 0.025,
        "window": 96 if kind == "ens2" else 64,
        "base_channels": 4,
    }
    return SpikeModel(kind, config, {float("nan") if kind == "ens2" else 2.0: [net.eval()]})


def test_model_file_round_trip_is_weights_only(tmp_path):
    model = _tiny_model()
    model.metadata = {"datasets": ["DS01"], "steps": np.int64(3)}
    model.save(tmp_path / "m.pt")
    raw = torch.load(tmp_path / "m.pt", weights_only=True)  # no code can run on load
    assert raw["kind"] == "ens2"
    again = SpikeModel.load(tmp_path / "m.pt")
    x = torch.randn(3, 96)
    torch.testing.assert_close(
        again.ensembles[again.noise_levels[0]][0](x), model.ensembles[model.noise_levels[0]][0](x)
    )
    assert again.metadata["steps"] == 3


def test_model_file_whose_config_does_not_match_its_weights(tmp_path):
    data = _tiny_model().to_dict()
    data["config"]["base_channels"] = 9
    torch.save(data, tmp_path / "bad.pt")
    with pytest.raises(ModelFileError, match="config does not match the weights"):
        SpikeModel.load(tmp_path / "bad.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(ModelFileError, match="not a readable model file"):
        SpikeModel.load(tmp_path / "junk.pt")


def test_zoo_routes_each_trace_to_the_nearest_noise_level():
    nets = {lv: [CascadeNet()] for lv in (1.0, 3.0, 5.0)}
    zoo = SpikeModel("cascade", {"frame_rate_hz": 30, "sigma_s": 0.05, "window": 64}, nets)
    assert zoo.members_for(2.4) is nets[3.0]
    assert zoo.members_for(0.2) is nets[1.0] and zoo.members_for(12) is nets[5.0]


@pytest.mark.parametrize("kind", ["ens2", "cascade"])
def test_rates_come_back_at_the_input_rate_with_nan_gaps(kind):
    model = _tiny_model(kind)
    rng = np.random.default_rng(0)
    dff = rng.normal(0, 0.05, 900).astype(np.float32)  # 30 Hz, model at 60 Hz
    dff[300:330] = np.nan
    pred = infer_rates(model, dff, 30.0)
    assert pred.rate_hz.shape == (900,)
    assert np.isnan(pred.rate_hz[300:330]).all()
    assert np.isfinite(pred.rate_hz[:300]).all() and (pred.rate_hz[:300] >= 0).all()
    assert pred.model_frame_rate_hz == pytest.approx(60.0)


def test_traces_shorter_than_a_window_are_zero_padded():
    model = _tiny_model()
    pred = infer_rates(model, np.linspace(0, 1, 20), 60.0)  # 20 < 96 samples
    assert pred.rate_hz.shape == (20,) and np.isfinite(pred.rate_hz).all()


@pytest.mark.parametrize("rate", [None, 0.0, -30.0])
def test_missing_or_bad_frame_rate(rate):
    with pytest.raises(ValueError, match="frame_rate_hz"):
        infer_rates(_tiny_model(), np.zeros(200), rate, name="cell 7")


def test_all_nan_trace_is_refused_with_its_name():
    with pytest.raises(ValueError, match="cell 3: ΔF/F is NaN in every frame"):
        infer_rates(_tiny_model(), np.full(200, np.nan), 30.0, name="cell 3")


def test_stride_averaging_covers_every_sample():
    model = _tiny_model()
    dff = np.random.default_rng(1).normal(0, 0.1, 1000)
    full = infer_rates(model, dff, 60.0, stride=1).rate_hz
    fast = infer_rates(model, dff, 60.0, stride=8).rate_hz
    assert np.isfinite(fast).all()
    assert np.corrcoef(full, fast)[0, 1] > 0.95


def test_window_bank_with_padded_edges_centres_every_clean_sample():
    # two recordings of 10 and 200 samples; the second has NaNs at 100 and 101
    a = np.arange(1, 11, dtype=float)
    b = np.arange(101, 301, dtype=float)
    b[100:102] = np.nan
    bank = WindowBank([a, b], [a * 0 + 1, b * 0 + 2], ["A", "B"], 96, pad_edges=True)
    # A: every sample is a centre (its window overhangs both ends onto the zeros);
    # B: centres whose window (48 before, 47 after) misses samples 100 and 101
    assert len(bank.centres["A"]) == 10
    centres_b = bank.centres["B"] - bank.centres["B"].min()
    assert set(centres_b) == set(range(0, 53)) | set(range(150, 200))
    x, y = bank.batch(bank.centres["A"][:1], sequence=True)
    # the first centre of A: 48 zeros, then A's 10 samples, then zeros up to 96
    np.testing.assert_array_equal(x[0, :48].numpy(), 0)
    np.testing.assert_array_equal(x[0, 48:58].numpy(), a)
    np.testing.assert_array_equal(x[0, 58:].numpy(), 0)
    np.testing.assert_array_equal(y[0].numpy(), np.r_[np.zeros(48), np.ones(10), np.zeros(38)])
    # the last centre of B's first stretch: its window ends at sample 99, next to the NaN
    x, _ = bank.batch(bank.centres["B"][52:53], sequence=True)
    np.testing.assert_array_equal(x[0].numpy(), b[52 - 48 : 52 + 48])
    # without padding, A is too short and B keeps only whole clean windows
    plain = WindowBank([a, b], [a, b], ["A", "B"], 96)
    assert set(plain.centres) == {"B"}
    assert len(plain.centres["B"]) == 5 + 3  # starts 0..4 and 102..104


def test_metadata_with_str_subclasses_loads_weights_only(tmp_path):
    """``torch.__version__`` is a ``str`` subclass: stored as it is, the file would not load
    with ``weights_only=True``; metadata is saved as plain types."""
    import torch

    from calcium_dynamics.models.cascade import CascadeNet

    config = {"frame_rate_hz": 30.0, "sigma_s": 0.05, "window": 64}
    model = SpikeModel(
        "cascade",
        config,
        {1.0: [CascadeNet().eval()]},
        {"torch_version": torch.__version__, "n": np.int64(3), "ok": True},
    )
    model.save(tmp_path / "m.pt")
    loaded = SpikeModel.load(tmp_path / "m.pt")
    assert type(loaded.metadata["torch_version"]) is str
    assert loaded.metadata["n"] == 3 and loaded.metadata["ok"] is True
