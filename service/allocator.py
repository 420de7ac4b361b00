"""glibc malloc tuning for a process that receives large request bodies.

uvicorn hands a body to the app in 256 KiB messages, each copied into fresh buffers several times
on its way. glibc serves allocations of that size with mmap and returns freed memory to the OS at once, so
every copy page-faults on memory the process just gave back: receiving a 256 MiB body through a bare uvicorn
app took 0.65 s of CPU, and 0.35 s with freed memory kept for reuse (benchmarks/README.md, profiler).
"""

import ctypes
import ctypes.util
import functools
from collections.abc import Callable

# mallopt parameters, from glibc's malloc.h.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# Allocations from this size on still get their own mapping, so payload-sized arrays go back to the OS when
# freed; it is the largest value glibc accepts on 64-bit (HEAP_MAX_SIZE / 2).
MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024


@functools.cache
def _mallopt() -> Callable[[int, int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    function = getattr(ctypes.CDLL(name), "mallopt", None)
    if function is not None:
        function.argtypes, function.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return function


def keep_freed_memory(trim_threshold_bytes: int) -> bool:
    """Let glibc keep up to `trim_threshold_bytes` of freed heap for reuse; False where that is not possible.

    0 leaves the allocator as it is. Only glibc's malloc has these knobs (musl and macOS do not).
    """
    mallopt = _mallopt()
    if trim_threshold_bytes == 0 or mallopt is None:
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(_M_TRIM_THRESHOLD, trim_threshold_bytes)
    )
