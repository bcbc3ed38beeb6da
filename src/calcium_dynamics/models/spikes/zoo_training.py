"""Train a spike-model zoo on a ground-truth database: one command, recorded provenance.

A *zoo* is what a lab applies to its recordings: a CASCADE model (one ensemble of networks per
integer noise level ν, trained on noise-matched ground truth) or an ENS² network ensemble, at
one frame rate and one target kernel σ, for one cell class. :func:`train_zoo` builds the
training table from validated ground-truth recordings (Fourier-resampled to the zoo's rate,
0.5 s trimmed at each end, as the leave-one-dataset-out benchmark does), trains every member
with early stopping on held-out neurons, and returns the model with everything its model card
needs in ``metadata``: the datasets with neuron / recording counts and indicators, the training
data's hash, the settings, the seeds, the threads, the wall time, the command and the commit.

Command line (prints each member's progress and the wall time)::

    python -m calcium_dynamics.models.spikes.zoo_training --ground-truth ../shared/ground_truth \\
        --name cascade-9.8hz-excitatory --frame-rate 9.8 --sigma-ms 100 --out data/06_models/zoo
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import logging
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from calcium_dynamics.models.spike_kinds import spike_kind
from calcium_dynamics.models.spike_models import SpikeModel
from calcium_dynamics.models.spike_training import train_cascade_zoo, train_ens2
from calcium_dynamics.provenance import git_commit

logger = logging.getLogger(__name__)

#: CASCADE's standard levels (paper: 1 … 9)
STANDARD_LEVELS = tuple(float(v) for v in range(1, 10))
#: the high-noise extension (CASCADE's ``high_noise`` models reach ν 30 in larger steps)
HIGH_NOISE_LEVELS = (12.0, 16.0, 22.0, 30.0)
CELL_CLASSES = ("excitatory", "inhibitory")
KINDS = ("cascade", "ens2")


@dataclass
class ZooSpec:
    """What to train.

    Attributes:
        name: registry name (lower case, digits, dashes, dots), e.g. ``cascade-30hz-excitatory``.
        kind: ``"cascade"`` (a noise-level zoo) or ``"ens2"`` (one U-Net ensemble).
        frame_rate_hz: the rate the zoo works at (recordings are resampled to it), Hz.
        sigma_s: s.d. of the Gaussian kernel of the target rates, s.
        cell_class: ``"excitatory"`` or ``"inhibitory"`` training datasets.
        noise_levels: CASCADE ensembles' ν (%·Hz^-½, measured at ``frame_rate_hz``).
        n_members: networks per ensemble.
        steps: training steps per member (at most; early stopping on held-out neurons).
        batch_size: windows per step.
        max_noise_replicas: noise-matched replicas per recording (CASCADE).
        validation_fraction: share of training neurons held out for early stopping.
        patience: validation checks (every ``val_check_interval`` steps) without improvement.
        val_check_interval: steps between validation checks.
        learning_rate: Adagrad (CASCADE) / Adam (ENS²) learning rate.
        lr_schedule: ENS² only: ``"onecycle"`` (warm-up and cosine decay to a peak of 5e-3,
            every step trained: the better variant of the LODO benchmark) or ``"constant"``.
        resample_tolerance: recordings within this relative distance of ``frame_rate_hz``
            keep their own rate (not resampled); all of a zoo's recordings must lie within
            5 % of each other, so rates with datasets on both sides (15 Hz: 14.8 and 15.6 Hz)
            need a smaller value.
        seed: base seed (members derive theirs from it).
        threads: torch CPU threads.
        first_member: CASCADE: index of the first member trained (members ``first_member …
            first_member + n_members - 1``); a zoo's members trained in separate runs merge
            into the zoo one run gives (:func:`merge_zoos`).
        causal: CASCADE: windows end at the predicted frame (no future frames: for
            closed-loop use and :class:`~calcium_dynamics.models.spikes.stream.SpikeStream`).
    """

    name: str
    frame_rate_hz: float
    sigma_s: float
    kind: str = "cascade"
    cell_class: str = "excitatory"
    noise_levels: list[float] = field(default_factory=lambda: list(STANDARD_LEVELS))
    n_members: int = 5
    steps: int = 1200
    batch_size: int = 512
    max_noise_replicas: int = 2
    validation_fraction: float = 0.1
    patience: int = 2
    val_check_interval: int = 250
    learning_rate: float | None = None
    lr_schedule: str = "onecycle"
    resample_tolerance: float = 0.05
    seed: int = 0
    threads: int = 1
    first_member: int = 0
    causal: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.cell_class not in CELL_CLASSES:
            raise ValueError(f"cell_class must be one of {CELL_CLASSES}, got {self.cell_class!r}")
        if not 0.5 <= float(self.frame_rate_hz) <= 1000:
            raise ValueError(f"frame_rate_hz must lie in 0.5–1000 Hz, got {self.frame_rate_hz}")
        if not 0 < float(self.sigma_s) < 5:
            raise ValueError(f"sigma_s must lie in (0, 5) s, got {self.sigma_s}")
        if spike_kind(self.kind).noise_specific and (
            not self.noise_levels or min(self.noise_levels) <= 0
        ):
            raise ValueError(f"noise_levels must be positive, got {self.noise_levels}")
        if int(self.n_members) < 1 or int(self.steps) < 1:
            raise ValueError("n_members and steps must be >= 1")
        if not 0 <= int(self.first_member) <= 10 - int(self.n_members):
            raise ValueError(
                f"members {self.first_member} … {self.first_member + self.n_members - 1}: "
                "member indices must lie in 0 … 9"
            )
        if not spike_kind(self.kind).noise_specific and int(self.first_member) != 0:
            raise ValueError("first_member applies to CASCADE zoos only")
        if self.causal and not spike_kind(self.kind).has_causal_form:
            raise ValueError("causal zoos are CASCADE zoos (ENS²'s U-Net sees the whole window)")


def training_table_for(recordings: pd.DataFrame, spec: ZooSpec) -> pd.DataFrame:
    """The recordings of the spec's cell class at its frame rate and σ (see ``training_table``)."""
    from calcium_dynamics.models.spikes.training_tables import training_table

    inhibitory = spec.cell_class == "inhibitory"
    chosen = recordings[recordings["inhibitory"].astype(bool) == inhibitory]
    if chosen.empty:
        raise ValueError(f"the ground truth has no {spec.cell_class} recording")
    return training_table(
        chosen,
        frame_rate_hz=spec.frame_rate_hz,
        sigma_s=spec.sigma_s,
        trim_s=0.5,
        min_duration_s=2.0,
        seed=spec.seed,
        resample_tolerance=spec.resample_tolerance,
    )


