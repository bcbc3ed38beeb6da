"""Model cards: what a shipped or registered spike model is, what it was trained on, how well it
did on datasets it never saw, and where not to trust it.

:func:`card_metadata` gathers the facts (from the model's own training record and, when given,
a leave-one-dataset-out results file of ``benchmarks/spike_lodo.py``); :func:`render_markdown`
writes them for people. Both files sit beside the model file (``NAME.md``, ``NAME.card.json``)
and the metadata also goes into the registry entry.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from calcium_dynamics.models.spike_models import SpikeModel

DATABASE = {
    "name": "CASCADE ground-truth database (simultaneous electrophysiology and calcium imaging)",
    "citation": (
        "Rupprecht P, Carta S, Hoffmann A, et al. A database and deep learning toolbox for "
        "noise-optimized, generalized spike inference from calcium imaging. Nat Neurosci 24, "
        "1324–1337 (2021)"
    ),
    "licence": (
        "distributed by its authors with the CASCADE repository (GPL-3.0); cite the paper "
        "above when you publish results of a model trained on it"
    ),
}

KIND_NAMES = {
    "cascade": "CASCADE zoo (noise-matched 1-D CNN ensembles)",
    "ens2": "ENS² (1-D U-Net)",
}


def _lodo_summary(path: Path) -> dict[str, Any]:
    data = json.loads(Path(path).read_text())
    return {
        "file": Path(path).as_posix(),
        "frame_rate_hz": data.get("frame_rate_hz"),
        "sigma_ms": data.get("sigma_ms"),
        "test_noise_level_nu": data.get("test_noise_level_nu"),
        "protocol": data.get("protocol"),
        "n_neurons": data.get("n_neurons"),
        "overall": {
            m: {
                "median": round(v["median"], 3),
                "ci95": [round(x, 3) for x in v["ci95"]],
                **(
                    {"ci95_hierarchical": [round(x, 3) for x in v["ci95_hierarchical"]]}
                    if "ci95_hierarchical" in v
                    else {}
                ),
            }
            for m, v in data["overall"].items()
            if m in ("corr", "er")
        },
        "datasets": {
            ds: {"corr": round(v["corr"], 3), "er": round(v["er"], 3), "n_neurons": v["n_neurons"]}
            for ds, v in data["datasets"].items()
        },
        "settings": data.get("settings"),
    }


def _intervals_summary(path: Path, reference: Path | None) -> dict[str, Any]:
    """Coverage per level and dataset (``benchmarks/spike_intervals.py``), the lag, and the
    non-causal reference's numbers of the same protocol."""
    data = json.loads(Path(path).read_text())
    out = {
        "file": Path(path).as_posix(),
        "n_members": data["n_members"],
        "levels": {
            nu: {
                "summary": r["summary"],
                "datasets": [
                    {k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()}
                    for row in r["datasets"]
                ],
                "lag": r["lag"],
                "lodo_median_corr": r.get("lodo_median_corr"),
                "per_dataset_floor": r.get("per_dataset_floor"),
            }
            for nu, r in data["levels"].items()
        },
        "reliability_figure": Path(path).with_name(Path(path).stem + "_reliability.png").as_posix(),
    }
    if reference is not None:
        ref = json.loads(Path(reference).read_text())
        out["reference"] = {
            "file": Path(reference).as_posix(),
            "model": ref["model"],
            "levels": {
                nu: {
                    "lag": r["lag"],
                    **{k: v for k, v in r.items() if k.startswith("lag_first_")},
                }
                for nu, r in ref["levels"].items()
            },
        }
    return out


