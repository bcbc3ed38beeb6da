"""Calcium HMM fit time per EM iteration: the closed-form M-step against L-BFGS, same run.

    OMP_NUM_THREADS=1 python benchmarks/hmm_speed.py --seeds 0 1 2

Data: the sequential-state simulation of the calcium-HMM paper (``simulate_hmm_calcium``: 5
states, 25 neurons, 2,000 training and 2,000 test bins, AR(1) calcium). For each seed, in one
process and interleaved: the calcium HMM with ``calcium_m_step="lbfgs"`` (L-BFGS over the
expected log-likelihood, the previous path) and ``"em"`` (closed-form updates with the spike
counts as latent variables), each for ``--n-iter`` EM iterations from the same initialisation;
for scale, hmmlearn's Gaussian HMM and this package's Gaussian HMM on the same ΔF/F. Reports
seconds per EM iteration, the ratio lbfgs / em, the training and held-out log-likelihood per
bin and the held-out state correlation (Hungarian-matched), so speed is shown at equal
accuracy. Also the E-step on trials: the training sequence cut into 20 trials of 100 bins,
forward–backward one trial at a time against all trials at once (``forward_backward_batch``).
Writes ``benchmarks/results/hmm_speed/hmm_speed.json``.

``--small``: the smaller simulation of the HMM tests instead (3 states, 12 neurons, 400
training and 300 test bins), where the two M-steps, two EM algorithms for the same likelihood,
can stop at different optima.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from hmmlearn.hmm import GaussianHMM

from calcium_dynamics.classical.hmm import HMM, forward_backward, forward_backward_batch
from calcium_dynamics.metrics.states import state_metrics
from calcium_dynamics.provenance import command_line, run_record
from calcium_dynamics.simulate.hmm_gpfa import simulate_hmm_calcium

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "hmm_speed" / "hmm_speed.json"
#: ``--small``: the simulation of ``tests/classical/test_hmm.py``
SMALL = {"n_states": 3, "neurons_per_state": 4, "n_time_train": 400, "n_time_test": 300}


def fit_calcium(sim, how: str, n_iter: int, seed: int, n_states: int = 5) -> dict:
    start = time.perf_counter()
    model = HMM(
        n_states=n_states,
        observations="calcium",
        n_iter=n_iter,
        tol=-np.inf,  # a fixed number of iterations: seconds per iteration compare like with like
        init_smoothing_bins=3,
        random_state=seed,
        calcium_m_step=how,
    ).fit(sim.calcium_train)
    seconds = time.perf_counter() - start
    n_bins = sim.calcium_train.shape[0]
    return {
        "seconds": seconds,
        "iterations": model.n_iter_,
        "s_per_iteration": seconds / model.n_iter_,
        "train_ll_per_bin": model.log_likelihood_history_[-1] / n_bins,
        "test_ll_per_bin": model.score_per_bin(sim.calcium_test),
        "test_state_correlation": state_metrics(sim.states_test, model.predict(sim.calcium_test))[
            "correlation"
        ],
    }


def fit_gaussian_scale(sim, n_iter: int, seed: int, n_states: int = 5) -> dict:
    """hmmlearn's and this package's Gaussian HMM (diagonal covariance), same data."""
    out = {}
    x = sim.calcium_train
    start = time.perf_counter()
    ref = GaussianHMM(n_states, "diag", n_iter=n_iter, tol=0.0, random_state=seed).fit(x)
    out["hmmlearn_gaussian_s_per_iteration"] = (time.perf_counter() - start) / ref.monitor_.iter
    start = time.perf_counter()
    own = HMM(n_states, "gaussian", n_iter=n_iter, tol=-np.inf, random_state=seed).fit(x)
    out["gaussian_s_per_iteration"] = (time.perf_counter() - start) / own.n_iter_
    return out


def e_step_on_trials(seed: int, n_trials: int = 20, repeats: int = 5) -> dict:
    """Forward–backward over trials one at a time vs batched, on random log-likelihoods of
    the paper's size cut into trials (K = 5)."""
    rng = np.random.default_rng(seed)
    log_lik = rng.normal(0.0, 5.0, (n_trials, 2000 // n_trials, 5))
    log_start = np.log(np.full(5, 0.2))
    log_trans = np.log(rng.dirichlet(np.full(5, 5.0), size=5))
    loop, batch = [], []
    for _ in range(repeats):  # interleaved
        t = time.perf_counter()
        ref = [forward_backward(log_start, log_trans, x) for x in log_lik]
        loop.append(time.perf_counter() - t)
        t = time.perf_counter()
        post, _, ll = forward_backward_batch(log_start, log_trans, log_lik)
        batch.append(time.perf_counter() - t)
    diff = float(np.max(np.abs(post - np.stack([r[0] for r in ref]))))
    return {
        "n_trials": n_trials,
        "bins_per_trial": log_lik.shape[1],
        "loop_s": float(np.median(loop)),
        "batch_s": float(np.median(batch)),
        "ratio": float(np.median(loop) / np.median(batch)),
        "max_abs_posterior_difference": diff,
        "max_abs_log_likelihood_difference": float(np.max(np.abs(ll - [r[2] for r in ref]))),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--n-iter", type=int, default=30, help="EM iterations per fit")
    p.add_argument("--small", action="store_true", help="the HMM tests' smaller simulation")
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    size = SMALL if args.small else {}
    n_states = SMALL["n_states"] if args.small else 5
    torch.set_num_threads(1)
    prov = run_record(
        command_line(__file__, sys.argv[1:] if argv is None else argv),
        seeds=args.seeds,
        threads=1,
        cwd=ROOT,
    )
    runs = []
    for seed in args.seeds:
        sim = simulate_hmm_calcium(seed=seed, **size)
        row = {"seed": seed}
        for how in ("lbfgs", "em"):
            row[how] = fit_calcium(sim, how, args.n_iter, seed, n_states)
        row["ratio_lbfgs_over_em_s_per_iteration"] = (
            row["lbfgs"]["s_per_iteration"] / row["em"]["s_per_iteration"]
        )
        row.update(fit_gaussian_scale(sim, args.n_iter, seed, n_states))
        row["e_step_trials"] = e_step_on_trials(seed)
        runs.append(row)
        print(
            f"seed {seed}: s / iteration lbfgs {row['lbfgs']['s_per_iteration']:.3f}, em "
            f"{row['em']['s_per_iteration']:.3f} "
            f"({row['ratio_lbfgs_over_em_s_per_iteration']:.1f}×); "
            f"held-out ll / bin {row['lbfgs']['test_ll_per_bin']:.4f} vs "
            f"{row['em']['test_ll_per_bin']:.4f}; state corr "
            f"{row['lbfgs']['test_state_correlation']:.3f} vs "
            f"{row['em']['test_state_correlation']:.3f}; hmmlearn Gaussian "
            f"{row['hmmlearn_gaussian_s_per_iteration']:.4f} s / iteration; E-step on trials "
            f"{row['e_step_trials']['ratio']:.1f}× batched",
            flush=True,
        )

    def summary(values):
        v = np.asarray(values, float)
        return {"mean": float(v.mean()), "sd": float(v.std(ddof=1)) if v.size > 1 else 0.0}

    result = {
        "data": (
            "simulate_hmm_calcium (3 states, 12 neurons, 400 + 300 bins)"
            if args.small
            else "simulate_hmm_calcium (5 states, 25 neurons, 2,000 + 2,000 bins)"
        ),
        "n_iter": args.n_iter,
        "runs": runs,
        "summary": {
            "ratio_lbfgs_over_em_s_per_iteration": summary(
                [r["ratio_lbfgs_over_em_s_per_iteration"] for r in runs]
            ),
            "test_ll_per_bin_em_minus_lbfgs": summary(
                [r["em"]["test_ll_per_bin"] - r["lbfgs"]["test_ll_per_bin"] for r in runs]
            ),
            "seeds_em_test_ll_higher": sum(
                r["em"]["test_ll_per_bin"] > r["lbfgs"]["test_ll_per_bin"] for r in runs
            ),
            "test_state_correlation_em_minus_lbfgs": summary(
                [
                    r["em"]["test_state_correlation"] - r["lbfgs"]["test_state_correlation"]
                    for r in runs
                ]
            ),
            "e_step_trials_ratio": summary([r["e_step_trials"]["ratio"] for r in runs]),
        },
        "provenance": prov,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result["summary"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
