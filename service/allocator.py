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
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    return None if name is None else ctypes.CDLL(name)


@functools.cache
def _mallopt() -> Callable[[int, int], int] | None:
    function = getattr(_libc(), "mallopt", None)
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


def release_free_memory() -> bool:
    """Return the heap's free memory to the OS now (glibc's malloc_trim); False where that is not possible.

    After a job that parsed a large JSON body or densified a large sample, glibc keeps much of what it freed
    in its free lists (up to the trim threshold per arena, more where fragments pin it): measured 430-600 MiB
    above a fresh process after bursts.
    """
    trim = getattr(_libc(), "malloc_trim", None)
    if trim is None:
        return False
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return bool(trim(0))
