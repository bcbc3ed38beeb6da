"""Causal zoos: no future frame enters a rate; the stream equals the batch call."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from calcium_dynamics import SpikeStream, infer_spikes
from calcium_dynamics.models.cascade import CascadeNet
from calcium_dynamics.models.spike_data import WindowBank
from calcium_dynamics.models.spike_inference import predict_model_rate
from calcium_dynamics.models.spike_models import SpikeModel
from calcium_dynamics.models.spike_training import train_cascade_zoo
from calcium_dynamics.models.spikes.zoo_training import ZooSpec


def zoo(causal: bool, frame_rate_hz: float = 30.0) -> SpikeModel:
    torch.manual_seed(0)
    config = {"frame_rate_hz": frame_rate_hz, "sigma_s": 0.05, "window": 64, "causal": causal}
    ensembles = {lv: [CascadeNet().eval() for _ in range(3)] for lv in (1.0, 6.0)}
    return SpikeModel("cascade", config, ensembles, {"name": "causal-test" if causal else "nc"})


def test_a_causal_rate_does_not_change_when_the_future_does():
    rng = np.random.default_rng(0)
    x = rng.normal(0, 0.1, 400).astype(np.float32)
    later = x.copy()
    later[250:] += rng.normal(0, 1.0, 150).astype(np.float32)
    for causal, same_before in ((True, 250), (False, 250 - 31)):
        a = predict_model_rate(zoo(causal), x, 1.0)
        b = predict_model_rate(zoo(causal), later, 1.0)
        np.testing.assert_array_equal(a[:same_before], b[:same_before])
        changed = np.flatnonzero(a != b)
        # causal: the first changed rate is the first changed frame; centred: 31 frames sooner
        assert changed[0] == same_before


def test_causal_training_windows_end_at_the_target_frame():
    dff = np.arange(200, dtype=np.float32)
    bank = WindowBank([dff], [dff * 10], ["d"], 64, causal=True)
    centres = bank.centres["d"][:5]
    x, y = bank.batch(centres, sequence=False)
    np.testing.assert_array_equal(x[:, -1].numpy() * 10, y.numpy())  # last input = target frame
    assert x.shape == (5, 64)


def test_a_causal_zoo_trains_and_says_so():
    rng = np.random.default_rng(1)
    n = 3000
    spikes = (rng.random(n) < 0.02).astype(float)
    kernel = np.exp(-np.arange(60) / 15.0)
    dff = np.convolve(spikes, kernel)[:n] + rng.normal(0, 0.02, n)
    table = pd.DataFrame(
        {
            "dataset": ["a", "b"],
            "neuron": ["n1", "n2"],
            "dff": [dff[:1500], dff[1500:]],
            "target_rate": [spikes[:1500], spikes[1500:]],
            "target_rate_causal": [spikes[:1500] * 2, spikes[1500:] * 2],
            "frame_rate_hz": [30.0, 30.0],
        }
    )
    params = {
        "sigma_s": 0.05,
        "noise_levels": [2.0],
        "n_members": 1,
        "causal": True,
        "data": {"batch_size": 64, "validation_fraction": 0.0},
        "trainer": {"max_steps": 3, "enable_progress_bar": False},
    }
    model = train_cascade_zoo(table, params)
    assert model.causal and model.config["causal"] is True
    assert model.config["target_kernel"] == "causal"
    with pytest.raises(ValueError, match="target_rate_causal"):
        train_cascade_zoo(table.drop(columns="target_rate_causal"), params)
    again = SpikeModel.from_dict(model.to_dict())
    assert again.causal
    with pytest.raises(ValueError, match="causal zoos are CASCADE"):
        ZooSpec(name="x", frame_rate_hz=30, sigma_s=0.05, kind="ens2", causal=True)


def test_the_stream_gives_the_batch_rates_in_any_chunking():
    model = zoo(causal=True)
    rng = np.random.default_rng(2)
    dff = rng.normal(0, 0.05, (4, 700))
    dff[1] *= 8  # a noisier cell: another ensemble
    dff[2, 300:305] = np.nan  # a gap: the next segment starts from zeros
    dff[3, 0:3] = np.nan
    batch = infer_spikes(dff, 30.0, model=model, causal=True, events=False)
    stream = SpikeStream(model, frame_rate_hz=30.0, baseline=dff)
    assert len(set(stream.levels)) == 2
    got, pos = [], 0
    for size in rng.integers(1, 40, 200):
        if pos >= dff.shape[1]:
            break
        got.append(stream.push(dff[:, pos : pos + size]))
        pos += size
    n_pushes = len(got)
    got = np.concatenate(got, axis=1)
    np.testing.assert_allclose(got, batch.rates_hz, rtol=1e-5, atol=1e-5)
    assert np.isnan(got[2, 300:305]).all()
    assert len(stream.latency_s) == n_pushes and stream.frames_seen == dff.shape[1]
    one = SpikeStream(model, frame_rate_hz=30.0, noise_level_nu=stream.noise_level_nu)
    first = one.push(dff[:, 0])  # a 1-D push is one frame of every cell
    np.testing.assert_allclose(first[:, 0], batch.rates_hz[:, 0], rtol=1e-5, atol=1e-5)


def test_causal_bad_inputs_name_the_problem():
    dff = np.zeros((1, 300))
    with pytest.raises(ValueError, match="'nc' is not causal"):
        infer_spikes(dff, 30.0, model=zoo(causal=False), causal=True)
    with pytest.raises(ValueError, match=r"no causal model at 7.5 Hz.*causal models"):
        infer_spikes(dff, 7.5, model=zoo(causal=True), causal=True)
    with pytest.raises(ValueError, match="not within 5 %"):
        SpikeStream(zoo(causal=True), frame_rate_hz=33.0, noise_level_nu=[1.0])
    with pytest.raises(ValueError, match="exactly one of"):
        SpikeStream(zoo(causal=True), frame_rate_hz=30.0)
    with pytest.raises(ValueError, match=r"cell\(s\) \[1\]"):
        SpikeStream(zoo(causal=True), frame_rate_hz=30.0, noise_level_nu=[1.0, -2.0])
    stream = SpikeStream(zoo(causal=True), frame_rate_hz=30.0, noise_level_nu=[1.0, 2.0])
    with pytest.raises(ValueError, match=r"n_cells=2"):
        stream.push(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="ENS² has no causal form"):
        infer_spikes(dff, 30.0, model="ens2", causal=True)
