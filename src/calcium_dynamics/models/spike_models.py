"""Trained spike models ready to apply: an ENS² network or a CASCADE model zoo.

A model file is a plain dictionary of tensors and numbers (``torch.save``) that loads with
``torch.load(..., weights_only=True)``: a file from a remote cannot run code. Its config is
checked against its weights before anything is applied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from calcium_dynamics.models.spike_kinds import KINDS as _KINDS
from calcium_dynamics.models.spike_kinds import SpikeKind, spike_kind

FORMAT_VERSION = 1
KINDS = tuple(_KINDS)


class ModelFileError(ValueError):
    """A model file that cannot be used as it is."""


def build_network(kind: str, config: dict[str, Any]) -> nn.Module:
    """An untrained network of ``kind`` for ``config``; unknown kinds raise, naming them."""
    return spike_kind(kind).build_network(config)


@dataclass
class SpikeModel:
    """A trained spike-rate model.

    Attributes:
        kind: ``"ens2"`` or ``"cascade"``.
        config: ``frame_rate_hz`` (rate the model works at), ``sigma_s`` (target kernel s.d.,
            s), ``window`` (samples), ``causal`` (optional, CASCADE: windows end at the
            predicted frame) and architecture settings (``base_channels`` for ENS²).
        ensembles: noise level ν → ensemble members (networks in eval mode). ENS² has a single
            entry (key ``nan``: it is not noise-specific); a CASCADE zoo one entry per level.
        metadata: free-form training information (parameters, data, metrics).
    """

    kind: str
    config: dict[str, Any]
    ensembles: dict[float, list[nn.Module]]
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def spec(self) -> SpikeKind:
        """How this kind of model predicts, samples events and is routed."""
        return spike_kind(self.kind)

    def events(self, rates: list[np.ndarray], frame_rate_hz: float, rng) -> list[np.ndarray]:
        """Spike times (s) of rates in spikes per model frame (see :class:`SpikeKind`)."""
        return self.spec.events(rates, frame_rate_hz, float(self.config["sigma_s"]), rng)

    @property
    def frame_rate_hz(self) -> float:
        return float(self.config["frame_rate_hz"])

    @property
    def window(self) -> int:
        return int(self.config["window"])

    @property
    def causal(self) -> bool:
        """Whether its windows end at the predicted frame (no future frames are used)."""
        return bool(self.config.get("causal", False))

    @property
    def noise_levels(self) -> list[float]:
        return sorted(self.ensembles)

    def level_for(self, nu: float) -> float:
        """The noise level nearest ``nu`` (clamped to the zoo's ends; ties to the lower)."""
        levels = self.noise_levels
        if len(levels) == 1:
            return levels[0]
        if not np.isfinite(nu):
            raise ValueError("the trace's noise level is not finite: no zoo level can be chosen")
        return min(levels, key=lambda lv: (abs(lv - nu), lv))

    def members_for(self, nu: float) -> list[nn.Module]:
        """Ensemble whose noise level is nearest ``nu`` (clamped to the zoo's ends)."""
        return self.ensembles[self.level_for(nu)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "kind": self.kind,
            "config": dict(self.config),
            "metadata": _plain(self.metadata),
            "ensembles": [
                {"noise_level_nu": float(level), "members": [m.state_dict() for m in members]}
                for level, members in sorted(self.ensembles.items())
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "model") -> SpikeModel:
        for key in ("format_version", "kind", "config", "ensembles"):
            if key not in data:
                raise ModelFileError(f"{source}: not a spike model file (no {key!r})")
        kind = data["kind"]
        if kind not in KINDS:
            raise ModelFileError(f"{source}: unknown spike model {kind!r}; known: {KINDS}")
        config = dict(data["config"])
        for key in ("frame_rate_hz", "sigma_s", "window"):
            if key not in config:
                raise ModelFileError(f"{source}: config has no {key!r}")
        ensembles: dict[float, list[nn.Module]] = {}
        for entry in data["ensembles"]:
            members = []
            for i, state in enumerate(entry["members"]):
                net = build_network(kind, config)
                try:
                    net.load_state_dict(state, strict=True)
                except RuntimeError as exc:
                    raise ModelFileError(
                        f"{source}: config does not match the weights of member {i} at noise "
                        f"level {entry['noise_level_nu']}: {str(exc).splitlines()[0]}"
                    ) from exc
                members.append(net.eval())
            ensembles[float(entry["noise_level_nu"])] = members
        if not ensembles:
            raise ModelFileError(f"{source}: holds no trained network")
        return cls(kind, config, ensembles, dict(data.get("metadata", {})))

    def save(self, path: str | Path) -> None:
        """Write the model atomically (a temporary file renamed into place)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".partial")
        torch.save(self.to_dict(), tmp)
        tmp.replace(path)

    @classmethod
    def load(cls, path: str | Path) -> SpikeModel:
        """Read a model file without executing code from it (``weights_only=True``)."""
        try:
            data = torch.load(path, map_location="cpu", weights_only=True)
        except FileNotFoundError:
            raise
        except Exception as exc:
            raise ModelFileError(f"{path}: not a readable model file ({exc})") from exc
        if not isinstance(data, dict):
            raise ModelFileError(f"{path}: not a spike model file")
        return cls.from_dict(data, str(path))


def _plain(value: Any) -> Any:
    """Metadata as plain Python types (what ``weights_only`` loading accepts)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, str):
        return str(value)  # str subclasses (e.g. torch's TorchVersion) are not plain data
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if value is None:
        return None
    return str(value)
