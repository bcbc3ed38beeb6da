"""MkDocs hook: publish files that live outside ``docs/`` without copying them into git twice.

* ``benchmarks/results/<script>/*.png`` become ``results/<name>.png`` (the benchmark pages show
  them);
* the shipped models' cards ``data/06_models/shipped/*.md`` become pages ``models/cards/<name>.md``;
* the generated results index ``benchmarks/results/README.md`` becomes ``benchmarks/index.md``.

The files are added to the build as they are in the checkout, so the site always shows the
committed results, and ``mkdocs build --strict`` fails on a link to one that does not exist.
"""

from __future__ import annotations

from pathlib import Path

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[2]
SOURCES = (
    ("benchmarks/results", "*/*.png", "results"),
    ("data/06_models/shipped", "*.md", "models/cards"),
)


def on_files(files: Files, config) -> Files:
    for folder, pattern, target in SOURCES:
        for path in sorted((ROOT / folder).glob(pattern)):
            files.append(File.generated(config, f"{target}/{path.name}", abs_src_path=str(path)))
    index = ROOT / "benchmarks" / "results" / "README.md"
    files.append(File.generated(config, "benchmarks/index.md", abs_src_path=str(index)))
    return files
