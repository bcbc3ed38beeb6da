"""Calibrated intervals on spike rates: split conformal prediction, one dataset left out.

An ensemble's members disagree more where a rate is uncertain; how much more is learned from
ground truth the ensemble never saw. For every frame of a held-out recording the *score*

    s_t = |r_t − r̂_t| / (σ̂_t + f)

compares the true smoothed rate r_t with the ensemble mean r̂_t (clipped at 0), in units of
the members' spread σ̂_t (s.d., ddof = 1) plus a floor f (the median spread of the calibration
predictions: it needs no ground truth, and keeps frames where every member predicts ≈ 0 from
getting an interval of width 0). The interval at level α is

    [max(0, r̂_t − q_α (σ̂_t + f)),  r̂_t + q_α (σ̂_t + f)],

with q_α the α-quantile of the scores. Each dataset weighs the same in the quantile (its
frames share the weight 1), so q_α targets the coverage of a *new dataset*, not of the largest
one. Scores come from leave-one-dataset-out predictions (the ensemble never trained on the
recording), and the coverage is checked by nesting: the table used on dataset d is fitted on
the other datasets' scores only (:func:`nested_coverage`).

Tables are fitted per noise level ν (the level the test traces were noise-matched to); a cell
routed to an ensemble without a table uses the nearest calibrated level.

Shapes: ``members`` (n_members, n_frames) and ``target`` (n_frames,) in spikes per model frame.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

#: the levels a table holds quantiles for (0.01 … 0.99); others are interpolated
ALPHA_GRID = tuple(round(0.01 * k, 2) for k in range(1, 100))
#: the levels reported in reliability diagrams
REPORT_LEVELS = (0.5, 0.8, 0.9, 0.95)


class CalibrationError(ValueError):
    """A model without (usable) calibration tables for rate intervals."""


def check_level(interval: float) -> float:
    """``interval`` as a float in (0, 1); otherwise a ValueError naming the parameter."""
    try:
        level = float(interval)
    except (TypeError, ValueError):
        raise ValueError(f"interval must be a number in (0, 1), got {interval!r}") from None
    if not 0.0 < level < 1.0 or not math.isfinite(level):
        raise ValueError(f"interval must lie in (0, 1) (e.g. 0.9 for 90 %), got {interval!r}")
    if not ALPHA_GRID[0] <= level <= ALPHA_GRID[-1]:
        raise ValueError(
            f"interval {level:g}: calibrated levels span {ALPHA_GRID[0]:g}–{ALPHA_GRID[-1]:g}"
        )
    return level


def centre_and_spread(members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ensemble mean clipped at 0 (the rate the model reports) and the members' s.d.
    (ddof = 1), each (n_frames,), from ``members`` (n_members ≥ 2, n_frames)."""
    m = np.asarray(members, np.float64)
    if m.ndim != 2 or m.shape[0] < 2:
        raise CalibrationError(
            f"intervals need an ensemble of at least 2 members, got shape {m.shape}"
        )
    return np.clip(m.mean(0), 0.0, None), m.std(0, ddof=1)


def scores(members: np.ndarray, target: np.ndarray, floor: float) -> np.ndarray:
    """Normalised absolute residuals (n_frames,) of finite frames (NaN elsewhere)."""
    centre, spread = centre_and_spread(members)
    return np.abs(np.asarray(target, np.float64) - centre) / (spread + floor)


def weighted_quantiles(
    values: np.ndarray, weights: np.ndarray, levels: Sequence[float]
) -> np.ndarray:
    """Smallest value v with (weight of values ≤ v) ≥ level · total weight, per level."""
    order = np.argsort(values, kind="stable")
    v, w = values[order], weights[order]
    cum = np.cumsum(w)
    idx = np.searchsorted(cum, np.asarray(levels) * cum[-1], side="left")
    return v[np.clip(idx, 0, v.size - 1)]


@dataclass
class Block:
    """The held-out predictions of one dataset: ``members`` (n_members, n_frames) and
    ``target`` (n_frames,), spikes per model frame, at ``frame_rate_hz``."""

    dataset: str
    members: np.ndarray
    target: np.ndarray
    frame_rate_hz: float

    def __post_init__(self) -> None:
        self.members = np.asarray(self.members, np.float32)
        self.target = np.asarray(self.target, np.float32)
        if self.members.ndim != 2 or self.members.shape[1] != self.target.size:
            raise ValueError(
                f"{self.dataset}: members {self.members.shape} do not match target "
                f"{self.target.shape}"
            )
        ok = np.isfinite(self.target) & np.isfinite(self.members).all(0)
        self.members, self.target = self.members[:, ok], self.target[ok]
        if self.target.size == 0:
            raise ValueError(f"{self.dataset}: no finite frame")


