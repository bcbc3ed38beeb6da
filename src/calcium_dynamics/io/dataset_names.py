"""Metadata parsed from ground-truth dataset folder names.

Folder names follow ``DSnn-<indicator>-<species>-<region>[-extra]``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SPECIES = {"m": "mouse", "zf": "zebrafish"}
INHIBITORY_TYPES = {"SST", "SOM", "PV", "VIP"}
MODIFIERS = {"vivo", "vitro", "neuropil", "corrected", "subtracted"}
_FOLDER = re.compile(r"^DS(?P<number>\d+)-(?P<rest>.+)$", re.IGNORECASE)


@dataclass(frozen=True)
class DatasetInfo:
    """What a dataset folder name says about its recordings."""

    name: str
    number: int
    indicator: str
    species: str
    region: str
    cell_type: str
    inhibitory: bool


def parse_dataset_name(name: str) -> DatasetInfo:
    """Parse e.g. ``DS22-OGB1-m-SST-V1`` → indicator OGB1, mouse, V1, SST, inhibitory.

    The species token (``m`` or ``zf``) splits the name: everything before it is the indicator
    (which may itself contain dashes, as in ``OGB1-2``), the first token after it that is not a
    cell type (SST, SOM, PV, VIP) or a modifier is the region.
    """
    match = _FOLDER.match(name)
    if not match:
        raise ValueError(
            f"dataset folder {name!r} does not follow 'DSnn-<indicator>-<species>-<region>[-extra]'"
        )
    tokens = match["rest"].split("-")
    species_at = next((i for i, tok in enumerate(tokens) if tok.lower() in SPECIES), None)
    if species_at is None or species_at == 0 or species_at == len(tokens) - 1:
        raise ValueError(
            f"dataset folder {name!r}: expected an indicator, a species token ('m' or 'zf') and a "
            "region"
        )
    after = tokens[species_at + 1 :]
    cell_types = [tok for tok in after if tok.upper() in INHIBITORY_TYPES]
    region = next(
        (t for t in after if t.upper() not in INHIBITORY_TYPES and t.lower() not in MODIFIERS),
        after[0],
    )
    return DatasetInfo(
        name=name,
        number=int(match["number"]),
        indicator="-".join(tokens[:species_at]),
        species=SPECIES[tokens[species_at].lower()],
        region=region,
        cell_type=cell_types[0].upper() if cell_types else "excitatory",
        inhibitory=bool(cell_types),
    )