def card_metadata(
    model: SpikeModel,
    *,
    name: str,
    version: str,
    lodo: str | Path | None = None,
    lodo_baseline: str | Path | None = None,
    lodo_note: str = "",
    intervals: str | Path | None = None,
    intervals_reference: str | Path | None = None,
) -> dict[str, Any]:
    """Everything the card says, as plain data.

    Args:
        model: the trained model (its ``metadata`` from ``train_zoo``).
        name, version: registry name and version.
        lodo: a ``spike_lodo_<tag>.json`` measured at this model's frame rate and σ.
        lodo_baseline: the OASIS results file of the same setting.
        lodo_note: how the LODO run differs from this model's training, if it does.
        intervals: the ``spike_intervals_<tag>.json`` of this model's calibration runs
            (coverage of the rate intervals per dataset, lag).
        intervals_reference: for a causal model, the non-causal zoo's ``spike_intervals``
            file (Corr and lag of the same protocol, for the accuracy cost).
    """
    md = model.metadata
    spec = md.get("spec", {})
    datasets = md.get("training_datasets", [])
    levels = [float(v) for v in model.noise_levels] if model.spec.noise_specific else []
    n_members = len(next(iter(model.ensembles.values())))
    indicators = sorted({d["indicator"] for d in datasets if d.get("indicator")})
    species = sorted({d["species"] for d in datasets if d.get("species")})
    limits = [
        f"trained on {', '.join(indicators)} ({', '.join(species)}); other indicators, and "
        "kinetics unlike these, are extrapolation",
        f"{md.get('cell_class', 'excitatory')} neurons only",
        f"works at {model.frame_rate_hz:.4g} Hz: recordings at other rates are Fourier-resampled "
        "to it; more than 20 % away, train a zoo at the recording's rate (command below)",
        "rates are the expected number of spikes (smoothed with the σ kernel) per second; "
        "they are not probabilities: in bursts the expected count per frame exceeds 1",
    ]
    if levels:
        limits.append(
            f"noise levels ν {min(levels):g}–{max(levels):g} (%·Hz^-½, measured at "
            f"{model.frame_rate_hz:.4g} Hz); cells noisier than {max(levels) + 0.5:g} get the "
            "warning nu_above_range"
        )
    if model.causal:
        limits.append(
            "causal: each rate uses only frames up to its own, so it comes later than the "
            "non-causal rate (the lag below); use it for closed-loop experiments, the "
            "non-causal zoo for offline analysis"
        )
    retrain = md.get("command") or ""
    return {
        "name": name,
        "version": version,
        "kind": model.kind,
        "kind_description": KIND_NAMES.get(model.kind, model.kind),
        "cell_class": md.get("cell_class", "excitatory"),
        "frame_rate_hz": model.frame_rate_hz,
        "sigma_s": float(model.config["sigma_s"]),
        "window": model.window,
        "noise_levels": levels,
        "n_members": n_members,
        "training": {
            "datasets": datasets,
            "n_datasets": len(datasets),
            "n_neurons": int(sum(d["n_neurons"] for d in datasets)),
            "n_recordings": int(sum(d["n_recordings"] for d in datasets)),
            "data_md5": md.get("training_data_md5"),
            "settings": spec,
            "wall_time_s": md.get("wall_time_s"),
            "trained_at": md.get("trained_at"),
            "git_commit": md.get("git_commit"),
            "threads": md.get("threads"),
            "torch_version": md.get("torch_version"),
        },
        "lodo": _lodo_summary(Path(lodo)) if lodo else None,
        "lodo_baseline": _lodo_summary(Path(lodo_baseline)) if lodo_baseline else None,
        "lodo_note": lodo_note
        or (
            ""
            if lodo
            else "not measured yet at this frame rate and σ: run benchmarks/spike_lodo.py "
            f"--frame-rate {model.frame_rate_hz:.4g} --sigma-ms {1000 * model.config['sigma_s']:g}"
        ),
        "causal": model.causal,
        "intervals": _intervals_summary(
            Path(intervals), Path(intervals_reference) if intervals_reference else None
        )
        if intervals
        else None,
        "limits": limits,
        "database": DATABASE,
        "retrain_command": retrain,
    }


def _minutes(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds / 60:.1f} min"


def _fmt(v: Any) -> str:
    return "–" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))


