"""A model registry on DVC artifacts and GTO git tags.

A registered model is an entry in the ``artifacts:`` section of the project's ``dvc.yaml``
(``type: model``, a path under ``data/06_models/``, a description, labels and metadata: the
training parameters, the DVC hash of the training data, evaluation metrics and the file's
SHA-256). The model file itself is tracked by DVC (``dvc add`` or a stage output), never by git.
Registering commits ``dvc.yaml`` and the DVC pointer files and tags that commit
``NAME@vX.Y.Z`` with GTO; promoting tags it ``NAME#STAGE#N``.

Resolving a name (by stage or version) gives the git revision and the path; loading reads the
file at that revision through DVC (local cache, or the DVC remote on a fresh clone), checks its
SHA-256 against the registered one and unpickles it with ``weights_only=True``: a model file
cannot run code.
"""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from gto.exceptions import ArtifactNotFound

from calcium_dynamics.registry import shipped

STAGES = ("dev", "staging", "production")
MODEL_DIR = "data/06_models"


class RegistryError(RuntimeError):
    """A registry operation that cannot be carried out; the message says why."""


class ChecksumError(RegistryError):
    """A model file whose content differs from what was registered."""


@dataclass(frozen=True)
class ResolvedModel:
    """Where a registered model version lives.

    Attributes:
        name: artifact name in ``dvc.yaml``.
        version: semantic version tag, e.g. ``"v1.0.0"``.
        rev: full git commit hash the version was registered at.
        path: model file path relative to the project root.
        stage: the stage it was resolved by (``None`` when resolved by version or latest).
        description, labels, meta: the ``dvc.yaml`` artifact entry at ``rev``.
        shipped: a model that ships in the repository, resolved from the committed index
            (``rev`` is then ``"shipped"``: the file as committed in this checkout).
    """

    name: str
    version: str
    rev: str
    path: str
    stage: str | None = None
    description: str = ""
    labels: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)
    shipped: bool = False

    @property
    def sha256(self) -> str | None:
        return self.meta.get("sha256")


# --------------------------------------------------------------------------- helpers


def _root(project_path: str | Path) -> Path:
    root = Path(project_path).resolve()
    if not (root / ".dvc").is_dir():
        raise RegistryError(f"{root}: not a DVC project (no .dvc folder; run `dvc init`)")
    return root


def _run(args: list[str], cwd: Path) -> str:
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RegistryError(
            f"`{' '.join(args)}` failed in {cwd} (exit {proc.returncode}): "
            f"{(proc.stderr or proc.stdout).strip()}"
        )
    return proc.stdout


def _dvc(cwd: Path, *args: str) -> str:
    """Run the DVC command line of the same environment as this package."""
    exe = Path(sys.executable).with_name("dvc")
    cmd = str(exe) if exe.exists() else shutil.which("dvc")
    if cmd is None:
        raise RegistryError("the `dvc` command is not installed")
    return _run([cmd, *args], cwd)


