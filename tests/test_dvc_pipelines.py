"""`dvc.yaml` against the Kedro pipelines: every stage runs a slice of one Kedro pipeline, its
declared outputs are exactly the files that slice writes, its dependencies cover what it reads
(data files, node source code, parameters), and `dvc dag` has an edge wherever one slice reads
what another writes — no more, no fewer.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from calcium_dynamics.pipeline_registry import PIPELINE_NAMES as PIPELINES

TRAINING_LOGS = "data/08_reporting/training_logs"
# wall-clock timings: written on every run, tracked by no stage, read by no node
TIMINGS = "data/09_timings/"
DVC = str(Path(sys.executable).with_name("dvc"))


def _declared(stage: dict[str, Any], keys=("outs", "metrics", "plots")) -> set[str]:
    paths = set()
    for key in keys:
        for item in stage.get(key) or []:
            paths.add(next(iter(item)) if isinstance(item, dict) else str(item))
    return paths


def _covered(path: str, deps: set[str]) -> bool:
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in deps)


def _parse_cmd(cmd: str) -> dict[str, Any]:
    """The ``kedro run`` options of a stage command (``--pipeline`` or ``--pipelines``)."""
    args = shlex.split(cmd)
    assert args[:2] == ["kedro", "run"], f"not a `kedro run` command: {cmd}"
    opts: dict[str, Any] = {"tags": [], "from_nodes": [], "to_nodes": []}
    it = iter(args[2:])
    for arg in it:
        key, _, value = arg.partition("=")
        if not value and key.startswith("--"):
            value = next(it)
        if key in ("--pipeline", "--pipelines", "-p"):
            opts["pipeline"] = value
        elif key in ("--tags", "-t"):
            opts["tags"] += value.split(",")
        elif key == "--from-nodes":
            opts["from_nodes"] += value.split(",")
        elif key == "--to-nodes":
            opts["to_nodes"] += value.split(",")
        else:
            raise AssertionError(f"option {key} of `{cmd}` is not understood by this test")
    return opts


@pytest.fixture(scope="module")
def kedro_project(project_root: Path):
    """Pipelines, catalog configuration and parameters of the project (no run)."""
    import os

    from kedro.framework.project import pipelines
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
    bootstrap_project(project_root)
    with KedroSession.create(project_path=project_root) as session:
        context = session.load_context()
        catalog = context.config_loader["catalog"]
    return dict(pipelines), catalog


@pytest.fixture(scope="module")
def stages(project_root: Path, kedro_project) -> dict[str, dict[str, Any]]:
    """Each ``kedro run`` stage of ``dvc.yaml`` with the Kedro slice it runs."""
    pipes, _ = kedro_project
    text = (project_root / "dvc.yaml").read_text()
    for entry in yaml.safe_load(text).get("vars") or []:  # DVC's templating: ${name}
        file, _, names = entry.partition(":")
        values = yaml.safe_load((project_root / file).read_text())
        for name in names.split(","):
            text = text.replace(f"${{{name}}}", str(values[name]))
    dvc_yaml = yaml.safe_load(text)
    out = {}
    for name, stage in dvc_yaml["stages"].items():
        cmd = " ".join(stage["cmd"].split())
        if not cmd.startswith("kedro run"):
            continue
        opts = _parse_cmd(cmd)
        assert opts.get("pipeline") in PIPELINES, f"stage {name}: unknown pipeline in `{cmd}`"
        part = pipes[opts["pipeline"]]
        if opts["tags"]:
            part = part.only_nodes_with_tags(*opts["tags"])
        if opts["from_nodes"]:
            part = part.from_nodes(*opts["from_nodes"])
        if opts["to_nodes"]:
            part = part.to_nodes(*opts["to_nodes"])
        assert part.nodes, f"stage {name}: `{cmd}` selects no node"
        out[name] = {"stage": stage, "pipeline": opts["pipeline"], "part": part}
    return out


def _filepath(catalog: dict[str, Any], resolver, dataset: str) -> str | None:
    entry = catalog.get(dataset)
    if entry is None:  # a dataset factory's name, or a memory dataset between nodes
        entry = resolver.resolve_pattern(dataset)
    path = entry.get("filepath") or entry.get("path")
    return str(path) if path is not None else None


def _files(catalog, datasets) -> set[str]:
    """Files of ``datasets``, dataset factories (``"{variant}_model"`` …) resolved by Kedro."""
    from kedro.io.catalog_config_resolver import CatalogConfigResolver

    memory = {"{default}": {"type": "kedro.io.MemoryDataset"}}
    resolver = CatalogConfigResolver(catalog, default_runtime_patterns=memory)
    paths = {_filepath(catalog, resolver, d) for d in datasets if not d.startswith("params:")}
    paths.discard(None)
    return paths


def test_one_stage_per_pipeline_and_every_node_runs_once(stages, kedro_project) -> None:
    pipes, _ = kedro_project
    for pipeline in PIPELINES:
        names = [n for n, s in stages.items() if s["pipeline"] == pipeline]
        assert names, f"no dvc.yaml stage runs the Kedro pipeline {pipeline}"
        for name in names:
            assert name == pipeline or name.startswith(f"{pipeline}_"), (
                f"stage {name} runs pipeline {pipeline}: name it {pipeline} or {pipeline}_..."
            )
    ran: dict[str, str] = {}
    for name, s in stages.items():
        for node in s["part"].nodes:
            assert node.name not in ran, f"node {node.name} runs in stages {ran[node.name]}, {name}"
            ran[node.name] = name
    every = {n.name for p in PIPELINES for n in pipes[p].nodes}
    assert every - set(ran) == set(), "Kedro nodes no dvc.yaml stage runs"


def test_stage_outputs_are_what_kedro_writes(stages, kedro_project) -> None:
    _, catalog = kedro_project
    for name, s in stages.items():
        written = {p for p in _files(catalog, s["part"].all_outputs()) if not p.startswith(TIMINGS)}
        declared = {p for p in _declared(s["stage"]) if not p.startswith(TRAINING_LOGS)}
        assert declared - written == set(), f"stage {name} declares files Kedro does not write"
        assert written - declared == set(), f"stage {name} writes files it does not declare"


def test_stage_dependencies_cover_inputs_code_and_params(
    stages, kedro_project, project_root: Path
) -> None:
    _, catalog = kedro_project
    produced_by = {p: n for n, s in stages.items() for p in _declared(s["stage"])}
    for name, s in stages.items():
        stage, part = s["stage"], s["part"]
        deps = {str(d) for d in stage.get("deps") or []}
        for path in _files(catalog, part.inputs()):
            assert _covered(path, deps), f"stage {name} reads {path} but does not depend on it"
            assert path.startswith("data/01_raw") or path in produced_by, (
                f"stage {name} reads {path}, which no stage writes"
            )
        data_deps = {d for d in deps if d.startswith("data/")}
        read = _files(catalog, part.inputs())
        for dep in data_deps:
            assert any(_covered(p, {dep}) for p in read), (
                f"stage {name} depends on {dep}, which its Kedro nodes do not read"
            )
        for node in part.nodes:
            module = sys.modules[node.func.__module__].__file__
            rel = Path(module).resolve().relative_to(project_root.resolve()).as_posix()
            assert _covered(rel, deps), f"stage {name}: node {node.name} code {rel} not a dep"
        listed = {
            key: file
            for entry in stage.get("params") or []
            for file, keys in (entry.items() if isinstance(entry, dict) else [])
            for key in keys
        }
        for dataset in part.inputs():
            if not dataset.startswith("params:"):
                continue
            top = re.split(r"[.]", dataset.removeprefix("params:"))[0]
            assert top in listed, f"stage {name} uses parameters {top!r} but does not list them"
            defined = yaml.safe_load((project_root / listed[top]).read_text())
            assert top in defined, f"{listed[top]} has no top-level key {top!r}"


def test_dvc_dag_matches_kedro_data_flow(stages, kedro_project, project_root: Path) -> None:
    _, catalog = kedro_project
    written = {n: _files(catalog, s["part"].all_outputs()) for n, s in stages.items()}
    expected = set()
    for name, s in stages.items():
        for path in _files(catalog, s["part"].inputs()):
            expected |= {(src, name) for src, files in written.items() if path in files}
    proc = subprocess.run(
        [DVC, "dag", "--dot"], cwd=project_root, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    edges = set(re.findall(r'"([\w.-]+)"\s*->\s*"([\w.-]+)"', proc.stdout))
    kedro_edges = {e for e in edges if e[0] in stages and e[1] in stages}
    assert kedro_edges == expected


def test_top_level_plots_lie_in_stage_outputs(project_root: Path) -> None:
    """The training-curve plots point into folders a stage declares (so DVC caches and shares
    them), and each such folder is what the stage's trainer parameters log into."""
    dvc_yaml = yaml.safe_load((project_root / "dvc.yaml").read_text())
    outs = {p for s in dvc_yaml["stages"].values() for p in _declared(s)}
    logs = {p for p in outs if p.startswith(TRAINING_LOGS)}
    assert logs, "no stage declares a training-log folder"
    for plot in dvc_yaml.get("plots") or []:
        name, spec = next(iter(plot.items())) if isinstance(plot, dict) else (plot, {})
        paths = list((spec or {}).get("y", {})) if isinstance((spec or {}).get("y"), dict) else []
        for path in paths or [name]:
            assert _covered(path, logs), f"plot {path} is not inside a stage's training-log output"
    params = yaml.safe_load((project_root / "conf/base/parameters_spike_inference.yml").read_text())
    for model in ("ens2", "cascade"):
        folder = params["spike_inference"][model]["trainer"]["logger"]
        assert _covered(folder, logs), f"{model} logs into {folder}, which no stage declares"


def test_no_node_reads_a_timing(kedro_project) -> None:
    """Wall-clock timings are written for people, never read by a node (so no stage's output
    depends on them, and two runs on the same inputs write the same bytes)."""
    pipes, catalog = kedro_project
    timing_names = ("_timings", "_fit_times")
    for name, pipe in pipes.items():
        read = {d for d in pipe.all_inputs() if d.endswith(timing_names)}
        assert read == set(), f"pipeline {name} reads timings {sorted(read)}"
    assert {"hmm_fit_times", "gpfa_fit_times", "nmf_{network}_timings"} <= set(catalog)
    for key in ("hmm_fit_times", "gpfa_fit_times", "nmf_{network}_timings"):
        assert catalog[key]["filepath"].startswith(TIMINGS)
