"""Searchable LFADS hyperparameters: initial draws, PBT perturbations, and model settings.

A search space is a mapping ``name -> HyperParameter``. Names are LFADS constructor arguments
(``lr``, ``dropout``, ``kl_ic_scale``, ``kl_co_scale``, ``l2_gen_scale``, ``l2_con_scale``,
``l2_ic_enc_scale``, ``l2_ci_enc_scale``) or one of two derived names:

* ``cd_rate`` — the coordinated-dropout rate, applied as ``cd_keep_ratio = 1 − cd_rate``;
* ``sig_prior`` — the zero-inflated-gamma scale prior, applied to ``observation_kwargs``.

Population-based training perturbs a copied member's hyperparameters by a random factor in
``[1 − w, 1 + w]`` (``w = 0.3``: factors between 0.7 and 1.3). Parameters on a log scale
(``log: true``, the KL and L2 scales) are drawn log-uniformly and their factor is drawn
log-uniformly between the same bounds, so that shrinking and growing are equally likely in log
space. Parameters with ``clip: true`` (learning rate and dropout probabilities) stay inside their
range; the others may leave their initial range, as in AutoLFADS.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

#: names that are not LFADS constructor arguments but map onto one
DERIVED = ("cd_rate", "sig_prior")

#: LFADS constructor arguments a search may set directly
MODEL_ARGUMENTS = (
    "lr",
    "dropout",
    "kl_ic_scale",
    "kl_co_scale",
    "l2_gen_scale",
    "l2_con_scale",
    "l2_ic_enc_scale",
    "l2_ci_enc_scale",
)


@dataclass(frozen=True)
class HyperParameter:
    """One searchable hyperparameter.

    Attributes:
        low, high: initial range (inclusive); ``low > 0`` when ``log``.
        log: draw (and perturb) on a log scale.
        clip: keep every perturbed value inside ``[low, high]``.
        explore_weight: perturbation factors lie in ``[1 − w, 1 + w]``; ``0 <= w < 1``.
    """

    low: float
    high: float
    log: bool = False
    clip: bool = True
    explore_weight: float = 0.3

    def __post_init__(self):
        if not (math.isfinite(self.low) and math.isfinite(self.high)) or self.low > self.high:
            raise ValueError(f"need finite low <= high; got low={self.low}, high={self.high}")
        if self.log and self.low <= 0:
            raise ValueError(f"a log-scale hyperparameter needs low > 0; got {self.low}")
        if not 0.0 <= self.explore_weight < 1.0:
            raise ValueError(f"explore_weight must be in [0, 1); got {self.explore_weight}")

    def sample(self, rng: np.random.Generator) -> float:
        """An initial value: uniform, or log-uniform when ``log``."""
        if self.log:
            return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))
        return float(rng.uniform(self.low, self.high))

    def perturb(self, value: float, rng: np.random.Generator) -> float:
        """``value`` times a random factor in ``[1 − w, 1 + w]`` (clipped when ``clip``)."""
        lo, hi = 1.0 - self.explore_weight, 1.0 + self.explore_weight
        factor = (
            math.exp(rng.uniform(math.log(lo), math.log(hi))) if self.log else rng.uniform(lo, hi)
        )
        new = float(value) * float(factor)
        if self.clip:
            new = min(max(new, self.low), self.high)
        return new


def parse_search_space(spec: dict[str, dict[str, Any]]) -> dict[str, HyperParameter]:
    """Search space from parameters (``{name: {low, high, log, clip, explore_weight}}``).

    Raises:
        ValueError: naming an unknown hyperparameter or a bad range.
    """
    if not spec:
        raise ValueError("the search space is empty; give at least one hyperparameter")
    known = (*MODEL_ARGUMENTS, *DERIVED)
    space = {}
    for name, entry in spec.items():
        if name not in known:
            raise ValueError(f"unknown searchable hyperparameter {name!r}; known: {list(known)}")
        extra = set(entry) - {"low", "high", "log", "clip", "explore_weight"}
        if extra:
            raise ValueError(f"search_space.{name}: unknown key(s) {sorted(extra)}")
        try:
            space[name] = HyperParameter(
                low=float(entry["low"]),
                high=float(entry["high"]),
                log=bool(entry.get("log", False)),
                clip=bool(entry.get("clip", True)),
                explore_weight=float(entry.get("explore_weight", 0.3)),
            )
        except KeyError as exc:
            raise ValueError(f"search_space.{name} needs 'low' and 'high'") from exc
        except ValueError as exc:
            raise ValueError(f"search_space.{name}: {exc}") from exc
    return space


def initial_population(
    space: dict[str, HyperParameter], size: int, seed: int
) -> list[dict[str, float]]:
    """``size`` independent draws from the initial ranges (reproducible from ``seed``)."""
    if size < 1:
        raise ValueError(f"population size must be >= 1; got {size}")
    rng = np.random.default_rng(seed)
    return [{name: hp.sample(rng) for name, hp in space.items()} for _ in range(size)]


def explore(
    config: dict[str, Any], space: dict[str, HyperParameter], rng: np.random.Generator
) -> dict[str, Any]:
    """A perturbed copy of ``config``: every searched value times its random factor."""
    out = dict(config)
    for name, hp in space.items():
        out[name] = hp.perturb(float(config[name]), rng)
    return out


def apply_hyperparameters(model_params: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """LFADS model keyword arguments with the searched values of ``config`` put in place.

    Keys of ``config`` that are not searchable hyperparameters are ignored (a PBT trial's
    configuration also carries bookkeeping entries).
    """
    params = dict(model_params)
    for name in MODEL_ARGUMENTS:
        if name in config:
            params[name] = float(config[name])
    if "cd_rate" in config:
        rate = float(config["cd_rate"])
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"cd_rate must be in [0, 1); got {rate}")
        params["cd_keep_ratio"] = 1.0 - rate
    if "sig_prior" in config:
        kwargs = dict(params.get("observation_kwargs") or {})
        kwargs["sig_prior"] = float(config["sig_prior"])
        params["observation_kwargs"] = kwargs
    if "dropout" in params and not 0.0 <= float(params["dropout"]) < 1.0:
        raise ValueError(f"dropout must be in [0, 1); got {params['dropout']}")
    return params
