"""Model registry: register, list, promote, resolve and load trained models by name.

Entries are DVC artifacts in ``dvc.yaml``; versions and stages are GTO git tags. See
:mod:`calcium_dynamics.registry.core`.
"""

from calcium_dynamics.registry.core import (
    STAGES,
    ChecksumError,
    RegistryError,
    ResolvedModel,
    data_version,
    list_models,
    load,
    promote,
    read_bytes,
    register,
    resolve,
    versions,
)

__all__ = [
    "STAGES",
    "ChecksumError",
    "RegistryError",
    "ResolvedModel",
    "data_version",
    "list_models",
    "load",
    "promote",
    "read_bytes",
    "register",
    "resolve",
    "versions",
]
