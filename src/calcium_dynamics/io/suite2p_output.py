"""Kedro dataset: a copy of a Suite2p plane folder with inferred spike rates added.

Suite2p keeps one plane's results in a folder (``suite2p/plane0``): ``F.npy`` and ``Fneu.npy``
(float32, (n_rois, n_frames)), ``iscell.npy``, ``ops.npy``, ``stat.npy`` and its own
deconvolution ``spks.npy`` (n_rois, n_frames), which the Suite2p GUI plots under each trace.
The original folder is never written to: its files are copied to the output folder, except the
registered / raw binary movies (``data.bin``, ``data_raw.bin``, ``data_chan2.bin``,
``data_chan2_raw.bin``), which can be many GB and are listed as skipped. The copy gets

* ``spks_<model>.npy``: float32, (n_rois, n_frames), the same rows (ROI order of ``F.npy``)
  and frames as ``F.npy``; rows of the inferred ROIs hold the spike rate in Hz, every other
  row (non-cells, ROIs not inferred) holds 0.0;
* ``spks_<model>.json``: what the array holds (``model``, ``model_version``, ``unit`` = "Hz",
  ``rows_inferred``, ``source``, ``skipped_files``, ``shape``, ``replace_spks``);
* with ``replace_spks=True``, ``spks.npy`` replaced by the same array, so that the Suite2p GUI
  shows the inferred rates (Suite2p's own ``spks.npy`` is kept as ``spks_suite2p.npy``).

The copy is assembled in ``<filepath>.partial`` beside the output and renamed into place only
when every file is written, so a failed save leaves no half-written folder and keeps an earlier
output intact.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
from kedro.io import AbstractDataset, DatasetError

MOVIE_FILES = ("data.bin", "data_raw.bin", "data_chan2.bin", "data_chan2_raw.bin")
SUITE2P_SPKS = "spks_suite2p.npy"
_MODEL_NAME = re.compile(r"^[A-Za-z0-9._-]+$")
_PAYLOAD_KEYS = {"source", "model", "model_version", "roi_index", "rate_hz"}
_REQUIRED_KEYS = ("source", "model", "roi_index", "rate_hz")


def _check_model(model: Any) -> str:
    """The model name, usable in a file name (``^[A-Za-z0-9._-]+$``, not ``suite2p``)."""
    if not isinstance(model, str) or not _MODEL_NAME.match(model):
        raise DatasetError(
            f"model name {model!r} may hold only letters, digits, '.', '_' and '-' "
            "(it becomes part of the file name spks_<model>.npy)"
        )
    if model == "suite2p":
        raise DatasetError(f"model name 'suite2p' is reserved for Suite2p's own {SUITE2P_SPKS}")
    return model


def _within(path: Path, folder: Path) -> bool:
    """Whether resolved ``path`` is ``folder`` or lies inside it."""
    return path == folder or folder in path.parents


def _check_paths(output: Path, source: Path) -> None:
    """Refuse outputs that are, lie inside or contain the source plane folder."""
    src = source.resolve()
    for target in (output, _partial(output), _previous(output)):
        tgt = target.resolve()
        if _within(tgt, src) or _within(src, tgt):
            raise DatasetError(
                f"the output folder {output} and the Suite2p folder {source} overlap "
                f"({target} is, lies inside or contains it): choose an output outside the "
                "original folder (the original is never modified)"
            )
    if output.exists() and not output.is_dir():
        raise DatasetError(f"the output {output} exists and is not a folder")
    if output.is_dir() and any(output.iterdir()) and not any(output.glob("spks_*.json")):
        raise DatasetError(
            f"the output folder {output} exists, is not empty and holds no spks_*.json: it is "
            "not an earlier output of this dataset, so it is not replaced"
        )


def _partial(output: Path) -> Path:
    return output.with_name(output.name + ".partial")


def _previous(output: Path) -> Path:
    return output.with_name(output.name + ".previous")


def _f_shape(source: Path) -> tuple[int, int]:
    """(n_rois, n_frames) of ``source/F.npy``, read from its header."""
    f_path = source / "F.npy"
    if not f_path.is_file():
        raise DatasetError(f"{source} holds no F.npy: it is not a Suite2p plane folder")
    try:
        shape = np.load(f_path, mmap_mode="r").shape
    except (ValueError, OSError) as err:
        raise DatasetError(f"{f_path} cannot be read as a numpy array: {err}") from err
    if len(shape) != 2:
        raise DatasetError(f"{f_path} must be (n_rois, n_frames); got shape {shape}")
    return int(shape[0]), int(shape[1])


def _rows(roi_index: Any, n_rois: int, f_path: Path) -> np.ndarray:
    """``roi_index`` as int64 rows of ``F.npy``, (n_cells,); refuses bad or repeated rows."""
    idx = np.asarray(roi_index)
    if idx.ndim != 1 or idx.dtype.kind not in "iuf":
        raise DatasetError(
            f"roi_index must be a 1-d array of integer rows of {f_path}; got dtype {idx.dtype}, "
            f"shape {idx.shape}"
        )
    if idx.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(idx) | (idx != np.round(idx)))
        if bad.size:
            raise DatasetError(
                f"roi_index holds non-finite or non-integer values {idx[bad][:10].tolist()} "
                f"(at positions {bad[:10].tolist()})"
            )
    rows = idx.astype(np.int64)
    out = rows[(rows < 0) | (rows >= n_rois)]
    if out.size:
        raise DatasetError(
            f"roi_index {out[:10].tolist()} out of range: {f_path} has {n_rois} ROIs "
            f"(rows 0..{n_rois - 1})"
        )
    values, counts = np.unique(rows, return_counts=True)
    if (counts > 1).any():
        raise DatasetError(f"roi_index {values[counts > 1][:10].tolist()} repeated")
    return rows


def _rates(rate_hz: Any, n_cells: int, n_frames: int, f_path: Path) -> np.ndarray:
    """``rate_hz`` as float32 (n_cells, n_frames); refuses other shapes and NaN / inf."""
    rates = np.asarray(rate_hz, np.float32)
    if rates.ndim != 2 or rates.shape[0] != n_cells:
        raise DatasetError(
            f"rate_hz must be (n_cells, n_frames) with n_cells = {n_cells} rows of roi_index; "
            f"got shape {rates.shape}"
        )
    if rates.shape[1] != n_frames:
        raise DatasetError(f"{f_path} has {n_frames} frames, but the rates have {rates.shape[1]}")
    bad = np.flatnonzero(~np.isfinite(rates).all(axis=1))
    if bad.size:
        raise DatasetError(f"rate_hz rows {bad[:10].tolist()} hold NaN or inf")
    return rates


def _copy_plane(source: Path, dest: Path) -> list[str]:
    """Copy the regular files of ``source`` into ``dest``, except the binary movies.

    Returns the names not copied: the movies and any sub-folder (with a trailing ``/``).
    """
    skipped = []
    for entry in sorted(source.iterdir()):
        if entry.name in MOVIE_FILES:
            skipped.append(entry.name)
        elif entry.is_file():
            shutil.copy2(entry, dest / entry.name)
        else:
            skipped.append(entry.name + "/")
    return skipped


def _move_into_place(partial: Path, output: Path) -> None:
    """Rename ``partial`` to ``output``, replacing (and then deleting) an earlier output."""
    if not output.exists():
        os.replace(partial, output)
        return
    previous = _previous(output)
    shutil.rmtree(previous, ignore_errors=True)
    os.replace(output, previous)
    try:
        os.replace(partial, output)
    except BaseException:
        os.replace(previous, output)
        raise
    shutil.rmtree(previous, ignore_errors=True)


class Suite2pSpikesDataset(AbstractDataset[dict[str, Any], dict[str, Any]]):
    """A Suite2p plane folder copied from the original, with inferred spike rates added.

    ``save`` takes a dict: ``source`` (the original plane folder, holding ``F.npy``),
    ``model`` (model name, ``^[A-Za-z0-9._-]+$``), ``model_version`` (optional text),
    ``roi_index`` (int, (n_cells,): rows of ``F.npy`` the rates belong to) and ``rate_hz``
    (Hz, (n_cells, n_frames), n_frames = the frames of ``F.npy``). See the module docstring for
    the files written.

    ``load`` reads ``spks_<model>.npy`` and its sidecar back: ``rate_hz`` (float32,
    (n_cells, n_frames), rows in increasing ``roi_index`` order), ``roi_index`` (int64,
    (n_cells,), sorted), ``spks`` (float32, (n_rois, n_frames), the whole array) and
    ``sidecar`` (the JSON dict).

    Args:
        filepath: the output plane folder (never the original nor inside it).
        replace_spks: also write the rates as ``spks.npy`` (Suite2p's own kept as
            ``spks_suite2p.npy``), so that the Suite2p GUI shows them.
        model: the model whose rates ``load`` reads; when None, the folder must hold a single
            ``spks_*.json``. When given, ``save`` refuses payloads of another model.
        metadata: Kedro-Viz and other metadata.
    """

    def __init__(
        self,
        filepath: str,
        replace_spks: bool = False,
        metadata: dict[str, Any] | None = None,
        model: str | None = None,
    ):
        self._filepath = Path(filepath)
        self._replace_spks = bool(replace_spks)
        self._model = None if model is None else _check_model(model)
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {
            "filepath": str(self._filepath),
            "replace_spks": self._replace_spks,
            "model": self._model,
        }

    def _exists(self) -> bool:
        pattern = f"spks_{self._model}.json" if self._model else "spks_*.json"
        return self._filepath.is_dir() and any(self._filepath.glob(pattern))

    def _save(self, data: dict[str, Any]) -> None:
        missing = [k for k in _REQUIRED_KEYS if k not in data]
        unknown = sorted(set(data) - _PAYLOAD_KEYS)
        if missing or unknown:
            raise DatasetError(
                f"Suite2pSpikesDataset.save needs {list(_REQUIRED_KEYS)} (and optionally "
                f"'model_version'); missing {missing}, unknown {unknown}"
            )
        model = _check_model(data["model"])
        if self._model is not None and model != self._model:
            raise DatasetError(
                f"payload model {model!r} differs from the dataset's model {self._model!r} "
                f"({self._filepath})"
            )
        source = Path(data["source"])
        _check_paths(self._filepath, source)
        n_rois, n_frames = _f_shape(source)
        rows = _rows(data["roi_index"], n_rois, source / "F.npy")
        rates = _rates(data["rate_hz"], rows.size, n_frames, source / "F.npy")
        spks = np.zeros((n_rois, n_frames), np.float32)
        spks[rows] = rates
        version = data.get("model_version")
        sidecar = {
            "model": model,
            "model_version": None if version is None else str(version),
            "unit": "Hz",
            "rows_inferred": sorted(int(r) for r in rows),
            "source": str(source),
            "skipped_files": [],
            "shape": [n_rois, n_frames],
            "replace_spks": self._replace_spks,
        }
        self._write(source, model, spks, sidecar)

    def _write(self, source: Path, model: str, spks: np.ndarray, sidecar: dict[str, Any]) -> None:
        """Assemble the copy in ``<filepath>.partial``, then rename it into place."""
        partial = _partial(self._filepath)
        self._filepath.parent.mkdir(parents=True, exist_ok=True)
        if partial.is_dir():
            shutil.rmtree(partial)  # left over from an interrupted save
        else:
            partial.unlink(missing_ok=True)
        partial.mkdir()
        try:
            sidecar["skipped_files"] = _copy_plane(source, partial)
            np.save(partial / f"spks_{model}.npy", spks)
            if self._replace_spks:
                if (partial / "spks.npy").is_file() and not (partial / SUITE2P_SPKS).exists():
                    os.replace(partial / "spks.npy", partial / SUITE2P_SPKS)
                np.save(partial / "spks.npy", spks)
            text = json.dumps(sidecar, indent=2) + "\n"
            (partial / f"spks_{model}.json").write_text(text, encoding="utf-8")
            _move_into_place(partial, self._filepath)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise

    def _sidecar_model(self) -> str:
        """The model of the single ``spks_*.json`` in the output folder."""
        found = sorted(self._filepath.glob("spks_*.json"))
        if len(found) != 1:
            names = [p.name for p in found]
            raise DatasetError(
                f"{self._filepath} holds {len(found)} spks_*.json sidecars {names}: set `model` "
                "on the dataset to choose one"
            )
        return found[0].stem[len("spks_") :]

    def _load(self) -> dict[str, Any]:
        if not self._filepath.is_dir():
            raise DatasetError(f"{self._filepath} does not exist; save the spike rates first")
        model = self._model or self._sidecar_model()
        side_path = self._filepath / f"spks_{model}.json"
        npy_path = self._filepath / f"spks_{model}.npy"
        if not side_path.is_file() or not npy_path.is_file():
            raise DatasetError(f"{self._filepath} lacks {side_path.name} or {npy_path.name}")
        sidecar = json.loads(side_path.read_text(encoding="utf-8"))
        spks = np.load(npy_path)
        if list(spks.shape) != list(sidecar["shape"]):
            raise DatasetError(
                f"{npy_path} has shape {list(spks.shape)}, its sidecar says {sidecar['shape']}"
            )
        rows = np.asarray(sidecar["rows_inferred"], np.int64)
        return {"rate_hz": spks[rows], "roi_index": rows, "spks": spks, "sidecar": sidecar}
