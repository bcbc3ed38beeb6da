"""LFADS training steps of this tree against an earlier commit of the package, at the RADICaL
paper sizes, one thread: same data, same seeds, the two codes alternating in fresh processes.

The earlier commit's ``src`` and ``conf`` are exported with ``git archive`` into a temporary
folder. In each round, for each variant, one child process per code (this tree's package, then
the earlier one, the order alternating between rounds so that slow phases of a shared machine
hit both) builds the paper-size model on the timing data of ``latent_lorenz.py``, runs training
steps on one batch of 128 trials (forward, backward and the model's own optimiser, after one
warm-up step) and validation passes on 96 trials (the loss in eval mode without gradients, as
at the end of every epoch), and reports their CPU seconds. Per round: the ratio earlier / this
tree of the median step, of the median validation pass and of an epoch (3 steps + 1 validation
pass, the benchmark's 384 training trials); the result is the median over rounds and their
range.

Both codes start from the same seeds; where a change is exact, the loss after the steps and
the sum of the weights are the same bit for bit (``same_numbers``).

    OMP_NUM_THREADS=1 python benchmarks/lfads_commit_ab.py --baseline 3cd810a --rounds 5
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "latent_lorenz" / "lfads_commit_ab.json"
BF16 = "_bf16"


def child(variant: str, steps: int, valid: int) -> dict:
    """Time one code (the ``calcium_dynamics`` on the path) on one variant; JSON-ready."""
    import torch

    # the package of PYTHONPATH, imported before latent_lorenz (which puts this tree's first)
    from calcium_dynamics.config import project_parameters
    from calcium_dynamics.models.allocator import keep_freed_memory
    from calcium_dynamics.models.lfads.training import build_model, variant_model_params

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import latent_lorenz as ll  # the timing data

    torch.set_num_threads(1)
    keep_freed_memory()
    if variant.endswith(BF16):
        torch.set_float32_matmul_precision("medium")
        variant = variant.removesuffix(BF16)
    params = project_parameters("paper")
    x = ll._timing_data(variant, np.random.default_rng(0))
    settings = {**variant_model_params(params["lfads"], variant), "recurrence": "fused"}
    torch.manual_seed(0)
    model = build_model(x, variant, settings)
    model.initialise_from_data(x[:384])
    opt = model.configure_optimizers()
    batch, held = torch.as_tensor(x[:128]), torch.as_tensor(x[384:480])
    torch.manual_seed(1)
    step_s, valid_s = [], []
    for _ in range(steps + 1):
        start = time.process_time()
        opt.zero_grad()
        loss = model.compute_loss(batch, training=True)["loss"]
        loss.backward()
        opt.step()
        step_s.append(time.process_time() - start)
    model.eval()  # as Lightning's validation loop: no dropout
    with torch.no_grad():
        for _ in range(valid + 1):
            start = time.process_time()
            valid_loss = model.compute_loss(held, training=False)["loss"]
            valid_s.append(time.process_time() - start)
        weights = float(sum(p.double().sum() for p in model.parameters()))
    return {
        "code": __import__("calcium_dynamics").__file__,
        "step_cpu_s": step_s[1:],
        "valid_cpu_s": valid_s[1:],
        "loss_after_steps": float(loss),
        "valid_loss": float(valid_loss),
        "weight_sum": weights,
    }


def _run_child(src: Path, variant: str, steps: int, valid: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, __file__, "--child", variant, "--steps", str(steps)]
    cmd += ["--valid", str(valid)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the timing child for {variant} ({src}) failed:\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if not Path(result["code"]).resolve().is_relative_to(src.resolve()):
        raise RuntimeError(f"the timing child ran {result['code']}, not the code in {src}")
    return result


def _export(commit: str, into: Path) -> Path:
    """``src`` and ``conf`` of ``commit`` (a git revision of this repository) under ``into``."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", commit, "src", "conf"], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "src"


def _summary(values: list[float]) -> dict:
    return {"median": round(float(np.median(values)), 3), "min": round(min(values), 3),
            "max": round(max(values), 3)}  # fmt: skip


def compare(rounds: list[dict[str, dict]]) -> dict:
    """Per-round ratios (earlier / this tree) of the median step, validation pass and epoch."""
    ratios: dict[str, list[float]] = {"step": [], "valid": [], "epoch": []}
    medians = {code: {"step": [], "valid": []} for code in ("baseline", "current")}
    for r in rounds:
        med = {
            code: {k: float(np.median(r[code][f"{k}_cpu_s"])) for k in ("step", "valid")}
            for code in ("baseline", "current")
        }
        for code in med:
            for k in ("step", "valid"):
                medians[code][k].append(med[code][k])
        ratios["step"].append(med["baseline"]["step"] / med["current"]["step"])
        ratios["valid"].append(med["baseline"]["valid"] / med["current"]["valid"])
        epoch = {c: 3 * med[c]["step"] + med[c]["valid"] for c in med}
        ratios["epoch"].append(epoch["baseline"] / epoch["current"])
    same = all(
        r["baseline"][k] == r["current"][k]
        for r in rounds
        for k in ("loss_after_steps", "valid_loss", "weight_sum")
    )
    return {
        "speedup": {k: _summary(v) for k, v in ratios.items()},
        "cpu_s_median": {
            code: {k: round(float(np.median(v)), 4) for k, v in m.items()}
            for code, m in medians.items()
        },
        "same_numbers": same,
        "losses": {
            code: {k: rounds[0][code][k] for k in ("loss_after_steps", "valid_loss")}
            for code in ("baseline", "current")
        },
    }


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--baseline", help="git revision of the earlier code (e.g. 3cd810a)")
    ap.add_argument(
        "--variants", nargs="+", default=["autolfads", "gaussian_lfads", "radical", "calcium_lfads"]
    )
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=6, help="timed training steps per child")
    ap.add_argument("--valid", type=int, default=3, help="timed validation passes per child")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.steps, args.valid)))
        return
    if not args.baseline:
        ap.error("--baseline is required")
    sys.path.insert(0, str(ROOT / "src"))
    from calcium_dynamics.provenance import command_line, run_record

    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", args.baseline], capture_output=True, text=True,
        check=True,
    ).stdout.strip()  # fmt: skip
    results = {
        "provenance": run_record(command_line(argv=argv), seeds=[0, 1], threads=1),
        "baseline_commit": commit,
        "steps_per_child": args.steps,
        "valid_passes_per_child": args.valid,
        "variants": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        codes = {"baseline": _export(commit, Path(tmp)), "current": ROOT / "src"}
        runs: dict[str, list[dict]] = {v: [] for v in args.variants}
        for i in range(args.rounds):
            for variant in args.variants:
                order = ["current", "baseline"] if i % 2 else ["baseline", "current"]
                runs[variant].append(
                    {c: _run_child(codes[c], variant, args.steps, args.valid) for c in order}
                )
                last = runs[variant][-1]
                s = {c: np.median(last[c]["step_cpu_s"]) for c in order}
                print(f"round {i + 1} {variant}: step {s['baseline']:.3f} s (earlier) / "
                      f"{s['current']:.3f} s (this tree)", flush=True)  # fmt: skip
    for variant, rounds in runs.items():
        results["variants"][variant] = {**compare(rounds), "rounds": rounds}
        print(variant, json.dumps(results["variants"][variant]["speedup"]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
