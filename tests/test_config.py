"""project_parameters gives benchmarks the parameters `kedro run --env ENV` uses."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from calcium_dynamics.config import project_parameters

ROOT = Path(__file__).resolve().parents[1]


def _deep(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _deep(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def test_paper_overlays_base_key_by_key():
    base = yaml.safe_load((ROOT / "conf/base/parameters_latent_lfads.yml").read_text())
    paper = yaml.safe_load((ROOT / "conf/paper/parameters_latent_lfads.yml").read_text())
    merged = project_parameters("paper")
    for key, value in _deep(base, paper).items():
        assert merged[key] == value, key
    # a key conf/paper leaves alone keeps its base value
    assert project_parameters()["lfads"]["model"] == base["lfads"]["model"]
    assert merged["lfads"]["trainer"]["max_epochs"] == paper["lfads"]["trainer"]["max_epochs"]


def test_an_unknown_environment_is_named():
    with pytest.raises(FileNotFoundError, match="conf/nowhere"):
        project_parameters("nowhere")
