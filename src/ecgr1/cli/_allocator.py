"""Keep freed heap memory for reuse instead of handing it back to the kernel (glibc only).

Measuring one record allocates and frees hundreds of temporary arrays of 0.1-1 MB (a 12-lead
10-s record at 500 Hz is 480 kB in float64). With glibc's defaults, a freed block at the top
of the heap beyond the trim threshold (128 kB, raised only as far as the largest block ever
mapped) is returned to the kernel at once, and blocks above the mmap threshold are mapped and
unmapped on every allocation, so the next temporary of the same size page-faults its memory
back in and the kernel zeroes every page again. On the shared 2-core machine this was a
quarter of ``measure()``'s CPU time (LUDB median 25 -> 19 ms per record with the settings
below).

:func:`tune_allocator` keeps ``MMAP_THRESHOLD`` bytes of padding at the heap top and serves
blocks below that size from the heap: the process keeps up to about that much more resident
memory. The command line calls it once per process (``ecgr1 measure``, each of its workers): a
library must not change the allocator of the program that imports it, so ``ecgr1.measure``
leaves it alone. It changes nothing when the C library is not glibc, when the user set glibc's
own ``MALLOC_*`` environment variables or ``GLIBC_TUNABLES``, or when
``ECGR1_MALLOC_TUNING=0``. Results do not depend on it.
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys

M_TOP_PAD = -2  # glibc <malloc.h>
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 16 * 2**20  # bytes: larger than any per-record temporary of a 10-s record
TOP_PAD = 16 * 2**20

_USER_SETTINGS = (
    "GLIBC_TUNABLES",
    "MALLOC_TOP_PAD_",
    "MALLOC_MMAP_THRESHOLD_",
    "MALLOC_TRIM_THRESHOLD_",
    "MALLOC_MMAP_MAX_",
)


@functools.cache
def tune_allocator() -> bool:
    """Set glibc's heap top padding and mmap threshold once; True when they were set (later
    calls return the first call's answer)."""
    if (
        not sys.platform.startswith("linux")
        or os.environ.get("ECGR1_MALLOC_TUNING", "1") == "0"
        or any(name in os.environ for name in _USER_SETTINGS)
    ):
        return False
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 - glibc only: musl's mallopt does nothing
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TOP_PAD, TOP_PAD))
