"""ENS² inference: speed against held-out accuracy, one point per setting, from results files.

    python benchmarks/speed_figure.py

Reads the same-run speed ratios of ``spike_speed/spike_speed.json`` (samples per second against
ENS² at stride 1 in float32, one thread) and the paired held-out Corr changes of the
leave-one-dataset-out runs: window strides (``spike_lodo_ens2_60hz_m2.json``, key ``strides``)
bfloat16 arithmetic (``spike_lodo_ens2_60hz_m1_bf16_inference.json``, key ``precisions``) and
both at once (``spike_lodo_ens2_60hz_m1_stride16_bf16.json``, key ``strides_and_precisions``).
Writes ``benchmarks/results/speed_figure/ens2_speed_accuracy.png`` and, beside it, a ``.json``
with the plotted numbers, their sources and the provenance of this command. Runs no model.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from calcium_dynamics.provenance import command_line, run_record

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SPEED = RESULTS / "spike_speed" / "spike_speed.json"
STRIDES = RESULTS / "spike_lodo" / "spike_lodo_ens2_60hz_m2.json"
PRECISIONS = RESULTS / "spike_lodo" / "spike_lodo_ens2_60hz_m1_bf16_inference.json"
COMBINED = RESULTS / "spike_lodo" / "spike_lodo_ens2_60hz_m1_stride16_bf16.json"
OUT = RESULTS / "speed_figure" / "ens2_speed_accuracy.png"


def speed_accuracy_points(
    speed: dict, strides: dict, precisions: dict | None, combined: dict | None = None
) -> list[dict]:
    """One point per ENS² inference setting: the speed ratio to stride 1 in float32 and the
    median paired change in held-out Corr against it, with its 95 % interval (datasets, then
    neurons)."""
    ratios = speed["ratio_to_ens2_stride1_fp32"]
    points = [{"setting": "stride 1, fp32", "speed": 1.0, "change": 0.0, "ci95": [0.0, 0.0]}]
    for stride, res in sorted(strides["strides"].items(), key=lambda kv: int(kv[0])):
        points.append(
            {
                "setting": f"stride {stride}, fp32",
                "speed": ratios[f"ens2_fp32_stride{stride}"],
                "change": res["change_vs_stride1_median"],
                "ci95": res["change_vs_stride1_ci95_hierarchical"],
            }
        )
    if precisions is not None:
        res = precisions["precisions"]["bf16"]
        points.append(
            {
                "setting": "stride 1, bf16",
                "speed": ratios["ens2_bf16_stride1"],
                "change": res["change_vs_fp32_median"],
                "ci95": res["change_vs_fp32_ci95_hierarchical"],
            }
        )
    for label, res in (combined or {}).get("strides_and_precisions", {}).items():
        stride, precision = label.removeprefix("stride").split("_")
        points.append(
            {
                "setting": f"stride {stride}, {precision}",
                "speed": ratios[f"ens2_{precision}_stride{stride}"],
                "change": res["change_vs_stride1_fp32_median"],
                "ci95": res["change_vs_stride1_fp32_ci95_hierarchical"],
            }
        )
    return points


def draw(points: list[dict], out: Path) -> None:
    fig, ax = plt.subplots(figsize=(6.0, 3.6))
    for p in points:
        lo, hi = p["ci95"]
        bf16 = "bf16" in p["setting"]
        ax.errorbar(
            p["speed"],
            p["change"],
            yerr=[[p["change"] - lo], [hi - p["change"]]],
            fmt="s" if bf16 else "o",
            color="tab:orange" if bf16 else "tab:blue",
            capsize=3,
        )
        ax.annotate(p["setting"], (p["speed"], p["change"]), textcoords="offset points",
                    xytext=(6, -14) if bf16 else (6, 6), fontsize=8)  # fmt: skip
    ax.axhline(0.0, color="0.6", lw=0.8)
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}×"))
    ax.margins(x=0.15, y=0.2)
    ax.set(
        xlabel="speed, × ENS² at stride 1 in float32 (one thread)",
        ylabel="held-out Corr change\n(median, 95 % interval)",
        title="ENS² inference: speed against accuracy",
    )
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    sources = [SPEED, STRIDES] + [path for path in (PRECISIONS, COMBINED) if path.exists()]
    loaded = {path: json.loads(path.read_text()) for path in sources}
    points = speed_accuracy_points(
        loaded[SPEED], loaded[STRIDES], loaded.get(PRECISIONS), loaded.get(COMBINED)
    )
    draw(points, args.out)
    record = {
        "points": points,
        "sources": [str(path.relative_to(ROOT)) for path in sources],
        "provenance": run_record(
            command_line(__file__, sys.argv[1:] if argv is None else argv), cwd=ROOT
        ),
    }
    args.out.with_suffix(".json").write_text(json.dumps(record, indent=2))
    for pt in points:
        print(f"{pt['setting']}: {pt['speed']:.2f}×, Corr change {pt['change']:+.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
