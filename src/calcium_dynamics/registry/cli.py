"""Command line of the model registry.

As a Kedro plugin (entry point ``kedro.project_commands``) it adds ``kedro registry ...`` to a
project's CLI; ``python -m calcium_dynamics.registry ...`` runs the same commands.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import yaml

from calcium_dynamics.registry import core

_PROJECT = click.option(
    "--project-path",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Project root (default: the Kedro project, else the current folder).",
)


def _root(ctx: click.Context, project_path: Path | None) -> Path:
    if project_path is not None:
        return project_path
    found = getattr(ctx.obj, "project_path", None)  # Kedro passes its ProjectMetadata
    return Path(found) if found is not None else Path.cwd()


def _fail(exc: core.RegistryError) -> None:
    raise click.ClickException(str(exc)) from exc


@click.group(name="calcium_dynamics")
def commands() -> None:
    """Project commands of calcium_dynamics (entry point ``kedro.project_commands``)."""


@commands.group(name="models")
def registry() -> None:
    """Register, list, promote and show trained models (DVC artifacts + GTO tags).

    As a Kedro command this is ``kedro models ...``: Kedro's own ``kedro registry`` lists
    pipelines and stays as it is.
    """


@registry.command("list")
@_PROJECT
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def list_cmd(ctx: click.Context, project_path: Path | None, as_json: bool) -> None:
    """List registered models with their latest version and stages."""
    try:
        rows = core.list_models(_root(ctx, project_path))
    except core.RegistryError as exc:
        _fail(exc)
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=list))
        return
    if not rows:
        click.echo("no registered models")
        return
    click.echo(f"{'name':<24} {'latest':<10} {'stages':<40} path")
    for r in rows:
        stages = ", ".join(f"{s}={v}" for s, v in r["stages"].items()) or "-"
        click.echo(f"{r['name']:<24} {r['latest']:<10} {stages:<40} {r.get('path', '')}")


def _parse_kv(values: tuple[str, ...], what: str) -> dict:
    out = {}
    for item in values:
        if "=" not in item:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint=what)
        key, value = item.split("=", 1)
        out[key] = yaml.safe_load(value)
    return out


def _load_mapping(path: Path | None, what: str) -> dict:
    if path is None:
        return {}
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict):
        raise click.BadParameter(f"{path} does not hold a mapping", param_hint=what)
    return data


@registry.command("register")
@click.argument("name")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--version", default=None, help="vMAJOR.MINOR.PATCH (default: next minor).")
@click.option("--description", "-d", default="", help="What the model is.")
@click.option("--label", "-l", "labels", multiple=True, help="Label (repeatable).")
@click.option(
    "--params-file",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="YAML/JSON file of training parameters.",
)
@click.option("--param", "params", multiple=True, help="Training parameter KEY=VALUE.")
@click.option(
    "--metrics-file",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="JSON/YAML file of evaluation metrics.",
)
@click.option("--metric", "metrics", multiple=True, help="Evaluation metric KEY=VALUE.")
@click.option("--training-data", multiple=True, help="Training data file or folder.")
@_PROJECT
@click.pass_context
def register_cmd(
    ctx,
    name,
    path,
    version,
    description,
    labels,
    params_file,
    params,
    metrics_file,
    metrics,
    training_data,
    project_path,
) -> None:
    """Register the model file PATH (under data/06_models/) as a new version of NAME."""
    all_params = {**_load_mapping(params_file, "--params-file"), **_parse_kv(params, "--param")}
    all_metrics = {
        **_load_mapping(metrics_file, "--metrics-file"),
        **_parse_kv(metrics, "--metric"),
    }
    try:
        r = core.register(
            name,
            path,
            description=description,
            labels=labels,
            params=all_params,
            metrics=all_metrics,
            training_data=list(training_data) or None,
            version=version,
            project_path=_root(ctx, project_path),
        )
    except core.RegistryError as exc:
        _fail(exc)
    click.echo(f"registered {r.name} {r.version} at {r.rev[:12]} ({r.path})")


@registry.command("promote")
@click.argument("name")
@click.argument("version")
@click.argument("stage", type=click.Choice(core.STAGES))
@_PROJECT
@click.pass_context
def promote_cmd(ctx, name, version, stage, project_path) -> None:
    """Assign STAGE (dev, staging, production) to VERSION of NAME."""
    try:
        r = core.promote(name, version, stage, _root(ctx, project_path))
    except core.RegistryError as exc:
        _fail(exc)
    click.echo(f"{r.name} {r.version} is now in {stage}")


@registry.command("show")
@click.argument("name")
@click.option("--stage", type=click.Choice(core.STAGES), default=None)
@click.option("--version", default=None)
@_PROJECT
@click.pass_context
def show_cmd(ctx, name, stage, version, project_path) -> None:
    """Show a model's versions, or one version's revision, path and metadata."""
    root = _root(ctx, project_path)
    try:
        if stage is None and version is None:
            for v in core.versions(name, root):
                stages = ", ".join(v["stages"]) or "-"
                click.echo(f"{v['version']:<10} {v['rev'][:12]}  {stages}")
            return
        r = core.resolve(name, stage=stage, version=version, project_path=root)
    except core.RegistryError as exc:
        _fail(exc)
    click.echo(
        yaml.safe_dump(
            {
                "name": r.name,
                "version": r.version,
                "stage": r.stage,
                "rev": r.rev,
                "path": r.path,
                "description": r.description,
                "labels": list(r.labels),
                "meta": r.meta,
            },
            sort_keys=False,
        )
    )


@registry.command("get")
@click.argument("name")
@click.option("--stage", type=click.Choice(core.STAGES), default=None)
@click.option("--version", default=None)
@click.option(
    "--out",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Where to write the model file.",
)
@_PROJECT
@click.pass_context
def get_cmd(ctx, name, stage, version, out, project_path) -> None:
    """Write a registered model's file (checksum-verified) to OUT."""
    root = _root(ctx, project_path)
    try:
        r = core.resolve(name, stage=stage, version=version, project_path=root)
        data = core.read_bytes(r, root)
    except core.RegistryError as exc:
        _fail(exc)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    click.echo(f"wrote {r.name} {r.version} to {out}")