def _trainer(spec: ZooSpec) -> dict:
    return {
        "max_steps": int(spec.steps),
        "val_check_interval": int(spec.val_check_interval),
        "enable_progress_bar": False,
        "num_threads": int(spec.threads),
    }


def _cascade_params(spec: ZooSpec) -> dict:
    return {
        "sigma_s": float(spec.sigma_s),
        "seed": int(spec.seed),
        "noise_levels": [float(v) for v in spec.noise_levels],
        "n_members": int(spec.n_members),
        "first_member": int(spec.first_member),
        "max_noise_replicas": int(spec.max_noise_replicas),
        "causal": bool(spec.causal),
        "model": {"learning_rate": spec.learning_rate or 0.05},
        "data": {
            "batch_size": int(spec.batch_size),
            "validation_fraction": float(spec.validation_fraction),
            "balanced": True,
            "max_samples": 5_000_000,
        },
        "trainer": _trainer(spec),
        "early_stopping_patience": int(spec.patience) or None,
    }


def _ens2_params(spec: ZooSpec, member: int) -> dict:
    return {
        "sigma_s": float(spec.sigma_s),
        "seed": int(spec.seed) + 1000 * member,
        "model": {
            "window": 96,
            "base_channels": 9,
            "learning_rate": spec.learning_rate or 1e-3,
            "lr_schedule": spec.lr_schedule,
            "max_learning_rate": 5e-3,
        },
        "data": {
            "batch_size": int(spec.batch_size),
            "validation_fraction": float(spec.validation_fraction),
        },
        "trainer": _trainer(spec),
        # the one-cycle rate reaches 0 only at the last step: train every step
        "early_stopping_patience": None
        if spec.lr_schedule == "onecycle"
        else (int(spec.patience) or None),
    }


