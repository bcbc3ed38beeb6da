"""ENS² rates at stride 1: this package against the published ENS² code, same run, same weights.

    OMP_NUM_THREADS=1 python benchmarks/ens2_reference_speed.py --threads 1 --repeats 7

The published implementation (Zhou et al. 2023; ``../shared/reference/ens2``, GPL-3.0) is
imported by path, never copied; without that folder the benchmark says so and stops. Its
``UNet`` receives the first network of the shipped ``ens2-60hz-excitatory`` model (each 1-D
kernel placed in the middle row of its 3 × 3 kernel, zero transposed-convolution biases), so
both codes compute the same function. Its ``predict`` runs on the windows its own
``compile_test_data`` builds (one 96-sample window centred on every sample), with its spike
estimation replaced by the identity (rates only), against, on the same trace:

- ``package``: ``_predict_sequence_windows`` at stride 1, float32 (what ``infer_spikes``
  runs; the U-Net as a :class:`~calcium_dynamics.models.ens2_inference.ChannelsLastUNet`);
- ``package_previous``: the same averaging with the U-Net's own ``forward`` (the path before
  the channels-last form), kept as a baseline;
- ``floor_without_normalisation``: the channels-last form with its instance normalisations
  removed (timing only, not the same function): what the convolutions, pooling and averaging
  alone cost, an upper bound on what faster normalisations could buy;
- ``floor_activation_only``: the same with each normalisation replaced by the leaky ReLU that
  follows it (timing only): the bound for a network that keeps its activations, i.e. for
  normalisations that would cost nothing.

Timing: ``--repeats`` rounds, the three interleaved in each; seconds of the best round per
method and the median of the per-round ratios. Accuracy: the largest absolute rate difference
to the published code over samples ≥ 96 from either end (the published code divides every
sample by 96, also the edge samples fewer windows cover), against ``--tolerance``. Writes
``benchmarks/results/ens2_reference_speed/ens2_reference_speed.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from calcium_dynamics.models.ens2_inference import NEGATIVE_SLOPE, ChannelsLastUNet
from calcium_dynamics.models.spike_kinds import _predict_sequence_windows
from calcium_dynamics.models.spike_models import SpikeModel
from calcium_dynamics.provenance import command_line, run_record

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parent / "shared" / "reference" / "ens2"
SHIPPED = ROOT / "data" / "06_models" / "shipped" / "ens2-60hz-excitatory.pt"
OUT = ROOT / "benchmarks" / "results" / "ens2_reference_speed" / "ens2_reference_speed.json"
WINDOW = 96

# this package's UNet1d parameter → the published UNet's, in the same order
_CONVS = {
    "down.0.0": "encoder1.enc1conv1",
    "down.0.3": "encoder1.enc1conv2",
    "down.1.0": "encoder2.enc2conv1",
    "down.1.3": "encoder2.enc2conv2",
    "down.2.0": "encoder3.enc3conv1",
    "down.2.3": "encoder3.enc3conv2",
    "bottleneck.0": "bottleneck.bottleneckconv1",
    "bottleneck.3": "bottleneck.bottleneckconv2",
    "decode.0.0": "decoder3.dec3conv1",
    "decode.0.3": "decoder3.dec3conv2",
    "decode.1.0": "decoder2.dec2conv1",
    "decode.1.3": "decoder2.dec2conv2",
    "decode.2.0": "decoder1.dec1conv1",
    "decode.2.3": "decoder1.dec1conv2",
}
_UPS = {"up.0": "upconv3", "up.1": "upconv2", "up.2": "upconv1"}


def import_reference():
    """The published ENS² module (its argument parsing and spike estimation neutralised)."""
    argv, sys.argv = sys.argv, [sys.argv[0]]
    sys.path.insert(0, str(REFERENCE))
    try:
        import ENS2  # by path, only here
    finally:
        sys.argv = argv
        sys.path.remove(str(REFERENCE))
    ENS2.estimate_spike = lambda rate, *a, **k: rate
    ENS2.extract_event = lambda spike, *a, **k: spike
    return ENS2


def reference_state_dict(net: nn.Module) -> dict[str, torch.Tensor]:
    """Our U-Net's weights in the published UNet's layout (2-D kernels of height 3 on inputs of
    height 1: only the middle kernel row meets data; the other rows are zero)."""
    ours = net.state_dict()
    out: dict[str, torch.Tensor] = {}
    for mine, theirs in _CONVS.items():
        w = ours[f"{mine}.weight"]
        kernel = torch.zeros(w.shape[0], w.shape[1], 3, 3)
        kernel[:, :, 1, :] = w
        out[f"{theirs}.weight"] = kernel
    for mine, theirs in _UPS.items():
        w = ours[f"{mine}.weight"]
        out[f"{theirs}.weight"] = w[:, :, None, :].clone()
        out[f"{theirs}.bias"] = torch.zeros(w.shape[1])
    out["conv.weight"] = ours["head.weight"][:, :, None, :].clone()
    out["conv.bias"] = ours["head.bias"].clone()
    return out


def simulated_trace(n: int, seed: int) -> np.ndarray:
    """ΔF/F at 60 Hz: Poisson spikes (≈ 3 Hz) through a 0.5 s exponential kernel, plus noise."""
    rng = np.random.default_rng(seed)
    spikes = rng.poisson(0.05, n).astype(float)
    calcium = np.convolve(spikes, np.exp(-np.arange(120) / 30.0))[:n]
    return (calcium + 0.2 * rng.standard_normal(n)).astype(np.float32)


class _PlainForward(nn.Module):
    """The U-Net behind a wrapper, so the averaging runs its own ``forward`` (the previous path)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class _WithoutNormalisation(ChannelsLastUNet):
    """Timing floor: the channels-last U-Net without its instance normalisations."""

    def _normalise(self, h: torch.Tensor) -> torch.Tensor:
        return h


