"""glibc malloc tuning for a process that receives large request bodies.

uvicorn hands a body to the app in 256 KiB messages, each copied into fresh buffers several times
on its way. glibc serves allocations of that size with mmap and returns freed memory to the OS at once, so
every copy page-faults on memory the process just gave back: receiving a 256 MiB body through a bare uvicorn
app took 0.65 s of CPU, and 0.35 s with freed memory kept for reuse (benchmarks/README.md, profiler).

The tuning is glibc's own setting, its ``MALLOC_MMAP_THRESHOLD_`` and ``MALLOC_TRIM_THRESHOLD_``
environment variables, which glibc reads once, when the process starts: ``optadvisor serve`` re-executes
itself with them when its environment lacks them (:func:`malloc_environment`), the Dockerfile sets them,
and an app served by another command gets them from whoever starts that process. Only
``malloc_trim`` (:func:`release_free_memory`), an action rather than a setting, is called through ctypes.
"""

import ctypes
import ctypes.util
import functools
import platform
from collections.abc import Mapping

# Allocations from this size on still get their own mapping, so payload-sized arrays go back to the OS when
# freed; it is the largest value glibc accepts on 64-bit (HEAP_MAX_SIZE / 2).
MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024

MMAP_THRESHOLD_VARIABLE = "MALLOC_MMAP_THRESHOLD_"
TRIM_THRESHOLD_VARIABLE = "MALLOC_TRIM_THRESHOLD_"


def malloc_environment(keep_freed_bytes: int, environ: Mapping[str, str]) -> dict[str, str] | None:
    """The environment to restart with so that glibc keeps ``keep_freed_bytes`` of freed heap for reuse,
    or None when ``environ`` already says so (or the C library is not glibc, which has no such knobs).

    0 means the allocator's defaults: both variables removed.
    """
    if platform.libc_ver()[0] != "glibc":
        return None
    wanted = (
        {MMAP_THRESHOLD_VARIABLE: str(MMAP_THRESHOLD_BYTES), TRIM_THRESHOLD_VARIABLE: str(keep_freed_bytes)}
        if keep_freed_bytes
        else {}
    )
    current = {
        name: environ[name] for name in (MMAP_THRESHOLD_VARIABLE, TRIM_THRESHOLD_VARIABLE) if name in environ
    }
    if current == wanted:
        return None
    restarted = {name: value for name, value in environ.items() if name not in current}
    restarted.update(wanted)
    return restarted


@functools.cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    return None if name is None else ctypes.CDLL(name)


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
