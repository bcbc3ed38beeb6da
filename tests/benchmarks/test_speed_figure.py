"""The ENS² speed-against-accuracy figure: its points are the results files' numbers."""

import json

import pytest


def test_points_are_the_speed_and_lodo_results(speed_figure):
    speed = json.loads(speed_figure.SPEED.read_text())
    strides = json.loads(speed_figure.STRIDES.read_text())
    change = {"change_vs_fp32_median": -0.002, "change_vs_fp32_ci95_hierarchical": [-0.003, -0.001]}
    bf16 = {"precisions": {"bf16": change}}
    points = {p["setting"]: p for p in speed_figure.speed_accuracy_points(speed, strides, bf16)}
    assert points["stride 1, fp32"] == {
        "setting": "stride 1, fp32", "speed": 1.0, "change": 0.0, "ci95": [0.0, 0.0]
    }  # fmt: skip
    for stride in (4, 8, 16):
        p = points[f"stride {stride}, fp32"]
        assert p["speed"] == speed["ratio_to_ens2_stride1_fp32"][f"ens2_fp32_stride{stride}"]
        ref = strides["strides"][str(stride)]
        assert p["change"] == ref["change_vs_stride1_median"]
        assert p["ci95"] == ref["change_vs_stride1_ci95_hierarchical"]
    assert points["stride 1, bf16"]["speed"] == pytest.approx(1.498)
    assert points["stride 1, bf16"]["ci95"] == [-0.003, -0.001]
    assert list(points)[1:4] == ["stride 4, fp32", "stride 8, fp32", "stride 16, fp32"]
    pair = {
        "change_vs_stride1_fp32_median": -0.004,
        "change_vs_stride1_fp32_ci95_hierarchical": [-0.005, -0.003],
    }
    both = {"strides_and_precisions": {"stride16_bf16": pair}}
    last = speed_figure.speed_accuracy_points(speed, strides, bf16, both)[-1]
    assert last["setting"] == "stride 16, bf16" and last["ci95"] == [-0.005, -0.003]
    assert last["speed"] == speed["ratio_to_ens2_stride1_fp32"]["ens2_bf16_stride16"]


def test_writes_the_figure_and_its_numbers(speed_figure, tmp_path):
    out = tmp_path / "figure.png"
    assert speed_figure.main(["--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["provenance"]["command"].endswith(f"--out {out}")
    assert len(record["points"]) == 2 + len(record["sources"])  # one point per extra source
