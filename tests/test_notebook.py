"""The worked example notebook runs top to bottom on the shipped example and models."""

import json
import os
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]


def test_day_one_notebook_runs(monkeypatch):
    if not (ROOT / "data/06_models/shipped/index.yaml").is_file():
        pytest.fail("the shipped models' index is missing from this checkout")
    nb = json.loads((ROOT / "notebooks/recordings_day_one.ipynb").read_text())
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    scope: dict = {}
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            exec(compile("".join(cell["source"]), "notebook", "exec"), scope)
    result = scope["result"]
    n_cells = len(scope["dff"])
    assert result.rates_hz.shape == (n_cells, len(scope["dff"]["dff"].iloc[0]))
    assert result.routing["model"].str.startswith("cascade-").all()
    assert (result.rates_hz[~(result.rates_hz != result.rates_hz)] >= 0).all()
    assert os.environ["DO_NOT_TRACK"] == "1"
