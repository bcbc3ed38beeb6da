import json

import numpy as np
import pytest

from tests.io.mat_files import recording, write_neuron
from tests.signal.kernel_traces import kernel_recording, time_to_peak

TAU_ON, TAU_OFF, RATE = 0.06, 0.5, 30.0


def _dataset(root, name, n_neurons, **kwargs):
    for i in range(n_neurons):
        recs = []
        for j in range(2):
            dff, spikes = kernel_recording(
                TAU_ON, TAU_OFF, RATE, gap_s=(3.5, 4.5), n_spikes=40, seed=10 * i + j, **kwargs
            )
            t = 0.5 + np.arange(dff.size) / RATE
            recs.append(recording(dff=dff, t=t, spikes_s=spikes + 0.5))
        write_neuron(root / name / f"neuron{i}_mini.mat", recs)


def test_benchmark_recovers_a_known_kernel_and_reports_bad_datasets(tmp_path, indicator_kinetics):
    root = tmp_path / "gt"
    _dataset(root, "DS98-GCaMP6f-m-V1", 3)
    (root / "DS98-GCaMP6f-m-V1" / "broken_mini.mat").write_bytes(b"not a MATLAB file")
    write_neuron(root / "DS99-OGB1-zf-pDp" / "silent_mini.mat", [recording(spikes_s=())])
    out = tmp_path / "kinetics.json"
    indicator_kinetics.main(["--ground-truth", str(root), "--out", str(out)])

    results = json.loads(out.read_text())["datasets"]
    known = results["DS98-GCaMP6f-m-V1"]
    assert known["n_neurons"] == 3 and known["frame_rate_hz"] == pytest.approx(RATE)
    assert known["tau_on_s"] == pytest.approx(TAU_ON, rel=0.15)
    assert known["tau_off_s"] == pytest.approx(TAU_OFF, rel=0.1)
    assert known["time_to_peak_s"] == pytest.approx(time_to_peak(TAU_ON, TAU_OFF), abs=0.015)
    assert known["peak_dff"] == pytest.approx(0.2, rel=0.1)
    rise, decay = known["rise_root"], known["decay_root"]
    assert rise == pytest.approx(np.exp(-1 / RATE / known["tau_on_s"]))
    assert known["ar2_coefs"] == pytest.approx([rise + decay, -rise * decay])
    assert results["DS99-OGB1-zf-pDp"]["error"] == "no neuron with enough isolated spikes"
    assert out.with_suffix(".png").stat().st_size > 0


def test_an_empty_folder_is_refused(tmp_path, indicator_kinetics):
    with pytest.raises(SystemExit):
        indicator_kinetics.main(["--ground-truth", str(tmp_path)])