def render_markdown(card: dict[str, Any]) -> str:
    """The card for people (Markdown)."""
    t = card["training"]
    lines = [
        f"# {card['name']} {card['version']}",
        "",
        f"{card['kind_description']} for **{card['cell_class']}** neurons at "
        f"**{card['frame_rate_hz']:.4g} Hz**, target kernel σ = {1000 * card['sigma_s']:g} ms.",
        "",
        "| | |",
        "|---|---|",
        f"| window | {card['window']} frames |",
        f"| ensemble | {card['n_members']} networks"
        + (
            f" per noise level, levels ν {', '.join(f'{v:g}' for v in card['noise_levels'])}"
            if card["noise_levels"]
            else ""
        )
        + " |",
        f"| training data | {t['n_datasets']} datasets, {t['n_neurons']} neurons, "
        f"{t['n_recordings']} recordings; MD5 `{t['data_md5']}` |",
        f"| training | {_minutes(t['wall_time_s'])} on {t['threads']} CPU thread(s), "
        f"{t['trained_at']}, commit `{(t['git_commit'] or '')[:12]}`, torch {t['torch_version']} |",
        "",
        "## Use",
        "",
        "```python",
        "from calcium_dynamics import infer_spikes",
        f"result = infer_spikes(dff, frame_rate_hz={card['frame_rate_hz']:.4g}, "
        f'model="{card["name"]}")',
        "```",
        f"or `kedro run --pipeline recordings --params spike_model=registry:{card['name']}"
        f"@{card['version']}`. Rates are in Hz at the recording's own frame times.",
        "",
        "## Training datasets",
        "",
        "| dataset | indicator | species | neurons | recordings | minutes | median ν |",
        "|---|---|---|---|---|---|---|",
    ]
    for d in t["datasets"]:
        lines.append(
            f"| {d['dataset']} | {d['indicator']} | {d['species']} | {d['n_neurons']} | "
            f"{d['n_recordings']} | {d['minutes']:.1f} | {d['noise_level_nu_median']:.2f} |"
        )
    lines += ["", "## Accuracy on datasets it never saw (leave-one-dataset-out)", ""]
    lodo, base = card.get("lodo"), card.get("lodo_baseline")
    if lodo:
        o = lodo["overall"]
        lines.append(
            f"`{lodo['file']}`: {lodo['n_neurons']} neurons at {lodo['frame_rate_hz']:g} Hz, "
            f"σ {lodo['sigma_ms']:g} ms"
            + (
                f", test traces noise-matched to ν = {lodo['test_noise_level_nu']:g}"
                if lodo.get("test_noise_level_nu")
                else ""
            )
            + f". Median Corr **{o['corr']['median']:.3f}** "
            + (
                f"[{o['corr']['ci95_hierarchical'][0]:.3f}, "
                f"{o['corr']['ci95_hierarchical'][1]:.3f}] (95 % CI, bootstrap over datasets "
                f"then neurons; over neurons only: [{o['corr']['ci95'][0]:.3f}, "
                f"{o['corr']['ci95'][1]:.3f}])"
                if "ci95_hierarchical" in o["corr"]
                else f"[{o['corr']['ci95'][0]:.3f}, {o['corr']['ci95'][1]:.3f}] (95 % bootstrap "
                "CI over neurons)"
            )
            + f", ER {o['er']['median']:.3f}"
            + (
                f"; OASIS at the same setting: Corr {base['overall']['corr']['median']:.3f}, "
                f"ER {base['overall']['er']['median']:.3f}."
                if base
                else "."
            )
        )
        if card.get("lodo_note"):
            lines += ["", card["lodo_note"]]
        lines += ["", "| held-out dataset | neurons | Corr | ER | Corr OASIS | ER OASIS |"]
        lines.append("|---|---|---|---|---|---|")
        for ds, v in lodo["datasets"].items():
            b = (base or {}).get("datasets", {}).get(ds, {})
            lines.append(
                f"| {ds} | {v['n_neurons']} | {v['corr']:.3f} | {v['er']:.3f} | "
                f"{_fmt(b.get('corr'))} | {_fmt(b.get('er'))} |"
            )
    else:
        lines.append(f"Not measured: {card['lodo_note']}.")
    if card.get("intervals"):
        lines += render_intervals(card)
    lines += ["", "## Known limits", ""]
    lines += [f"- {x}" for x in card["limits"]]
    lines += [
        "",
        "## Data licence and citation",
        "",
        f"{card['database']['name']}: {card['database']['licence']}.",
        "",
        f"> {card['database']['citation']}",
        "",
        "## Retrain",
        "",
        "```bash",
        card["retrain_command"],
        "```",
        "",
    ]
    return "\n".join(lines)