class _ActivationOnly(ChannelsLastUNet):
    """Timing floor: the channels-last U-Net with each instance normalisation replaced by the
    leaky ReLU that follows it (the one full pass a normalised network cannot do without)."""

    def _normalise(self, h: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(h, NEGATIVE_SLOPE)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", type=Path, default=SHIPPED)
    p.add_argument("--samples", type=int, default=12_000, help="trace length at 60 Hz")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tolerance", type=float, default=1e-4, help="largest rate difference allowed")
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    if not (REFERENCE / "ENS2.py").is_file():
        print(f"skipped: the published ENS² code is not at {REFERENCE}")
        return 0
    torch.set_num_threads(args.threads)
    prov = run_record(
        command_line(__file__, sys.argv[1:] if argv is None else argv),
        seeds=[args.seed],
        threads=torch.get_num_threads(),
        cwd=ROOT,
    )
    ref = import_reference()
    net = SpikeModel.load(args.model).members_for(0.5)[0].eval()
    state = reference_state_dict(net)
    trace = simulated_trace(args.samples, args.seed)
    padded = np.concatenate([np.zeros(WINDOW // 2), trace, np.zeros(WINDOW // 2)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, WINDOW)[: trace.size]
    windows = windows.astype(np.float32).copy()  # what compile_test_data builds
    published = ref.ENS2()

    floor_net = _WithoutNormalisation(net)
    activation_net = _ActivationOnly(net)
    methods = {
        "published": lambda: published.predict(windows, state_dict=state)[1][:, 0],
        "package": lambda: _predict_sequence_windows([net], trace, WINDOW, 1, 2048),
        "package_previous": lambda: _predict_sequence_windows(
            [_PlainForward(net)], trace, WINDOW, 1, 2048
        ),
        "floor_without_normalisation": lambda: _predict_sequence_windows(
            [floor_net], trace, WINDOW, 1, 2048
        ),
        "floor_activation_only": lambda: _predict_sequence_windows(
            [activation_net], trace, WINDOW, 1, 2048
        ),
    }
    rates = {name: f() for name, f in methods.items()}  # warm-up, and the rates compared
    seconds: dict[str, list[float]] = {name: [] for name in methods}
    for r in range(args.repeats):
        for name, f in methods.items():
            start = time.perf_counter()
            f()
            seconds[name].append(time.perf_counter() - start)
        print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in seconds.items()))

    inner = slice(WINDOW, trace.size - WINDOW)
    diff = {
        name: float(np.abs(rates[name][inner] - rates["published"][inner]).max())
        for name in ("package", "package_previous")
    }
    per_round = {
        name: [p_ / o for p_, o in zip(seconds["published"], seconds[name])]
        for name in (
            "package",
            "package_previous",
            "floor_without_normalisation",
            "floor_activation_only",
        )
    }
    result = {
        "provenance": prov,
        "setup": {
            "model": args.model.name,
            "network": "first network of the model, float32, stride 1",
            "samples": args.samples,
            "repeats": args.repeats,
            "trace": "simulated 60 Hz ΔF/F (Poisson spikes, 0.5 s exponential kernel, noise 0.2)",
        },
        "samples_per_s_best": {k: round(args.samples / min(v), 1) for k, v in seconds.items()},
        "seconds": {k: [round(s, 4) for s in v] for k, v in seconds.items()},
        "speedup_vs_published_median_round": {
            k: round(float(np.median(v)), 3) for k, v in per_round.items()
        },
        "speedup_vs_published_best": {
            k: round(min(seconds["published"]) / min(seconds[k]), 3) for k in per_round
        },
        "speedup_package_vs_previous_median_round": round(
            float(
                np.median([a / b for a, b in zip(seconds["package_previous"], seconds["package"])])
            ),
            3,
        ),
        "max_abs_rate_difference_to_published": diff,
        "largest_published_rate": float(rates["published"].max()),
        "tolerance": args.tolerance,
        "rates_equal_within_tolerance": all(d <= args.tolerance for d in diff.values()),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    for key in (
        "samples_per_s_best",
        "speedup_vs_published_median_round",
        "speedup_package_vs_previous_median_round",
        "max_abs_rate_difference_to_published",
    ):
        print(f"{key}: {result[key]}")
    if not result["rates_equal_within_tolerance"]:
        print(f"rates differ from the published code by more than {args.tolerance}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