def dataset_table(table: pd.DataFrame, recordings: pd.DataFrame) -> list[dict]:
    """Per training dataset: neurons, recordings, indicator, species, ν range at the zoo rate."""
    meta = recordings.drop_duplicates("dataset").set_index("dataset")
    rows = []
    for name, grp in table.groupby("dataset", sort=True):
        rows.append(
            {
                "dataset": name,
                "n_neurons": int(grp.groupby("neuron").ngroups),
                "n_recordings": int(len(grp)),
                "indicator": str(meta.loc[name, "indicator"]) if name in meta.index else "",
                "species": str(meta.loc[name, "species"]) if name in meta.index else "",
                "noise_level_nu_median": round(float(np.nanmedian(grp["noise_level_nu"])), 3),
                "minutes": round(
                    float(sum(len(d) for d in grp["dff"]) / grp["frame_rate_hz"].iloc[0] / 60),
                    2,
                ),
            }
        )
    return rows


def folder_md5(folder: str | Path) -> str:
    """MD5 over every file's relative path and bytes (the training data's version)."""
    folder = Path(folder)
    h = hashlib.md5()
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(f.relative_to(folder).as_posix().encode() + b"\0")
        h.update(hashlib.md5(f.read_bytes()).digest())
    return h.hexdigest()


