"""Which model, which ensemble, and what to warn about, for every cell.

Per recording, :class:`ModelSet` picks the model whose frame rate is nearest the recording's
(on a log scale: 9.8 Hz is nearer 7.5 Hz than 15 Hz). Per cell, the trace is resampled to that
model's rate, ν is measured *there* (where the zoo's noise levels were made by noise matching)
and the nearest level is used. Cells the model does not cover are served with a named warning
in the routing table, never silently:

``frame_rate_far``
    the recording's rate is more than 20 % from the model's (train a zoo at its rate);
``nu_above_range``
    ν is above the zoo's largest level + 0.5;
``nan_fraction_high``
    more than ``max_nan_fraction`` of the frames are NaN;
``too_short``
    fewer frames (at the model's rate) than one model window: predicted from zero padding;
``all_nan``
    no finite frame: rates NaN, no events;
``dff_implausible``
    some |ΔF/F| above ``max_abs_dff`` (a fraction; 100 = 10,000 %): an outlier frame or raw
    fluorescence given as ΔF/F; rates NaN, no events;
``rate_implausible``
    an inferred rate above ``max_rate_hz``: rates NaN, no events;
``interval_wide``
    (with ``interval``) the interval's mean width exceeds ``max_interval_ratio`` times the
    s.d. of the cell's rate: the bounds do not resolve the cell's rate changes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from calcium_dynamics.models.spike_models import SpikeModel
from calcium_dynamics.signal.validation import check_frame_rate

#: how far (relative) a recording's frame rate may be from its model's before a warning
FRAME_RATE_TOLERANCE = 0.2

WARNING_HELP = {
    "frame_rate_far": "train a zoo at the recording's rate: {retrain}",
    "nu_above_range": "these cells are noisier than every ensemble of the zoo; their rates "
    "are less reliable (a high-noise zoo covers ν up to 30)",
    "nan_fraction_high": "many NaN frames: check motion correction / ROI extraction",
    "too_short": "recordings shorter than one model window are predicted from zero padding",
    "all_nan": "no finite ΔF/F frame",
    "dff_implausible": "|ΔF/F| beyond the plausible range: check for outlier frames or raw "
    "fluorescence passed as ΔF/F (a fraction: 1.0 = 100 %)",
    "rate_implausible": "inferred rates beyond the plausible range",
    "interval_wide": "the rate interval is wider than the rate's own variation: read these "
    "rates as coarse (noisier or sparser cells than the calibration datasets)",
}


@dataclass(frozen=True)
class Limits:
    """Plausibility limits applied per cell.

    Attributes:
        min_frame_rate_hz, max_frame_rate_hz: accepted recording frame rates (Hz); outside
            is an error naming the recording.
        max_abs_dff: largest plausible |ΔF/F| (fraction); beyond: ``dff_implausible``.
        max_rate_hz: largest plausible inferred rate (Hz); beyond: ``rate_implausible``.
        max_nan_fraction: share of NaN frames above which ``nan_fraction_high`` is set.
        max_interval_ratio: mean interval width / s.d. of the rate above which
            ``interval_wide`` is set (with ``interval``).
        on_implausible: ``"mask"`` (rates NaN, a named warning, the run goes on) or
            ``"raise"`` (stop with an error naming the cell).
    """

    min_frame_rate_hz: float = 0.5
    max_frame_rate_hz: float = 1000.0
    max_abs_dff: float = 100.0
    max_rate_hz: float = 1000.0
    max_nan_fraction: float = 0.25
    max_interval_ratio: float = 2.0
    on_implausible: str = "mask"

    def __post_init__(self) -> None:
        if self.on_implausible not in ("mask", "raise"):
            raise ValueError(
                f"on_implausible must be 'mask' or 'raise', got {self.on_implausible!r}"
            )

    @classmethod
    def from_params(cls, params: dict | None) -> Limits:
        params = dict(params or {})
        unknown = set(params) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(
                f"unknown plausibility limit(s) {sorted(unknown)}; "
                f"known: {sorted(cls.__dataclass_fields__)}"
            )
        return cls(
            **{k: (str(v) if k == "on_implausible" else float(v)) for k, v in params.items()}
        )

    def check_frame_rate(self, frame_rate_hz: float, what: str) -> float:
        rate = check_frame_rate(frame_rate_hz, what)  # missing, NaN, ≤ 0: named errors
        if not self.min_frame_rate_hz <= rate <= self.max_frame_rate_hz:
            raise ValueError(
                f"{what}: frame rate {rate:g} Hz is outside the accepted "
                f"{self.min_frame_rate_hz:g}–{self.max_frame_rate_hz:g} Hz (a frame rate in "
                "Hz, not a frame period in s?); the limits are parameters"
            )
        return rate


@dataclass
class Candidate:
    """A model to route to: name, version and a loader (models load only when used)."""

    name: str
    version: str | None
    frame_rate_hz: float
    kind: str
    loader: Callable[[], SpikeModel] = field(repr=False)
    _model: SpikeModel | None = field(default=None, repr=False)

    @property
    def model(self) -> SpikeModel:
        if self._model is None:
            self._model = self.loader()
        return self._model

    @classmethod
    def of(cls, model: SpikeModel, name: str, version: str | None = None) -> Candidate:
        return cls(name, version, model.frame_rate_hz, model.kind, lambda: model, model)


@dataclass
class ModelSet:
    """The models a call may route to (one for an explicit model, the shipped zoos for auto).

    Attributes:
        candidates: at least one.
        retrain_hint: the command suggested with ``frame_rate_far`` (``{rate}`` is filled in).
        causal: the candidates are causal models and must match the recording's frame rate.
    """

    candidates: list[Candidate]
    retrain_hint: str = (
        "python -m calcium_dynamics.models.spikes.zoo_training --ground-truth PATH "
        "--name cascade-{name_rate}hz-excitatory --frame-rate {rate} --sigma-ms {sigma_ms}"
    )
    #: closed-loop routing: only causal models, and a recording must lie within
    #: :data:`FRAME_RATE_TOLERANCE` of one's frame rate (no silent far-rate fallback)
    causal: bool = False

    def __post_init__(self) -> None:
        if not self.candidates:
            raise ValueError("no spike model to route to")

    def choose(self, frame_rate_hz: float) -> Candidate:
        """The candidate whose frame rate is nearest ``frame_rate_hz`` on a log scale."""
        return min(
            self.candidates,
            key=lambda c: (abs(math.log(c.frame_rate_hz / frame_rate_hz)), c.frame_rate_hz),
        )

    def retrain_command(self, frame_rate_hz: float) -> str:
        sigma_ms = suggested_sigma_ms(frame_rate_hz)
        name_rate = f"{frame_rate_hz:g}".replace(".", "p")
        return self.retrain_hint.format(
            rate=f"{frame_rate_hz:g}", sigma_ms=f"{sigma_ms:g}", name_rate=name_rate
        )


def suggested_sigma_ms(frame_rate_hz: float) -> float:
    """CASCADE's pairing of frame rate and kernel: σ ≈ 1.5 frames, within 25–200 ms."""
    return float(min(200.0, max(25.0, round(1500.0 / frame_rate_hz / 5) * 5)))


def frame_rate_far(recording_hz: float, model_hz: float) -> bool:
    return abs(recording_hz - model_hz) > FRAME_RATE_TOLERANCE * model_hz


def zoo_level(model: SpikeModel, nu: float) -> float:
    """The ensemble level a trace of noise ``nu`` (measured at the model's rate) goes to; NaN
    for a model with a single ensemble (ENS²) or a non-finite ν."""
    if len(model.noise_levels) == 1 or not math.isfinite(nu):
        return float("nan")
    return float(model.level_for(nu))


def nu_above_range(model: SpikeModel, nu: float) -> bool:
    levels = model.noise_levels
    return model.spec.noise_specific and math.isfinite(nu) and nu > max(levels) + 0.5
