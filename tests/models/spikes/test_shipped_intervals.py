"""The shipped calibration tables and causal zoo: intervals on a fresh clone, checksums, the
numbers of the benchmark that wrote them, streaming with the shipped causal zoo."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from calcium_dynamics import SpikeStream, infer_spikes
from calcium_dynamics.models.spikes.calibration import Calibration
from calcium_dynamics.registry import shipped

ROOT = Path(__file__).resolve().parents[3]
INDEX = shipped.read_index(ROOT)
CALIBRATED = sorted(name for name, entry in INDEX.items() if entry.get("calibration"))


def gcamp_like(n_cells: int, n_frames: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    spikes = rng.poisson(0.03, (n_cells, n_frames)).astype(float)
    kernel = np.exp(-np.arange(60) / 12.0)
    calcium = np.stack([np.convolve(s, kernel)[:n_frames] for s in spikes]) * 0.4
    return calcium + rng.normal(0, 0.03, (n_cells, n_frames))


def test_the_30hz_zoos_ship_calibration_tables():
    assert {"cascade-30hz-excitatory", "cascade-30hz-excitatory-causal"} <= set(CALIBRATED)


def test_infer_spikes_returns_calibrated_intervals_with_the_shipped_models():
    dff = gcamp_like(3, 1800)
    out = infer_spikes(dff, 30.0, interval=0.9, events=False)
    assert (out.routing["model"] == "cascade-30hz-excitatory").all()
    assert out.rates_lo_hz.shape == out.rates_hi_hz.shape == dff.shape
    assert (out.rates_lo_hz <= out.rates_hz + 1e-4).all()
    assert (out.rates_hz <= out.rates_hi_hz + 1e-4).all()
    wider = infer_spikes(dff, 30.0, interval=0.95, events=False)
    assert (wider.rates_hi_hz >= out.rates_hi_hz - 1e-4).all()  # a higher level is wider
    assert np.isfinite(out.routing["expected_corr"]).all()
    assert ((out.routing["expected_corr"] > 0.3) & (out.routing["expected_corr"] < 0.95)).all()


@pytest.mark.parametrize("name", CALIBRATED)
def test_tables_are_those_the_benchmark_wrote(name):
    entry = INDEX[name]
    data = json.loads((ROOT / entry["calibration"]).read_text())
    cal = Calibration.from_dict(data, name)
    assert cal.model == name
    card = json.loads((ROOT / shipped.SHIPPED_DIR / f"{name}.card.json").read_text())
    result = json.loads((ROOT / card["intervals"]["file"]).read_text())
    assert result["model"] == name and result["n_members"] == cal.n_members
    for nu, qs in result["q"].items():
        table = cal.levels[float(nu)]
        for level, q in qs.items():
            assert table.q(float(level)) == pytest.approx(q, rel=1e-5)
    assert data["provenance"]["command"].startswith("python benchmarks/spike_intervals.py")


def test_a_tampered_calibration_file_is_refused(tmp_path):
    name = CALIBRATED[0]
    entry = INDEX[name]
    for rel in (shipped.INDEX_FILE, entry["calibration"]):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, tmp_path / rel)
    assert shipped.read_calibration(tmp_path, name)["model"] == name
    path = tmp_path / entry["calibration"]
    path.write_text(path.read_text().replace('"floor": 0.', '"floor": 1.', 1))
    with pytest.raises(ValueError, match="does not match the checksum"):
        shipped.read_calibration(tmp_path, name)


def test_causal_auto_routes_to_the_causal_zoo_and_streams_its_rates():
    dff = gcamp_like(2, 900, seed=1)
    batch = infer_spikes(dff, 30.0, causal=True, events=False)
    assert (batch.routing["model"] == "cascade-30hz-excitatory-causal").all()
    plain = infer_spikes(dff, 30.0, events=False)
    assert (plain.routing["model"] == "cascade-30hz-excitatory").all()  # auto stays offline
    stream = SpikeStream(frame_rate_hz=30.0, baseline=dff)
    got = np.concatenate([stream.push(dff[:, k : k + 7]) for k in range(0, 900, 7)], axis=1)
    np.testing.assert_allclose(got, batch.rates_hz, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match=r"no causal model at 7.5 Hz.*cascade-30hz"):
        infer_spikes(dff, 7.5, causal=True)
