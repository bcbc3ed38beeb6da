"""Keep freed tensor memory in the process between training steps (glibc only).

A training step of a recurrent model at realistic sizes allocates and frees the same large
activations (tens of MiB) every step. glibc's default allocator serves blocks above its mmap
threshold with fresh ``mmap`` pages and returns them to the operating system when freed, so
every step pays a page fault and a zero-fill for each 4 KiB of every such block again. Raising
the mmap threshold and the trim threshold keeps the freed blocks in the heap, where the next
step reuses them; the numbers computed are unchanged (only where the memory comes from).

This is process-wide and lasts for the life of the process. It is a no-op where the C library
is not glibc (macOS, Windows, musl).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

# mallopt parameter numbers of glibc's <malloc.h>
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3

#: glibc caps the mmap threshold at 32 MiB on 64-bit systems (HEAP_MAX_SIZE / 2)
MAX_MMAP_THRESHOLD_MIB = 32


def keep_freed_memory(
    mmap_threshold_mib: int = MAX_MMAP_THRESHOLD_MIB,
    trim_threshold_mib: int = 1024,
    top_pad_mib: int = 256,
) -> dict[str, int] | None:
    """Serve blocks below ``mmap_threshold_mib`` from the heap and keep up to
    ``trim_threshold_mib`` of freed heap memory in the process (MiB each).

    Returns the settings applied (MiB), or None where the C library is not glibc. Raises
    ValueError for a value outside glibc's range (0 < mmap threshold ≤ 32 MiB, the others
    in [0, 2048)) and RuntimeError if glibc refuses a setting.
    """
    if not 0 < mmap_threshold_mib <= MAX_MMAP_THRESHOLD_MIB:
        raise ValueError(
            f"mmap_threshold_mib must be in (0, {MAX_MMAP_THRESHOLD_MIB}]; got {mmap_threshold_mib}"
        )
    for name, mib in (("trim_threshold_mib", trim_threshold_mib), ("top_pad_mib", top_pad_mib)):
        if not 0 <= mib < 2048:  # bytes passed as a C int
            raise ValueError(f"{name} must be in [0, 2048); got {mib}")
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    settings = {
        "mmap_threshold_mib": mmap_threshold_mib,
        "trim_threshold_mib": trim_threshold_mib,
        "top_pad_mib": top_pad_mib,
    }
    for param, mib in (
        (_M_MMAP_THRESHOLD, mmap_threshold_mib),
        (_M_TRIM_THRESHOLD, trim_threshold_mib),
        (_M_TOP_PAD, top_pad_mib),
    ):
        if libc.mallopt(ctypes.c_int(param), ctypes.c_int(mib * 2**20)) != 1:
            raise RuntimeError(f"glibc mallopt refused parameter {param} = {mib} MiB")
    return settings
