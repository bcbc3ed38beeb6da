"""Benchmark scripts as fixtures: they live outside the package, so they are loaded by path."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_benchmark(name: str):
    """The module ``benchmarks/<name>.py``, freshly executed."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def spike_lodo():
    return _load_benchmark("spike_lodo")


@pytest.fixture(scope="module")
def classical_latents():
    return _load_benchmark("classical_latents")


@pytest.fixture(scope="module")
def indicator_kinetics():
    return _load_benchmark("indicator_kinetics")


@pytest.fixture(scope="module")
def spike_intervals():
    return _load_benchmark("spike_intervals")


@pytest.fixture(scope="module")
def gpfa_calcium_speed():
    return _load_benchmark("gpfa_calcium_speed")


@pytest.fixture(scope="module")
def latent_lorenz():
    return _load_benchmark("latent_lorenz")


@pytest.fixture(scope="module")
def precision_pairs():
    return _load_benchmark("precision_pairs")


@pytest.fixture(scope="module")
def lfads_commit_ab():
    return _load_benchmark("lfads_commit_ab")


@pytest.fixture(scope="module")
def speed_figure():
    return _load_benchmark("speed_figure")