@dataclass
class LevelTable:
    """The conformal quantiles of one noise level.

    Attributes:
        noise_level_nu: the level the calibration traces were noise-matched to.
        floor: spread floor f, spikes per model frame.
        quantiles: q_α for α in :data:`ALPHA_GRID` (non-decreasing).
        n_datasets, n_frames: what the table was fitted on.
    """

    noise_level_nu: float
    floor: float
    quantiles: list[float]
    n_datasets: int
    n_frames: int
    datasets: list[str] = field(default_factory=list)

    def q(self, level: float) -> float:
        """q at ``level`` (linear between grid points)."""
        return float(np.interp(check_level(level), ALPHA_GRID, self.quantiles))

    def to_dict(self) -> dict:
        return {
            "noise_level_nu": self.noise_level_nu,
            "floor": self.floor,
            "alphas": list(ALPHA_GRID),
            "quantiles": [round(float(v), 6) for v in self.quantiles],
            "n_datasets": self.n_datasets,
            "n_frames": self.n_frames,
            "datasets": list(self.datasets),
        }

    @classmethod
    def from_dict(cls, data: dict, source: str = "calibration") -> LevelTable:
        try:
            alphas = [round(float(a), 2) for a in data["alphas"]]
            quantiles = [float(v) for v in data["quantiles"]]
            table = cls(
                float(data["noise_level_nu"]),
                float(data["floor"]),
                quantiles,
                int(data["n_datasets"]),
                int(data["n_frames"]),
                list(data.get("datasets", [])),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CalibrationError(f"{source}: malformed level table ({exc})") from None
        if alphas != list(ALPHA_GRID) or len(quantiles) != len(ALPHA_GRID):
            raise CalibrationError(f"{source}: the table's levels are not 0.01 … 0.99")
        q = np.asarray(quantiles)
        if not np.isfinite(q).all() or (np.diff(q) < 0).any() or q.min() < 0:
            raise CalibrationError(f"{source}: quantiles must be finite, ≥ 0 and non-decreasing")
        if not (np.isfinite(table.floor) and table.floor > 0):
            raise CalibrationError(f"{source}: floor must be a positive number")
        return table


def fit_level(blocks: Sequence[Block], noise_level_nu: float) -> LevelTable:
    """The level table of ``blocks`` (one per dataset; each dataset weighs the same)."""
    if len(blocks) < 2:
        raise ValueError("calibration needs held-out predictions of at least 2 datasets")
    spreads = np.concatenate([centre_and_spread(b.members)[1] for b in blocks])
    floor = float(np.median(spreads))
    if not floor > 0:
        floor = float(np.mean(spreads)) or 1e-6
    s = np.concatenate([scores(b.members, b.target, floor) for b in blocks])
    w = np.concatenate([np.full(b.target.size, 1.0 / b.target.size) for b in blocks])
    q = weighted_quantiles(s, w, ALPHA_GRID)
    return LevelTable(
        float(noise_level_nu),
        floor,
        [float(v) for v in np.maximum.accumulate(q)],
        len(blocks),
        int(sum(b.target.size for b in blocks)),
        sorted(b.dataset for b in blocks),
    )


def interval(
    members: np.ndarray, table: LevelTable, level: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(centre, lower, upper) bounds at ``level``, each (n_frames,), spikes per model frame."""
    centre, spread = centre_and_spread(members)
    half = table.q(level) * (spread + table.floor)
    return centre, np.clip(centre - half, 0.0, None), centre + half


def nested_coverage(
    blocks: Sequence[Block], noise_level_nu: float, levels: Iterable[float] = REPORT_LEVELS
) -> list[dict]:
    """Per dataset: coverage of the true rate and mean width (Hz) at each level, with the table
    fitted on the *other* datasets only (nothing of the dataset enters its own interval)."""
    levels = [check_level(lv) for lv in levels]
    rows = []
    for i, b in enumerate(blocks):
        table = fit_level([o for j, o in enumerate(blocks) if j != i], noise_level_nu)
        row = {"dataset": b.dataset, "n_frames": int(b.target.size)}
        for lv in levels:
            _, lo, hi = interval(b.members, table, lv)
            inside = (b.target >= lo) & (b.target <= hi)
            row[f"coverage_{lv:g}"] = float(inside.mean())
            row[f"width_hz_{lv:g}"] = float(np.mean(hi - lo) * b.frame_rate_hz)
        rows.append(row)
    return rows


@dataclass
class Calibration:
    """The calibration tables of one model: one :class:`LevelTable` per calibrated ν.

    Attributes:
        model: the model's name.
        n_members: ensemble size the tables were fitted with (must equal the model's).
        frame_rate_hz: the model's frame rate.
        levels: ν → table.
        expected_corr: ν → median Corr (LODO, the same runs) at that test level.
        provenance: the command, commit, date, seeds and threads that wrote the tables.
    """

    model: str
    n_members: int
    frame_rate_hz: float
    levels: dict[float, LevelTable]
    expected_corr: dict[float, float] = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)

    def table_for(self, nu: float) -> LevelTable:
        """The table of the calibrated level nearest ``nu`` (ties to the lower)."""
        if not self.levels:
            raise CalibrationError(f"{self.model}: calibration holds no level table")
        if not math.isfinite(nu):
            return self.levels[min(self.levels)]
        return self.levels[min(self.levels, key=lambda lv: (abs(lv - nu), lv))]

    def corr_at(self, nu: float) -> tuple[float, float]:
        """(expected median Corr, the ν it was measured at): linear between measured levels,
        the nearest measured level's value outside them."""
        if not self.expected_corr or not math.isfinite(nu):
            return float("nan"), float("nan")
        lv = np.array(sorted(self.expected_corr))
        corr = np.array([self.expected_corr[v] for v in lv])
        at = float(np.clip(nu, lv[0], lv[-1]))
        return float(np.interp(at, lv, corr)), at

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "method": "split conformal, scores |r - mean| / (members' s.d. + floor), datasets "
            "weighted equally, leave-one-dataset-out predictions",
            "n_members": self.n_members,
            "frame_rate_hz": self.frame_rate_hz,
            "levels": [t.to_dict() for _, t in sorted(self.levels.items())],
            "expected_corr": {f"{k:g}": v for k, v in sorted(self.expected_corr.items())},
            "provenance": self.provenance,
        }

    @classmethod
    def from_dict(cls, data: dict, source: str = "calibration") -> Calibration:
        try:
            tables = [LevelTable.from_dict(t, source) for t in data["levels"]]
            cal = cls(
                str(data["model"]),
                int(data["n_members"]),
                float(data["frame_rate_hz"]),
                {t.noise_level_nu: t for t in tables},
                {float(k): float(v) for k, v in (data.get("expected_corr") or {}).items()},
                dict(data.get("provenance") or {}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, CalibrationError):
                raise
            raise CalibrationError(f"{source}: not a calibration table ({exc})") from None
        if not cal.levels:
            raise CalibrationError(f"{source}: calibration holds no level table")
        return cal


def calibration_of(model, name: str) -> Calibration:
    """The calibration attached to a loaded model (``metadata['calibration']``), checked
    against its ensemble size; a :class:`CalibrationError` naming the model otherwise."""
    data = (getattr(model, "metadata", None) or {}).get("calibration")
    parsed = getattr(model, "_parsed_calibration", None)
    if parsed is not None and parsed[0] is data:
        return parsed[1]
    if not data:
        raise CalibrationError(
            f"model {name!r} has no calibration tables for rate intervals. Calibrate it on "
            "held-out ground truth: python benchmarks/spike_lodo.py ... --save-members DIR, then "
            "python benchmarks/spike_intervals.py --runs DIR --model NAME --write-calibration "
            "(see docs/howto/intervals.md); or call without interval="
        )
    cal = data if isinstance(data, Calibration) else Calibration.from_dict(data, name)
    sizes = {len(m) for m in model.ensembles.values()}
    if sizes != {cal.n_members}:
        raise CalibrationError(
            f"model {name!r}: its calibration was fitted with {cal.n_members}-member ensembles "
            f"but the model has {sorted(sizes)} members per level; recalibrate it"
        )
    model._parsed_calibration = (data, cal)  # parsed once per loaded model
    return cal
