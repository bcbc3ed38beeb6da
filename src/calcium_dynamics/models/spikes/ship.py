"""Ship a trained zoo with the project: model card, checksum, committed index, DVC artifact.

    python -m calcium_dynamics.models.spikes.ship cascade-30hz-excitatory --version v1.0.0 \\
        [--lodo benchmarks/results/spike_lodo/spike_lodo_TAG.json --lodo-baseline ...OASIS.json]

reads ``data/06_models/shipped/NAME.pt`` (written by ``zoo_training``), writes ``NAME.md`` and
``NAME.card.json`` beside it, records version, stage ``production``, SHA-256 and card in
``data/06_models/shipped/index.yaml`` and the artifact entry (``type: model``) in ``dvc.yaml``.
The registry then resolves ``NAME#production`` on any clone, tags or not.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from calcium_dynamics.models.spike_models import SpikeModel
from calcium_dynamics.models.spikes.model_card import card_metadata, write_card
from calcium_dynamics.registry import shipped


def ship(
    name: str,
    *,
    version: str = "v1.0.0",
    stages: tuple[str, ...] = ("production",),
    lodo: str | Path | None = None,
    lodo_baseline: str | Path | None = None,
    lodo_note: str = "",
    intervals: str | Path | None = None,
    intervals_reference: str | Path | None = None,
    root: str | Path = ".",
) -> dict:
    """Card, index entry and DVC artifact entry for ``data/06_models/shipped/NAME.pt``."""
    from calcium_dynamics.registry.core import _write_artifact

    root = Path(root)
    rel = f"{shipped.SHIPPED_DIR}/{name}.pt"
    model = SpikeModel.load(root / rel)
    card = card_metadata(
        model,
        name=name,
        version=version,
        lodo=lodo,
        lodo_baseline=lodo_baseline,
        lodo_note=lodo_note,
        intervals=intervals,
        intervals_reference=intervals_reference,
    )
    md, _ = write_card(card, root / shipped.SHIPPED_DIR)
    summary = {
        "kind": card["kind"],
        "cell_class": card["cell_class"],
        "frame_rate_hz": card["frame_rate_hz"],
        "sigma_s": card["sigma_s"],
        "noise_levels": card["noise_levels"],
        "n_members": card["n_members"],
        "training_data_md5": card["training"]["data_md5"],
        "lodo_median_corr": (card["lodo"] or {}).get("overall", {}).get("corr", {}).get("median"),
    }
    if card["causal"]:
        summary["causal"] = True
    description = (
        f"{card['kind_description']}, {card['cell_class']}, {card['frame_rate_hz']:.4g} Hz, "
        f"σ {1000 * card['sigma_s']:g} ms"
    )
    entry = {
        "version": version,
        "stages": list(stages),
        "path": rel,
        "sha256": shipped.sha256_of(root / rel),
        "card": md.relative_to(root).as_posix(),
        "description": description,
        "labels": ["spike-model", card["kind"], card["cell_class"]],
        "meta": summary,
    }
    calibration = root / shipped.SHIPPED_DIR / f"{name}.calibration.json"
    if calibration.is_file():  # written by benchmarks/spike_intervals.py --write-calibration
        entry["calibration"] = calibration.relative_to(root).as_posix()
        entry["calibration_sha256"] = shipped.sha256_of(calibration)
    index = shipped.read_index(root)
    index[name] = entry
    shipped.write_index(root, index)
    _write_artifact(
        root.resolve(),
        name,
        {
            "path": rel,
            "type": "model",
            "desc": description,
            "labels": entry["labels"],
            "meta": {"sha256": entry["sha256"], "version": version, **summary},
        },
    )
    return entry


def shipped_table(root: str | Path = ".", card_link: str | None = None) -> str:
    """A Markdown table of the shipped models, from their cards (for the README / docs).

    ``card_link`` formats each card's link from ``{name}`` (default: the card's path in the
    repository, as the index records it; the docs site uses ``"cards/{name}.md"``).
    """
    import json

    root = Path(root)
    lines = [
        "| model | version | cell class | frame rate | σ | noise levels ν | members | training "
        "neurons (datasets) | LODO median Corr [95 % CI, datasets then neurons] | OASIS, same "
        "setting | card |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, entry in shipped.read_index(root).items():
        card = json.loads((root / shipped.SHIPPED_DIR / f"{name}.card.json").read_text())
        t, lodo, base = card["training"], card.get("lodo"), card.get("lodo_baseline")
        levels = card["noise_levels"]
        corr = "not measured yet"
        if lodo:
            c = lodo["overall"]["corr"]
            lo, hi = c.get("ci95_hierarchical", c["ci95"])
            corr = f"{c['median']:.3f} [{lo:.3f}, {hi:.3f}]"
        lines.append(
            f"| `{name}` | {entry['version']} | {card['cell_class']} | "
            f"{card['frame_rate_hz']:.4g} Hz | {1000 * card['sigma_s']:g} ms | "
            + (f"{min(levels):g}–{max(levels):g} ({len(levels)})" if levels else "–")
            + f" | {card['n_members']} | {t['n_neurons']} ({t['n_datasets']}) | {corr} | "
            + (f"{base['overall']['corr']['median']:.3f}" if base else "–")
            + f" | [{name}.md]({card_link.format(name=name) if card_link else entry['card']}) |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("name", nargs="?", help="the model to ship (omit with --table)")
    p.add_argument("--table", action="store_true", help="print the shipped models' table")
    p.add_argument(
        "--card-link", default=None, help="with --table: card link format, e.g. cards/{name}.md"
    )
    p.add_argument("--version", default="v1.0.0")
    p.add_argument("--lodo", type=Path, default=None)
    p.add_argument("--lodo-baseline", type=Path, default=None)
    p.add_argument("--lodo-note", default="")
    p.add_argument(
        "--intervals", type=Path, default=None, help="spike_intervals_TAG.json of this model"
    )
    p.add_argument(
        "--intervals-reference",
        type=Path,
        default=None,
        help="causal models: the non-causal zoo's spike_intervals file (accuracy cost)",
    )
    args = p.parse_args(argv)
    if args.table:
        print(shipped_table(card_link=args.card_link))
        return 0
    if not args.name:
        p.error("give a model name, or --table")
    entry = ship(
        args.name,
        version=args.version,
        lodo=args.lodo,
        lodo_baseline=args.lodo_baseline,
        lodo_note=args.lodo_note,
        intervals=args.intervals,
        intervals_reference=args.intervals_reference,
    )
    print(f"{args.name} {entry['version']} ({', '.join(entry['stages'])}): {entry['card']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
