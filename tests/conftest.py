"""Shared fixtures: project paths, the embedded ground-truth subset and the full database."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
EMBEDDED_GROUND_TRUTH = PROJECT_ROOT / "data" / "01_raw" / "ground_truth"
FULL_GROUND_TRUTH = Path(
    os.environ.get("CALCIUM_DYNAMICS_GROUND_TRUTH", PROJECT_ROOT.parent / "shared" / "ground_truth")
)


@pytest.fixture(scope="session")
def project_root() -> Path:
    return PROJECT_ROOT


@pytest.fixture(scope="session")
def embedded_ground_truth() -> Path:
    return EMBEDDED_GROUND_TRUTH


@pytest.fixture(scope="session")
def full_ground_truth() -> Path:
    """The full 21-dataset database beside the project; tests needing it skip where it is absent."""
    if not any(FULL_GROUND_TRUTH.glob("DS*/*.mat")):
        pytest.skip(
            f"full ground-truth database not found at {FULL_GROUND_TRUTH} "
            "(set CALCIUM_DYNAMICS_GROUND_TRUTH to its folder)"
        )
    return FULL_GROUND_TRUTH
