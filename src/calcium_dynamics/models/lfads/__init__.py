"""LFADS family: one sequential VAE core with swappable observation models and augmentations.

Variants (``VARIANTS``): ``radical`` (zero-inflated gamma + SBTT on sub-frame deconvolved
events), ``autolfads`` (Poisson on frame-binned discretised events), ``calcium_lfads``
(calcium AR-Poisson on ΔF/F) and ``gaussian_lfads`` (Gaussian on ΔF/F, the baseline).
"""

from calcium_dynamics.models.lfads.augmentations import (
    Augmentation,
    AugmentationStack,
    CoordinatedDropout,
    SelectiveBackprop,
)
from calcium_dynamics.models.lfads.data import LFADSDataModule, split_trials, validate_lfads_data
from calcium_dynamics.models.lfads.model import LFADS
from calcium_dynamics.models.lfads.observations import (
    CalciumARPoissonObservation,
    GaussianObservation,
    Observation,
    PoissonObservation,
    ZIGObservation,
    build_observation,
)
from calcium_dynamics.models.lfads.training import (
    VARIANTS,
    build_model,
    make_trainer,
    model_from_dict,
    model_to_dict,
    train_lfads,
)

__all__ = [
    "LFADS",
    "VARIANTS",
    "Augmentation",
    "AugmentationStack",
    "CalciumARPoissonObservation",
    "CoordinatedDropout",
    "GaussianObservation",
    "LFADSDataModule",
    "Observation",
    "PoissonObservation",
    "SelectiveBackprop",
    "ZIGObservation",
    "build_model",
    "build_observation",
    "make_trainer",
    "model_from_dict",
    "model_to_dict",
    "split_trials",
    "train_lfads",
    "validate_lfads_data",
]