def file_digest(path: str | Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file's bytes (``sha256`` or ``md5``)."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _relative(root: Path, path: str | Path) -> str:
    p = Path(path)
    p = (root / p).resolve() if not p.is_absolute() else p.resolve()
    try:
        return p.relative_to(root).as_posix()
    except ValueError as exc:
        raise RegistryError(f"{path}: outside the project {root}") from exc


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    return yaml.safe_load(path.read_text()) or {}


def _stage_outs(dvc_yaml: Mapping[str, Any]) -> set[str]:
    outs: set[str] = set()
    for stage in (dvc_yaml.get("stages") or {}).values():
        for key in ("outs", "metrics", "plots"):
            for out in stage.get(key) or []:
                outs.add(next(iter(out)) if isinstance(out, dict) else str(out))
    return outs


def _recorded_md5(root: Path, relpath: str) -> str | None:
    """The MD5 DVC recorded for ``relpath`` (``dvc.lock`` or ``relpath.dvc``), if any."""
    pointer = root / f"{relpath}.dvc"
    for out in _read_yaml(pointer).get("outs") or []:
        if out.get("path") == Path(relpath).name:
            return out.get("md5")
    for stage in (_read_yaml(root / "dvc.lock").get("stages") or {}).values():
        for key in ("outs", "deps"):
            for out in stage.get(key) or []:
                if out.get("path") == relpath:
                    return out.get("md5")
    return None


def data_version(project_path: str | Path, path: str | Path) -> dict[str, str]:
    """The version of a training-data file or folder: the hash DVC recorded for it, or (when
    DVC does not track it) an MD5 computed here, marked ``source: computed``."""
    root = Path(project_path).resolve()
    rel = _relative(root, path)
    md5 = _recorded_md5(root, rel)
    if md5 is not None:
        return {"path": rel, "md5": md5, "source": "dvc"}
    target = root / rel
    if target.is_file():
        return {"path": rel, "md5": file_digest(target, "md5"), "source": "computed"}
    if target.is_dir():
        h = hashlib.md5()
        for f in sorted(p for p in target.rglob("*") if p.is_file()):
            h.update(f"{f.relative_to(target).as_posix()}\0{file_digest(f, 'md5')}\n".encode())
        return {"path": rel, "md5": h.hexdigest() + ".dir", "source": "computed"}
    raise RegistryError(f"training data {target} does not exist")


def _plain(value: Any) -> Any:
    """Metadata as YAML-safe plain types (numpy scalars become Python numbers)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _write_artifact(root: Path, name: str, entry: dict[str, Any]) -> None:
    """Insert or replace ``artifacts.NAME`` in ``dvc.yaml``, keeping comments and order."""
    from ruamel.yaml import YAML

    ry = YAML()
    ry.preserve_quotes = True
    ry.width = 100
    ry.indent(mapping=2, sequence=4, offset=2)  # the project's dvc.yaml layout
    path = root / "dvc.yaml"
    data = ry.load(path.read_text()) if path.is_file() else None
    if data is None:
        from ruamel.yaml.comments import CommentedMap

        data = CommentedMap()
    artifacts = data.get("artifacts")
    if artifacts is None:
        data["artifacts"] = artifacts = {}
    artifacts[name] = entry
    with open(path, "w") as fh:
        ry.dump(data, fh)


def _artifact_at(root: Path, rev: str, name: str) -> dict[str, Any]:
    try:
        text = _run(["git", "show", f"{rev}:dvc.yaml"], root)
    except RegistryError as exc:
        raise RegistryError(f"revision {rev[:12]} of {root} has no dvc.yaml") from exc
    entry = ((yaml.safe_load(text) or {}).get("artifacts") or {}).get(name)
    if entry is None:
        raise RegistryError(f"dvc.yaml at revision {rev[:12]} has no artifact {name!r}")
    return entry


def _check_name(name: str) -> None:
    if not re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?", name):
        raise RegistryError(
            f"model name {name!r} is not valid: use lower-case letters, digits and dashes"
        )


# --------------------------------------------------------------------------- public API


def register(
    name: str,
    path: str | Path,
    *,
    description: str = "",
    labels: Iterable[str] = (),
    params: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
    training_data: str | Path | Iterable[str | Path] | None = None,
    version: str | None = None,
    project_path: str | Path = ".",
) -> ResolvedModel:
    """Register the model file at ``path`` as a new version of ``name``.

    The file must lie under ``data/06_models/``. A file that no DVC stage produces is tracked
    with ``dvc add``; a stage output must match what ``dvc.lock`` records (run ``dvc repro`` or
    ``dvc commit`` first). The artifact entry (description, labels, metadata: ``params``,
    ``metrics``, training-data hashes, the file's SHA-256 and MD5) is written into ``dvc.yaml``,
    committed together with the DVC pointer files, and the commit is tagged with GTO.

    Args:
        name: artifact name (lower case, digits, dashes), e.g. ``"ens2-60hz"``.
        path: model file, absolute or relative to ``project_path``.
        version: ``"vMAJOR.MINOR.PATCH"``; by default the next minor version (first: v0.1.0).
        training_data: file(s) or folder(s) whose DVC hash is recorded as the data version.

    Returns:
        The registered version, resolved.
    """
    import gto.api

    _check_name(name)
    root = _root(project_path)
    rel = _relative(root, path)
    if not (root / rel).is_file():
        raise RegistryError(f"model file {root / rel} does not exist")
    if not rel.startswith(MODEL_DIR + "/"):
        raise RegistryError(f"model file {rel} must lie under {MODEL_DIR}/")
    check_loadable(root / rel)

    to_commit = ["dvc.yaml"]
    if rel in _stage_outs(_read_yaml(root / "dvc.yaml")):
        recorded = _recorded_md5(root, rel)
        actual = file_digest(root / rel, "md5")
        if recorded != actual:
            raise RegistryError(
                f"{rel} is a DVC stage output whose content differs from dvc.lock "
                f"(recorded {recorded}, file {actual}); run `dvc repro` or `dvc commit` first"
            )
        to_commit.append("dvc.lock")
    else:
        _dvc(root, "add", "--quiet", rel)
        to_commit.append(f"{rel}.dvc")
    gitignore = Path(rel).parent / ".gitignore"  # DVC's ignore entry for the model file
    if (root / gitignore).is_file():
        to_commit.append(gitignore.as_posix())

    if training_data is None:
        data_paths: list[str | Path] = []
    elif isinstance(training_data, str | Path):
        data_paths = [training_data]
    else:
        data_paths = list(training_data)
    meta: dict[str, Any] = {
        "sha256": file_digest(root / rel, "sha256"),
        "md5": file_digest(root / rel, "md5"),
        "params": _plain(dict(params or {})),
        "training_data": [data_version(root, p) for p in data_paths],
        "metrics": _plain(dict(metrics or {})),
    }
    entry = {
        "path": rel,
        "type": "model",
        "desc": description,
        "labels": list(labels),
        "meta": meta,
    }
    _write_artifact(root, name, entry)

    if version is None:
        try:
            latest = gto.api.find_latest_version(str(root), name)
        except ArtifactNotFound:
            latest = None
        version = None if latest is not None else "v0.1.0"
    _run(["git", "add", "--", *to_commit], root)
    message = f"Register model {name} {version or '(next version)'}"
    staged = _run(["git", "diff", "--cached", "--name-only", "--", *to_commit], root)
    if staged.strip():
        _run(["git", "commit", "--quiet", "-m", message, "--", *to_commit], root)
    rev = _run(["git", "rev-parse", "HEAD"], root).strip()
    try:
        gto.api.register(
            str(root), name, ref=rev, version=version, bump_minor=version is None, stdout=False
        )
    except Exception as exc:  # gto raises its own exception types
        raise RegistryError(f"gto could not register {name} at {rev[:12]}: {exc}") from exc
    return resolve(name, version=version, project_path=root)


def check_loadable(path: str | Path) -> None:
    """Load ``path`` the way :func:`load` will and raise :class:`RegistryError` if that would
    fail, so a file is refused when it is registered, not when a colleague loads it.

    ``.pt`` / ``.ckpt`` / ``.pth``: ``torch.load(weights_only=True)`` (and, for a spike model,
    its config checked against its weights); ``.npz``: ``numpy.load`` without pickles.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix in (".pt", ".pth", ".ckpt"):
            import torch

            from calcium_dynamics.models.spike_models import KINDS, SpikeModel

            obj = torch.load(path, map_location="cpu", weights_only=True)
            if isinstance(obj, dict) and obj.get("kind") in KINDS:
                SpikeModel.from_dict(obj, str(path))
        elif suffix == ".npz":
            import numpy as np

            with np.load(path, allow_pickle=False) as data:
                for key in data.files:
                    data[key]
    except Exception as exc:
        raise RegistryError(
            f"{path} would be refused when loaded, so it is not registered: {exc}"
        ) from exc


def list_models(project_path: str | Path = ".") -> list[dict[str, Any]]:
    """Every registered model: name, latest version, stage → version, labels, description."""
    import gto.api

    root = _root(project_path)
    rows = []
    for name, info in sorted(gto.api.show(str(root)).items()):
        if not info.get("registered"):
            continue
        row: dict[str, Any] = {
            "name": name,
            "latest": info.get("version"),
            "stages": {k: v for k, v in (info.get("stage") or {}).items() if v},
        }
        try:
            latest = resolve(name, project_path=root)
            row.update(path=latest.path, description=latest.description, labels=latest.labels)
        except RegistryError:
            pass
        rows.append(row)
    known = {r["name"] for r in rows}
    for name, entry in sorted(shipped.read_index(root).items()):
        if name in known:
            continue
        rows.append(
            {
                "name": name,
                "latest": entry.get("version"),
                "stages": {s: entry.get("version") for s in entry.get("stages") or []},
                "path": entry.get("path"),
                "description": entry.get("description", ""),
                "labels": tuple(entry.get("labels") or ()),
                "shipped": True,
            }
        )
    return rows


def versions(name: str, project_path: str | Path = ".") -> list[dict[str, Any]]:
    """All versions of ``name``, newest first: version, commit, stages, registration time."""
    import gto.api

    root = _root(project_path)
    try:
        shown = gto.api.show(str(root), name)
    except ArtifactNotFound:
        return []
    out = []
    for v in shown:
        if not v.get("registrations"):
            continue
        out.append(
            {
                "version": v["version"],
                "rev": v["commit_hexsha"],
                "stages": [s["stage"] for s in v.get("stages") or []],
                "created_at": str(v.get("created_at")),
            }
        )
    return out


def promote(name: str, version: str, stage: str, project_path: str | Path = ".") -> ResolvedModel:
    """Assign ``stage`` (one of :data:`STAGES`) to ``version`` of ``name`` (a GTO tag)."""
    import gto.api

    if stage not in STAGES:
        raise RegistryError(f"unknown stage {stage!r}; stages are {', '.join(STAGES)}")
    root = _root(project_path)
    resolve(name, version=version, project_path=root)  # the version must exist
    try:
        gto.api.assign(str(root), name, stage, version=version, stdout=False)
    except Exception as exc:
        raise RegistryError(f"gto could not assign {stage} to {name} {version}: {exc}") from exc
    return resolve(name, stage=stage, project_path=root)


def resolve(
    name: str,
    stage: str | None = None,
    version: str | None = None,
    project_path: str | Path = ".",
) -> ResolvedModel:
    """The git revision and path of ``name`` in ``stage``, or at ``version``, or (neither
    given) its latest registered version.

    GTO tags are asked first; a name they do not resolve is looked up in the index of the
    models that ship with the project (:mod:`calcium_dynamics.registry.shipped`), which needs
    no tag.
    """
    if stage is not None and version is not None:
        raise RegistryError("give a stage or a version, not both")
    if stage is not None and stage not in STAGES:
        raise RegistryError(f"unknown stage {stage!r}; stages are {', '.join(STAGES)}")
    root = _root(project_path)
    try:
        return _resolve_tagged(name, stage, version, root)
    except Exception as exc:  # GTO / scmrepo raise their own types (e.g. not a git repository)
        tagged_error = exc if isinstance(exc, RegistryError) else RegistryError(f"GTO: {exc}")
        try:
            entry = shipped.find(root, name, stage=stage, version=version)
        except LookupError as exc:
            raise RegistryError(f"{exc}; and GTO: {tagged_error}") from exc
        if entry is None:
            raise tagged_error from None
    return ResolvedModel(
        name=name,
        version=str(entry["version"]),
        rev=shipped.SHIPPED_REV,
        path=str(entry["path"]),
        stage=stage,
        description=str(entry.get("description", "")),
        labels=tuple(entry.get("labels") or ()),
        meta={"sha256": entry["sha256"], **dict(entry.get("meta") or {})},
        shipped=True,
    )


def _resolve_tagged(name: str, stage: str | None, version: str | None, root: Path) -> ResolvedModel:
    import gto.api

    if stage is not None:  # resolve() has checked the stage name
        try:
            found = gto.api.find_versions_in_stage(str(root), name, stage)
        except ArtifactNotFound as exc:
            raise RegistryError(f"model {name!r} is not registered in {root}") from exc
        found = found[0] if isinstance(found, list) else found
        if not found:
            raise RegistryError(f"no version of model {name!r} is in stage {stage!r}")
        version_str, rev = found.version, found.commit_hexsha
    else:
        known = versions(name, root)
        if not known:
            raise RegistryError(f"model {name!r} is not registered in {root}")
        if version is None:
            version_str, rev = known[0]["version"], known[0]["rev"]
        else:
            match = [v for v in known if v["version"] == version]
            if not match:
                listed = ", ".join(v["version"] for v in known)
                raise RegistryError(
                    f"model {name!r} has no version {version!r}; versions: {listed}"
                )
            version_str, rev = version, match[0]["rev"]
    entry = _artifact_at(root, rev, name)
    return ResolvedModel(
        name=name,
        version=version_str,
        rev=rev,
        path=entry["path"],
        stage=stage,
        description=entry.get("desc", "") or "",
        labels=tuple(entry.get("labels") or ()),
        meta=dict(entry.get("meta") or {}),
    )


def read_bytes(resolved: ResolvedModel, project_path: str | Path = ".") -> bytes:
    """The model file's bytes at its revision (DVC cache, or the DVC remote), checksum-verified.

    Raises:
        ChecksumError: the bytes' SHA-256 (or MD5) differs from the registered value.
    """
    import dvc.api

    if resolved.shipped:  # a file committed in this checkout: no DVC needed to read it
        file = Path(project_path).resolve() / resolved.path
        if not file.is_file():
            raise RegistryError(
                f"shipped model {resolved.name} {resolved.version}: {file} is missing from this "
                "checkout"
            )
        data = file.read_bytes()
        _check_digest(resolved, data)
        return data
    root = _root(project_path)
    try:
        with dvc.api.open(resolved.path, repo=str(root), rev=resolved.rev, mode="rb") as fh:
            data = fh.read()
    except Exception as exc:
        raise RegistryError(
            f"cannot read {resolved.path} of {resolved.name} {resolved.version} at "
            f"{resolved.rev[:12]} ({type(exc).__name__}: {exc}); is the DVC remote set up "
            "(`dvc remote list`) and the file pushed (`dvc push`)?"
        ) from exc
    _check_digest(resolved, data)
    return data


def _check_digest(resolved: ResolvedModel, data: bytes) -> None:
    """Raise :class:`ChecksumError` unless ``data`` has the registered SHA-256 (or MD5)."""
    for algo in ("sha256", "md5"):
        expected = resolved.meta.get(algo)
        if expected is None:
            continue
        actual = hashlib.new(algo, data).hexdigest()
        if actual != expected:
            raise ChecksumError(
                f"{resolved.path} of model {resolved.name} {resolved.version}: {algo} is "
                f"{actual}, but the registry recorded {expected}; the file was altered or "
                "corrupted, refusing to load it"
            )
        break
    else:
        raise ChecksumError(
            f"model {resolved.name} {resolved.version} has no recorded checksum in dvc.yaml"
        )


def load(
    name: str,
    stage: str | None = None,
    version: str | None = None,
    project_path: str | Path = ".",
) -> Any:
    """Load a registered model without executing code from its file.

    Spike-model files become :class:`~calcium_dynamics.models.spike_models.SpikeModel`; other
    model files are returned as the plain dictionary of tensors and numbers they hold.
    """
    resolved = resolve(name, stage=stage, version=version, project_path=project_path)
    return load_resolved(resolved, project_path)


def shipped_model(name: str, project_path: str | Path = ".") -> ResolvedModel:
    """The shipped (index) entry of ``name`` as a :class:`ResolvedModel`, without GTO or DVC
    (for a checkout that is not a DVC project, e.g. an installed copy)."""
    entry = shipped.find(Path(project_path), name)
    if entry is None:
        raise RegistryError(f"{name!r} is not a shipped model of {project_path}")
    return ResolvedModel(
        name=name,
        version=str(entry["version"]),
        rev=shipped.SHIPPED_REV,
        path=str(entry["path"]),
        description=str(entry.get("description", "")),
        labels=tuple(entry.get("labels") or ()),
        meta={"sha256": entry["sha256"], **dict(entry.get("meta") or {})},
        shipped=True,
    )


def load_resolved(resolved: ResolvedModel, project_path: str | Path = ".") -> Any:
    """Load a resolved model: checksum-verified bytes, unpickled with ``weights_only=True``."""
    import torch

    from calcium_dynamics.models.spike_models import KINDS, SpikeModel

    data = read_bytes(resolved, project_path)
    source = f"{resolved.name} {resolved.version} ({resolved.path} at {resolved.rev[:12]})"
    try:
        obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise RegistryError(f"{source}: not a readable model file ({exc})") from exc
    if isinstance(obj, dict) and obj.get("kind") in KINDS:
        return SpikeModel.from_dict(obj, source)
    return obj