def render_intervals(card: dict[str, Any]) -> list[str]:
    """The card's sections on rate intervals (reliability) and, for causal zoos, the lag."""
    iv = card["intervals"]
    fr = card["frame_rate_hz"]
    lines = [
        "",
        "## Rate intervals (`interval=`)",
        "",
        f'`infer_spikes(dff, {fr:.4g}, model="{card["name"]}", interval=0.9)` also returns '
        "`rates_lo_hz` / `rates_hi_hz`: split-conformal bounds on the true smoothed rate, from "
        "the spread of the ensemble's members, calibrated on leave-one-dataset-out predictions "
        f"({iv['n_members']}-member ensembles trained without the dataset). Reliability, each "
        "dataset's bounds fitted on the *other* datasets only (`" + iv["file"] + "`; figure "
        "`" + iv["reliability_figure"] + "`):",
        "",
        "| test ν | nominal | coverage, mean over datasets | lowest dataset | mean width |",
        "|---|---|---|---|---|",
    ]
    for nu, lv in iv["levels"].items():
        for level, s in lv["summary"].items():
            lines.append(
                f"| {nu} | {float(level):.0%} | {s['coverage_mean_over_datasets']:.3f} | "
                f"{s['coverage_min_dataset']:.3f} ({s['dataset_min']}) | "
                f"{s['width_hz_mean_over_datasets']:.2f} Hz |"
            )
    first = next(iter(iv["levels"]))
    lines += [
        "",
        f"Per held-out dataset at test ν = {first} (coverage of the 90 % interval, its mean "
        "width):",
        "",
        "| dataset | frames | coverage 90 % | width 90 % (Hz) |",
        "|---|---|---|---|",
    ]
    for row in iv["levels"][first]["datasets"]:
        lines.append(
            f"| {row['dataset']} | {row['n_frames']} | {row['coverage_0.9']:.3f} | "
            f"{row['width_hz_0.9']:.2f} |"
        )
    floor = iv["levels"][first].get("per_dataset_floor")
    if floor:
        at = {f"{t['nominal']:g}": t for t in floor["levels"]}
        need = floor["lowest_nominal_meeting_floor"]
        worst = at["0.9"]
        lines += [
            "",
            f"The stated level holds on average over datasets, not for each: on "
            f"{worst['dataset_min']} the errors exceed what the members' spread predicts. "
            + (
                f"Keeping every dataset at ≥ {floor['floor']:g} would take the {100 * need:.0f} % "
                f"bounds: mean coverage {at[f'{need:g}']['coverage_mean_over_datasets']:.3f}, "
                f"mean width {at[f'{need:g}']['width_hz_mean_over_datasets']:.2f} Hz "
                f"(against {worst['width_hz_mean_over_datasets']:.2f} Hz at 90 %)."
                if need is not None
                else f"Even the 99 % bounds leave it below {floor['floor']:g}."
            ),
        ]
    if card.get("causal"):
        lag = iv["levels"][first]["lag"]
        ms = 1000 * lag["median_best_lag_frames"] / fr
        lines += [
            "",
            "## Causal: lag and accuracy",
            "",
            f"Windows end at the predicted frame: no future frame enters a rate "
            f"(`SpikeStream` gives the same rates frame by frame). Leave-one-dataset-out at test "
            f"ν = {first}, {lag['n_neurons']} neurons: the rate lags the (non-causal) target "
            f"by a median **{lag['median_best_lag_frames']:g} frames ({ms:.0f} ms)** (the shift "
            f"that maximises each neuron's Corr); median Corr {lag['median_corr_lag0']:.3f} "
            f"as it comes, {lag['median_corr_best_lag']:.3f} shifted by its lag.",
        ]
        ref = iv.get("reference")
        if ref and first in ref["levels"]:
            r = ref["levels"][first]
            same = r.get(f"lag_first_{iv['n_members']}_members", r["lag"])
            lines.append(
                f"The non-causal `{ref['model']}`, same protocol and ensemble size "
                f"(`{ref['file']}`): median Corr {same['median_corr_lag0']:.3f} at lag "
                f"{same['median_best_lag_frames']:g} frames — the cost of causality is "
                f"{same['median_corr_lag0'] - lag['median_corr_lag0']:.3f} Corr as it comes, "
                f"{same['median_corr_lag0'] - lag['median_corr_best_lag']:.3f} after the shift."
            )
    return lines


def write_card(card: dict[str, Any], folder: str | Path) -> tuple[Path, Path]:
    """``NAME.md`` and ``NAME.card.json`` in ``folder``."""
    folder = Path(folder)
    md = folder / f"{card['name']}.md"
    js = folder / f"{card['name']}.card.json"
    md.write_text(render_markdown(card))
    js.write_text(json.dumps(card, indent=2, default=str) + "\n")
    return md, js
