"""Precision of float32 matrix products during training, set for one block and restored.

``torch.set_float32_matmul_precision`` is process-wide. Training reads it from the trainer
parameter ``float32_matmul_precision`` and sets it only while it fits, so inference, other
models and the caller's own setting are untouched:

- ``"highest"`` (the default): IEEE float32 products.
- ``"high"``: TF32 products where the hardware has them (recent GPUs), float32 elsewhere.
- ``"medium"``: bfloat16 products with float32 accumulation where the hardware has them (CPUs
  with AMX or AVX-512-BF16, recent GPUs); elsewhere as ``"high"``. Inputs of each product are
  rounded to 8 significant bits; sums, element-wise operations, parameters and optimiser
  state stay float32.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

#: accepted values, as ``torch.set_float32_matmul_precision`` names them
PRECISIONS = ("highest", "high", "medium")
#: the setting when none is given
DEFAULT_PRECISION = "highest"


def check_matmul_precision(value: object) -> str:
    """``value`` if it is one of :data:`PRECISIONS`; ValueError naming the parameter if not."""
    if value not in PRECISIONS:
        raise ValueError(
            f"float32_matmul_precision must be one of {list(PRECISIONS)}; got {value!r}"
        )
    return str(value)


@contextmanager
def float32_matmul_precision(value: str = DEFAULT_PRECISION) -> Iterator[str]:
    """Run the block with ``torch.set_float32_matmul_precision(value)``; the previous setting
    is restored on exit, also when the block raises. Yields the value."""
    value = check_matmul_precision(value)
    previous = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision(value)
    try:
        yield value
    finally:
        torch.set_float32_matmul_precision(previous)
