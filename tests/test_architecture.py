"""The layout's rules: no pipeline package imports another (pipelines are composed in
``pipeline_registry.py`` only), and library code never imports a pipeline."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "calcium_dynamics"


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names}
    return names


def test_no_pipeline_package_imports_another():
    pipelines = PACKAGE / "pipelines"
    offences = []
    for path in pipelines.rglob("*.py"):
        own = path.relative_to(pipelines).parts[0]
        for name in _imports(path):
            parts = name.split(".")
            if (
                parts[:2] == ["calcium_dynamics", "pipelines"]
                and len(parts) > 2
                and parts[2] != own
            ):
                offences.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert offences == []


def test_the_library_does_not_import_pipelines():
    allowed = {"pipeline_registry.py", "settings.py", "__main__.py"}
    offences = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] == "pipelines" or rel.as_posix() in allowed:
            continue
        offences += [
            f"{rel} imports {n}"
            for n in _imports(path)
            if n.startswith("calcium_dynamics.pipelines")
        ]
    assert offences == []


def test_benchmarks_and_notebooks_import_library_code_only():
    root = PACKAGE.parents[1]
    offences = [
        f"{path.name} imports {n}"
        for path in (root / "benchmarks").glob("*.py")
        for n in _imports(path)
        if n.startswith("calcium_dynamics.pipelines")
    ]
    offences += [
        f"{path.name} imports calcium_dynamics.pipelines"
        for path in (root / "notebooks").glob("*.ipynb")
        if "calcium_dynamics.pipelines" in path.read_text()
    ]
    assert offences == []


def test_no_code_switches_on_a_spike_model_kind_name():
    """ENS² / CASCADE differences live in their ``SpikeKind`` classes (models/spike_kinds.py)."""
    import re

    pattern = re.compile(r"kind\s*[!=]=\s*['\"](ens2|cascade)['\"]")
    offences = [
        f"{path.relative_to(PACKAGE)}:{i}"
        for path in PACKAGE.rglob("*.py")
        for i, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert offences == []


#: longest body (lines, docstring excluded) of a public node function: nodes are wiring
MAX_NODE_LINES = 30


def test_nodes_are_thin():
    long = []
    for path in (PACKAGE / "pipelines").rglob("*nodes*.py"):
        for fn in ast.parse(path.read_text()).body:
            if not isinstance(fn, ast.FunctionDef) or fn.name.startswith("_"):
                continue
            body = fn.body
            if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                body = body[1:] or body
            lines = fn.end_lineno - body[0].lineno + 1
            if lines > MAX_NODE_LINES:
                long.append(f"{path.relative_to(PACKAGE)}: {fn.name} ({lines} lines)")
    assert long == []
