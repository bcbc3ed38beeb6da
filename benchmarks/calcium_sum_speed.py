"""The calcium likelihood's spike-count sum against its code at an earlier commit, same run.

    OMP_NUM_THREADS=1 python benchmarks/calcium_sum_speed.py --baseline-commit efe0f25

At the RADICaL paper sizes (a batch of 128 trials × 90 bins × 278 neurons of the LFADS timing
data), the log-likelihood and its gradients as one calcium-LFADS training step computes them:
the log-rates of a freshly initialised calcium-LFADS model (forward pass on the batch) and its
AR coefficients, jump and noise variance. The module of this checkout and the same module at
``--baseline-commit`` (read from git history) run interleaved in one process, one thread;
values and every gradient are compared (largest absolute difference, and each code's against a
float64 evaluation of the same inputs), the CPU seconds per call (forward + backward) are
reported with their ratio, and the largest spike count each block of rows sums in each code. Writes
``benchmarks/results/latent_lorenz/calcium_sum_speed.json``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from calcium_dynamics.likelihoods import calcium as current
from calcium_dynamics.models.lfads.training import build_model, variant_model_params
from calcium_dynamics.provenance import command_line, run_record

OUT = ROOT / "benchmarks" / "results" / "latent_lorenz" / "calcium_sum_speed.json"
MODULE = "src/calcium_dynamics/likelihoods/calcium.py"


def module_at(commit: str):
    """``calcium_dynamics.likelihoods.calcium`` as it was at ``commit`` (this repository's own
    history), imported under another name."""
    source = subprocess.run(
        ["git", "show", f"{commit}:{MODULE}"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(source)
    spec = importlib.util.spec_from_file_location("calcium_at_baseline", f.name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    os.unlink(f.name)
    return module


def step_inputs(seed: int) -> dict[str, torch.Tensor]:
    """ΔF/F of one timing batch and the calcium-LFADS log-rates and calcium parameters."""
    from latent_lorenz import _timing_data, paper_parameters

    x = _timing_data("calcium_lfads", np.random.default_rng(seed))
    params = paper_parameters()
    torch.manual_seed(seed)
    model = build_model(x, "calcium_lfads", variant_model_params(params["lfads"], "calcium_lfads"))
    model.initialise_from_data(x[:384])
    batch = torch.as_tensor(x[:128])
    with torch.no_grad():
        log_rate = model(batch, sample=False)["params"][0]
    obs = model.observation
    return {
        "y": batch,
        "log_rate": log_rate.detach(),
        "ar_coefs": obs.ar_coefs.detach(),
        "jump": torch.exp(obs.log_jump.detach()),
        "noise_var": obs.noise_var().detach(),
        "max_spikes": obs.max_spikes,
    }


def value_and_grads(module, inputs: dict) -> tuple[float, list[torch.Tensor]]:
    """CPU seconds of one forward + backward pass, and the values and gradients."""
    leaves = {
        k: inputs[k].clone().requires_grad_() for k in ("log_rate", "ar_coefs", "jump", "noise_var")
    }
    start = time.process_time()
    ll = module.calcium_ar_poisson_log_likelihood(
        inputs["y"], **leaves, max_spikes=inputs["max_spikes"]
    )
    ll.sum().backward()
    seconds = time.process_time() - start
    return seconds, [ll.detach(), *(v.grad for v in leaves.values())]


def block_tops(module, inputs: dict) -> list[int]:
    """The largest spike count each block of rows of the module sums (``_spike_count_top`` on
    the block's ``a = log λ + c r / σ²``)."""
    y, n = inputs["y"], inputs["y"].shape[-1]
    r = y - module.ar_prediction(y, inputs["ar_coefs"])
    inv_2var = 0.5 / inputs["noise_var"]
    a = (inputs["log_rate"] + r * (inputs["jump"] * 2.0 * inv_2var)).reshape(-1, n)
    c2_inv = inputs["jump"] ** 2 * inv_2var
    block = max(1, module._BLOCK_ENTRIES // n)
    return [
        module._spike_count_top(a[i : i + block], c2_inv, inputs["max_spikes"])
        for i in range(0, a.shape[0], block)
    ]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--baseline-commit", required=True, help="commit of the baseline module")
    ap.add_argument("--repeats", type=int, default=9, help="timed calls of each, interleaved")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    command = command_line(__file__, sys.argv[1:] if argv is None else argv)
    torch.set_num_threads(1)
    baseline = module_at(args.baseline_commit)
    inputs = step_inputs(args.seed)
    seconds: dict[str, list[float]] = {"current": [], "baseline": []}
    for module in (current, baseline):  # warm-up
        value_and_grads(module, inputs)
    for _ in range(args.repeats):
        for name, module in (("current", current), ("baseline", baseline)):
            s, _ = value_and_grads(module, inputs)
            seconds[name].append(s)
    _, now = value_and_grads(current, inputs)
    _, before = value_and_grads(baseline, inputs)
    # both against the same evaluation in float64 (this checkout's module)
    _, exact = value_and_grads(
        current, {k: v.double() if torch.is_tensor(v) else v for k, v in inputs.items()}
    )
    names = ("log_likelihood", "grad_log_rate", "grad_ar_coefs", "grad_jump", "grad_noise_var")
    differences = {n: float((a - b).abs().max()) for n, a, b in zip(names, now, before)}
    to_float64 = {
        code: {n: float((a.double() - x).abs().max()) for n, a, x in zip(names, values, exact)}
        for code, values in (("current", now), ("baseline", before))
    }
    medians = {k: float(np.median(v)) for k, v in seconds.items()}
    result = {
        "provenance": run_record(command, seeds=args.seed, threads=1, cwd=ROOT),
        "baseline_commit": subprocess.run(
            ["git", "rev-parse", args.baseline_commit],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip(),
        "shape": list(inputs["y"].shape),
        "max_spikes": inputs["max_spikes"],
        "cpu_s_per_call": seconds,
        "cpu_s_per_call_median": medians,
        "speedup_vs_baseline": round(medians["baseline"] / medians["current"], 3),
        "largest_abs_difference": differences,
        "largest_abs_difference_to_float64": to_float64,
        "largest_abs_value_float64": {n: float(x.abs().max()) for n, x in zip(names, exact)},
        "spike_counts_summed_per_block_top": {
            "current": block_tops(current, inputs),
            "baseline": block_tops(baseline, inputs),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(
        f"forward + backward: {medians['current']:.3f} CPU s against {medians['baseline']:.3f} "
        f"({result['speedup_vs_baseline']:.2f}x); largest differences {differences}; "
        f"results in {args.out}"
    )


if __name__ == "__main__":
    main()
