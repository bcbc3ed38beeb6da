"""Kedro dataset for a model from the project's model registry.

In ``catalog.yml``::

    ens2_production_model:
      type: calcium_dynamics.io.registered_model.RegisteredModelDataset
      name: ens2-60hz
      stage: production

The git revision of that stage (or version) comes from the GTO tags; the file is read at that
revision through DVC (cache or remote), its SHA-256 checked against the registry, and loaded
without executing code from it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError

from calcium_dynamics import registry


class RegisteredModelDataset(AbstractDataset[None, Any]):
    """A registered model, read-only: ``stage`` *or* ``version`` (neither: latest version).

    Args:
        name: registered model name (the artifact name in ``dvc.yaml``).
        stage: ``dev``, ``staging`` or ``production``.
        version: ``vMAJOR.MINOR.PATCH``.
        project_path: the git + DVC project holding the registry (default: current folder,
            which is the project root under ``kedro run``).
    """

    def __init__(
        self,
        name: str,
        stage: str | None = None,
        version: str | None = None,
        project_path: str = ".",
        metadata: dict[str, Any] | None = None,
    ):
        if stage is not None and version is not None:
            raise DatasetError(f"registered model {name!r}: give a stage or a version, not both")
        if stage is not None and stage not in registry.STAGES:
            raise DatasetError(
                f"registered model {name!r}: unknown stage {stage!r}; "
                f"stages are {', '.join(registry.STAGES)}"
            )
        self._name = name
        self._stage = stage
        self._version = version
        self._project_path = Path(project_path)
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {
            "name": self._name,
            "stage": self._stage,
            "version": self._version,
            "project_path": str(self._project_path),
        }

    def resolve(self) -> registry.ResolvedModel:
        """The git revision and path this dataset reads."""
        return registry.resolve(
            self._name, stage=self._stage, version=self._version, project_path=self._project_path
        )

    def _load(self) -> Any:
        return registry.load(
            self._name, stage=self._stage, version=self._version, project_path=self._project_path
        )

    def _save(self, data: Any) -> None:
        raise DatasetError(
            f"registered model {self._name!r} is read-only: save the model with its own dataset "
            "and register it (`kedro registry register` or `python -m calcium_dynamics.registry "
            "register`)"
        )

    def _exists(self) -> bool:
        try:
            self.resolve()
        except registry.RegistryError:
            return False
        return True
