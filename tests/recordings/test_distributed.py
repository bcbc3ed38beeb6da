"""Per-recording work on a local Ray gives what the sequential run gives (to rounding)."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from calcium_dynamics.recordings.distributed import ray_requested, submit
from calcium_dynamics.recordings.dynamics import fit_trial_dynamics
from tests.recordings.test_dynamics import GAUSSIAN_ONLY, _trials


def test_without_ray_the_work_runs_here():
    work = {"a": partial(int, "3")}
    assert submit(work, {"enabled": False, "address": None}) is work
    assert not ray_requested(None) and ray_requested({"address": "auto"})


def test_local_ray_tasks_equal_the_sequential_fits():
    ray = pytest.importorskip("ray")
    recordings = {f"rec{i}": _trials(seed=i)[0] for i in range(2)}
    work = {k: partial(fit_trial_dynamics, v, GAUSSIAN_ONLY, k) for k, v in recordings.items()}
    try:
        remote = submit(work, {"enabled": True, "num_cpus": 2})
        got = {k: fetch() for k, fetch in remote.items()}
    finally:
        ray.shutdown()
    for key, fn in work.items():
        want = fn()
        assert set(got[key].arrays) == set(want.arrays)
        # equal to rounding: a Ray worker may use another number of BLAS threads than this
        # process, which changes the order of floating-point sums; EM carries the differences to
        # ~1e-8 of the latents' scale
        for name, value in want.arrays.items():
            if value.dtype.kind == "f":
                scale = float(np.nanmax(np.abs(value))) if value.size else 1.0
                np.testing.assert_allclose(got[key].arrays[name], value, atol=1e-5 * scale)
            else:
                np.testing.assert_array_equal(got[key].arrays[name], value, err_msg=name)
        for col in ("r2", "ll_per_bin", "ll_gain_per_bin"):
            np.testing.assert_allclose(got[key].scores[col], want.scores[col], atol=1e-5)