def train_zoo(
    recordings: pd.DataFrame,
    spec: ZooSpec,
    *,
    data_hash: str | None = None,
    command: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> SpikeModel:
    """Train the zoo ``spec`` describes on validated ground-truth ``recordings``.

    Args:
        recordings: the ``validate_recordings`` table (dataset, neuron, recording, indicator,
            species, inhibitory, frame_rate_hz, t0_s, dff, spike_times_s).
        spec: what to train.
        data_hash: the training data's version (e.g. :func:`folder_md5` of the database).
        command: the command line that trains it (recorded for the model card).
        progress: called with a short text after each member.

    Returns:
        The trained model; ``metadata`` holds ``name``, ``cell_class``, ``training_datasets``,
        ``training_data_md5``, ``spec``, ``wall_time_s``, ``trained_at``, ``command``,
        ``git_commit``, ``threads``, ``torch_version`` and the per-member training record.
    """
    torch.set_num_threads(int(spec.threads))
    commit = git_commit()  # the code that trains: HEAD when training starts
    start = time.perf_counter()
    table = training_table_for(recordings, spec)
    if spike_kind(spec.kind).noise_specific:  # a zoo: one ensemble per noise level
        model = train_cascade_zoo(table, _cascade_params(spec), on_member=progress)
    else:
        members, info = [], {}
        for member in range(int(spec.n_members)):
            part = train_ens2(table, _ens2_params(spec, member))
            members += part.ensembles[part.noise_levels[0]]
            info[f"member_{member}"] = part.metadata["training"]
            if progress:
                progress(f"ENS² member {member + 1}/{spec.n_members}")
        model = part
        model.ensembles = {model.noise_levels[0]: members}
        model.metadata["training"] = info
    model.metadata.update(
        {
            "name": spec.name,
            "kind": spec.kind,
            "cell_class": spec.cell_class,
            "training_datasets": dataset_table(table, recordings),
            "training_data_md5": data_hash,
            "spec": asdict(spec),
            "wall_time_s": round(time.perf_counter() - start, 1),
            "trained_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "command": command,
            "git_commit": commit,
            "threads": int(spec.threads),
            "torch_version": str(torch.__version__),
        }
    )
    return model


def merge_zoos(parts: list[SpikeModel], name: str) -> SpikeModel:
    """One CASCADE zoo from zoos trained with the same settings on disjoint noise levels, or
    on the same levels with disjoint members (``--first-member``).

    Every member's seed depends only on the base seed, its level and its index, and the
    neurons held out for early stopping only on the base seed, so training the levels (or the
    members) in separate processes and merging gives the zoo that one process training all of
    them gives (the recorded ``command`` is that single command).
    """
    if len(parts) < 2:
        raise ValueError("merging needs at least two zoos")
    first = parts[0]
    keys = ("kind", "cell_class", "training_data_md5")
    same_spec = (
        "frame_rate_hz",
        "sigma_s",
        "steps",
        "batch_size",
        "seed",
        "max_noise_replicas",
        "validation_fraction",
        "patience",
        "kind",
        "cell_class",
        "causal",
    )
    members: dict[float, dict[int, object]] = {}
    training: dict = {}
    for part in parts:
        if not part.spec.noise_specific:
            raise ValueError("only CASCADE zoos are merged")
        for k in keys:
            if part.metadata.get(k) != first.metadata.get(k):
                raise ValueError(f"zoos differ in {k}: cannot merge")
        for k in same_spec:
            if part.metadata["spec"].get(k) != first.metadata["spec"].get(k):
                raise ValueError(f"zoos differ in setting {k}: cannot merge")
        start = int(part.metadata["spec"].get("first_member", 0))
        for level, nets in part.ensembles.items():
            slot = members.setdefault(level, {})
            for i, net in enumerate(nets, start=start):
                if i in slot:
                    raise ValueError(
                        f"zoos share member {i} of noise level {level:g}: cannot merge"
                    )
                slot[i] = net
        training.update(part.metadata["training"])
    counts = {level: sorted(slot) for level, slot in members.items()}
    n_members = {len(v) for v in counts.values()}
    if len(n_members) != 1 or any(v != list(range(len(v))) for v in counts.values()):
        raise ValueError(
            "the merged zoo must hold members 0 … n-1 at every level, got "
            + ", ".join(f"ν={lv:g}: {v}" for lv, v in sorted(counts.items()))
        )
    levels = sorted(members)
    n = n_members.pop()
    ensembles = {lv: [members[lv][i] for i in range(n)] for lv in levels}
    spec = {
        **first.metadata["spec"],
        "name": name,
        "noise_levels": levels,
        "n_members": n,
        "first_member": 0,
    }
    metadata = {
        **first.metadata,
        "name": name,
        "spec": spec,
        "training": training,
        "wall_time_s": round(sum(p.metadata["wall_time_s"] for p in parts), 1),
        "merged_from": [p.metadata["name"] for p in parts],
        "command": _single_command(first.metadata["command"], name, levels, n),
    }
    return SpikeModel("cascade", dict(first.config), ensembles, metadata)


def _single_command(command: str, name: str, levels: list[float], n_members: int) -> str:
    """``command`` with ``--name``, ``--noise-levels`` and ``--members`` replaced (and no
    ``--high-noise`` or ``--first-member``)."""
    args = shlex.split(command)
    out, skip = [], False
    for a in args:
        if skip and not a.startswith("--"):
            continue
        skip = False
        if a in ("--name", "--noise-levels", "--members", "--first-member"):
            skip = True
            continue
        if a == "--high-noise":
            continue
        out.append(a)
    return shlex.join(
        [
            *out,
            "--members",
            str(n_members),
            "--name",
            name,
            "--noise-levels",
            *(f"{v:g}" for v in levels),
        ]
    )


def load_ground_truth(folder: str | Path) -> pd.DataFrame:
    """Validated recordings of a ground-truth database folder."""
    from calcium_dynamics.io import GroundTruthDataset
    from calcium_dynamics.io.ground_truth import validate_recordings

    raw = GroundTruthDataset(str(folder)).load()
    recordings, _ = validate_recordings(raw)
    return recordings


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--ground-truth", type=Path, required=True, help="database folder")
    p.add_argument("--name", required=True, help="model name, e.g. cascade-9.8hz-excitatory")
    p.add_argument("--kind", choices=KINDS, default="cascade")
    p.add_argument("--frame-rate", type=float, required=True, help="the zoo's frame rate (Hz)")
    p.add_argument("--sigma-ms", type=float, required=True, help="target kernel s.d. (ms)")
    p.add_argument("--cell-class", choices=CELL_CLASSES, default="excitatory")
    p.add_argument(
        "--noise-levels",
        type=float,
        nargs="+",
        default=list(STANDARD_LEVELS),
        help="CASCADE levels ν (default 1 … 9)",
    )
    p.add_argument(
        "--high-noise",
        action="store_true",
        help=f"add the high-noise levels {', '.join(f'{v:g}' for v in HIGH_NOISE_LEVELS)}",
    )
    p.add_argument("--members", type=int, default=5)
    p.add_argument(
        "--first-member",
        type=int,
        default=0,
        help="CASCADE: index of the first member (to train more members of a zoo in another "
        "process, then merge)",
    )
    p.add_argument("--steps", type=int, default=1200)
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--max-noise-replicas", type=int, default=2)
    p.add_argument("--patience", type=int, default=2)
    p.add_argument(
        "--lr-schedule",
        choices=["onecycle", "constant"],
        default="onecycle",
        help="ENS² learning-rate schedule",
    )
    p.add_argument(
        "--resample-tolerance",
        type=float,
        default=0.05,
        help="recordings within this relative distance of --frame-rate are not resampled",
    )
    p.add_argument(
        "--causal",
        action="store_true",
        help="CASCADE: windows end at the predicted frame (no future frames; closed loop)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=Path("data/06_models/zoo"), help="output folder")
    p.add_argument(
        "--register",
        action="store_true",
        help="register the model in the project's registry (DVC artifact + GTO version tag; "
        "--out must lie under data/06_models/)",
    )
    p.add_argument(
        "--stage",
        choices=["dev", "staging", "production"],
        default=None,
        help="with --register: also assign this stage",
    )
    p.add_argument("--project-path", type=Path, default=Path("."), help="project root")
    return p.parse_args(argv)


def main(argv=None) -> int:
    from tqdm.auto import tqdm

    if argv is None:
        argv = sys.argv[1:]
    if argv and argv[0] == "merge":  # merge NAME OUT_FOLDER PART.pt PART.pt ...
        name, out, *files = argv[1:]
        merged = merge_zoos([SpikeModel.load(f) for f in files], name)
        merged.save(Path(out) / f"{name}.pt")
        (Path(out) / f"{name}.training.json").write_text(
            json.dumps(merged.metadata, indent=2, default=str)
        )
        print(f"{name}: levels {merged.noise_levels} → {Path(out) / f'{name}.pt'}")
        return 0
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    levels = list(args.noise_levels) + (list(HIGH_NOISE_LEVELS) if args.high_noise else [])
    spec = ZooSpec(
        name=args.name,
        kind=args.kind,
        frame_rate_hz=args.frame_rate,
        sigma_s=args.sigma_ms / 1000,
        cell_class=args.cell_class,
        noise_levels=sorted(set(levels)),
        n_members=args.members,
        steps=args.steps,
        batch_size=args.batch_size,
        max_noise_replicas=args.max_noise_replicas,
        patience=args.patience,
        lr_schedule=args.lr_schedule,
        resample_tolerance=args.resample_tolerance,
        seed=args.seed,
        threads=args.threads,
        first_member=args.first_member,
        causal=args.causal,
    )
    command = shlex.join(["python", "-m", "calcium_dynamics.models.spikes.zoo_training", *argv])
    recordings = load_ground_truth(args.ground_truth)
    n = spec.n_members * (len(spec.noise_levels) if spike_kind(spec.kind).noise_specific else 1)
    bar = tqdm(total=n, desc=spec.name, unit="member")

    def tick(text: str) -> None:
        bar.set_postfix_str(text)
        bar.update(1)

    model = train_zoo(
        recordings, spec, data_hash=folder_md5(args.ground_truth), command=command, progress=tick
    )
    bar.close()
    path = args.out / f"{spec.name}.pt"
    model.save(path)
    (args.out / f"{spec.name}.training.json").write_text(
        json.dumps(model.metadata, indent=2, default=str)
    )
    minutes = model.metadata["wall_time_s"] / 60
    print(f"{spec.name}: {n} members trained in {minutes:.1f} min → {path}", flush=True)
    if args.register:
        register_zoo(model, path, args.stage, args.project_path)
    return 0


def register_zoo(model: SpikeModel, path: Path, stage: str | None, project_path: Path) -> str:
    """Register ``path`` (GTO version tag + DVC artifact), optionally assign ``stage``; returns
    the registry string that uses it (``registry:NAME@VERSION``)."""
    from calcium_dynamics import registry

    md = model.metadata
    resolved = registry.register(
        md["name"],
        path,
        description=f"{md['kind']} zoo, {md['cell_class']}, {model.frame_rate_hz:g} Hz, "
        f"σ {1000 * float(model.config['sigma_s']):g} ms",
        labels=["spike-model", md["kind"], md["cell_class"]],
        params={**md["spec"], "training_data_md5": md["training_data_md5"]},
        project_path=project_path,
    )
    if stage:
        registry.promote(md["name"], resolved.version, stage, project_path=project_path)
    ref = f"registry:{md['name']}@{resolved.version}"
    print(f"registered: --params spike_model={ref}  or  infer_spikes(..., model={md['name']!r})")
    return ref


if __name__ == "__main__":
    sys.exit(main())
