"""Read pickled ``.npy`` files from outside (Suite2p's ``ops.npy``) without running code.

``np.load(..., allow_pickle=True)`` unpickles whatever the file holds, and a pickle can name any
importable callable (``os.system``, …) to be called while loading. :func:`load_npy_restricted`
reads the ``.npy`` header itself and unpickles an object array with an unpickler that resolves
only the few globals plain data needs — numpy's array and scalar reconstructors and dtypes — so
a file can hold dicts, lists, tuples, strings, numbers, booleans, ``None`` and numpy arrays /
scalars, and nothing else. Any other global is refused with :class:`UnsafePickleError`, naming
the file and the refused type, before anything from it is called.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

#: (module, name) pairs a plain-data pickle may reference
_ALLOWED = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("builtins", "complex"),
    ("builtins", "bytearray"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("_codecs", "encode"),  # how protocol-2 pickles store raw bytes
    ("collections", "OrderedDict"),
}


class UnsafePickleError(ValueError):
    """A pickled file that references something other than plain data."""


class _PlainDataUnpickler(pickle.Unpickler):
    def __init__(self, fh, source: str):
        super().__init__(fh)
        self._source = source

    def find_class(self, module: str, name: str):
        if module == "__builtin__":  # protocol-2 pickles name builtins the Python 2 way
            module = "builtins"
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise UnsafePickleError(
            f"{self._source}: refused to load: it references {module}.{name}, which is not "
            "plain data (dicts, lists, strings, numbers, numpy arrays). A pickled file can run "
            "code when loaded; re-save it from a trusted Suite2p run, or give the frame rate "
            "in the catalog entry (`frame_rate_hz: 30.0`) instead of reading ops.npy"
        )


def loads_restricted(data: bytes, source: str = "pickle") -> Any:
    """Unpickle ``data`` admitting plain data only (see the module docstring)."""
    try:
        return _PlainDataUnpickler(io.BytesIO(data), source).load()
    except UnsafePickleError:
        raise
    except Exception as exc:
        raise UnsafePickleError(f"{source}: not a readable pickle ({exc})") from exc


def load_npy_restricted(path: str | Path) -> Any:
    """The content of a ``.npy`` file: a numeric array as ``np.load`` gives it, or, for an
    object array (how ``np.save`` stores a dict), its unpickled content, plain data only.

    A 0-d object array (``np.save("ops.npy", ops_dict)``) returns the object itself (what
    ``np.load(...).item()`` gives).

    Raises:
        UnsafePickleError: the pickle references anything but plain data, or is unreadable.
        ValueError: not a ``.npy`` file.
    """
    path = Path(path)
    with open(path, "rb") as fh:
        try:
            version = np.lib.format.read_magic(fh)
            read_header = {
                (1, 0): np.lib.format.read_array_header_1_0,
                (2, 0): np.lib.format.read_array_header_2_0,
            }.get(version)
            if read_header is None:
                raise ValueError(f"unsupported .npy format version {version}")
            shape, _fortran, dtype = read_header(fh, max_header_size=100_000)
        except Exception as exc:
            raise ValueError(f"{path}: not a .npy file ({exc})") from exc
        if not dtype.hasobject:
            fh.seek(0)
            return np.load(fh, allow_pickle=False)
        obj = loads_restricted(fh.read(), str(path))
    if isinstance(obj, np.ndarray) and obj.shape == () and obj.dtype == object:
        return obj.item()
    if isinstance(obj, np.ndarray) and tuple(obj.shape) != tuple(shape):
        raise UnsafePickleError(f"{path}: header says shape {shape} but the data is {obj.shape}")
    return obj
