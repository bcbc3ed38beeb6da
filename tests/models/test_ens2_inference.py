"""ENS² inference: normalisation, overlap averaging and arithmetic precision."""

import numpy as np
import pytest
import torch

from calcium_dynamics.models.ens2 import InstanceNormTime, UNet1d
from calcium_dynamics.models.ens2_inference import ChannelsLastUNet
from calcium_dynamics.models.spike_inference import infer_rates, inference_dtype
from calcium_dynamics.models.spike_kinds import _predict_sequence_windows
from calcium_dynamics.models.spike_models import SpikeModel


def _net(seed=0):
    torch.manual_seed(seed)
    net = UNet1d(9).eval()
    for p in net.parameters():  # larger weights than the init: outputs far from zero
        p.data.normal_(0.0, 0.2)
    return net


@pytest.mark.parametrize("length", [12, 48, 96])
def test_time_norm_equals_instance_norm(length):
    x = torch.randn(5, 7, length) * 3 + 1
    expected = torch.nn.InstanceNorm1d(7, affine=False)(x)
    torch.testing.assert_close(InstanceNormTime()(x), expected, rtol=1e-5, atol=1e-5)


def _brute_force_average(nets, x, window, stride):
    """Every window by itself, each prediction added to the samples it covers (loops)."""
    n = x.size
    before = window // 2
    padded = np.pad(x.astype(np.float32), (before, window - before - 1))
    centres = list(range(0, n, stride))
    if centres[-1] != n - 1:
        centres.append(n - 1)
    total, count = np.zeros(n), np.zeros(n)
    with torch.no_grad():
        for c in centres:
            w = torch.from_numpy(padded[c : c + window])[None]
            pred = np.mean([net(w)[0].numpy() for net in nets], axis=0)
            for k in range(window):
                j = c - before + k
                if 0 <= j < n:
                    total[j] += pred[k]
                    count[j] += 1
    return total / count


@pytest.mark.parametrize(("n", "stride", "batch"), [(20, 1, 2048), (301, 1, 64), (301, 7, 5)])
def test_overlap_average_equals_window_by_window(n, stride, batch):
    nets = [_net(0), _net(1)]
    x = np.random.default_rng(n).normal(0, 0.3, n).astype(np.float32)
    got = _predict_sequence_windows(nets, x, 96, stride, batch)
    np.testing.assert_allclose(got, _brute_force_average(nets, x, 96, stride), rtol=1e-4, atol=1e-6)


def test_bf16_rates_match_fp32():
    net = _net(0)
    model = SpikeModel("ens2", {"frame_rate_hz": 60.0, "sigma_s": 0.025, "window": 96}, {0: [net]})
    x = np.random.default_rng(0).normal(0, 0.3, 3000).astype(np.float32)
    fp32 = infer_rates(model, x, 60.0, precision="fp32").rate_hz
    bf16 = infer_rates(model, x, 60.0, precision="bf16").rate_hz
    assert np.corrcoef(fp32, bf16)[0, 1] > 0.999
    assert np.abs(bf16 - fp32).sum() / np.abs(fp32).sum() < 0.03
    # the bfloat16 copy is made from the network once and kept; the network stays fp32
    assert next(net.parameters()).dtype == torch.float32


def test_precision_choices():
    assert inference_dtype("fp32") == torch.float32
    assert inference_dtype("bf16") == torch.bfloat16
    assert inference_dtype("auto") in (torch.float32, torch.bfloat16)
    with pytest.raises(ValueError, match="precision must be one of"):
        inference_dtype("fp16")


@pytest.mark.parametrize(("batch", "window"), [(1, 96), (300, 96), (40, 48)])
def test_channels_last_unet_equals_unet(batch, window):
    """The fast inference form computes the trained U-Net's function (float32 rounding)."""
    net = _net(3)
    x = torch.from_numpy(
        np.random.default_rng(batch).normal(0, 0.5, (batch, window)).astype(np.float32)
    )
    with torch.no_grad():
        expected = net(x)
    got = ChannelsLastUNet(net)(x)
    assert got.shape == expected.shape
    assert expected.abs().max() > 0.1  # the comparison is not between zeros
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_inference_copy_follows_weight_updates():
    """A cached fast copy is rebuilt after the network's weights change in place."""
    net = _net(0)
    x = np.random.default_rng(1).normal(0, 0.3, 200).astype(np.float32)
    before = _predict_sequence_windows([net], x, 96, 1, 2048)
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(1.3)
    after = _predict_sequence_windows([net], x, 96, 1, 2048)
    assert np.abs(after - before).max() > 1e-3
    np.testing.assert_allclose(after, _brute_force_average([net], x, 96, 1), rtol=1e-4, atol=1e-6)


def test_channels_last_unet_rejects_bad_windows():
    fast = ChannelsLastUNet(_net(0))
    with pytest.raises(ValueError, match="not divisible by 8"):
        fast(torch.zeros(2, 90))
    with pytest.raises(ValueError, match=r"\(batch, window\)"):
        fast(torch.zeros(96))
    with pytest.raises(TypeError, match="expected a UNet1d"):
        ChannelsLastUNet(torch.nn.Linear(2, 2))


def test_channels_last_unet_in_bfloat16_stays_close():
    """bfloat16 convolutions with float32 normalisations: rates within a few % of float32."""
    net = _net(4)
    x = torch.from_numpy(np.random.default_rng(0).normal(0, 0.5, (64, 96)).astype(np.float32))
    with torch.no_grad():
        expected = net(x)
    got = ChannelsLastUNet(net, torch.bfloat16)(x)
    assert got.dtype == torch.float32
    assert (got - expected).abs().sum() / expected.abs().sum() < 0.03
    with pytest.raises(ValueError, match="dtype must be"):
        ChannelsLastUNet(net, torch.float16)


def test_networks_made_under_inference_mode_are_served():
    """Weights created under torch.inference_mode keep no version counter: the fast copy is
    made anew instead of cached, and the rates are the network's own."""
    with torch.inference_mode():
        net = _net(5)
    x = np.random.default_rng(2).normal(0, 0.3, 150).astype(np.float32)
    got = _predict_sequence_windows([net], x, 96, 1, 2048)
    np.testing.assert_allclose(got, _brute_force_average([net], x, 96, 1), rtol=1e-4, atol=1e-6)
