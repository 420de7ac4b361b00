"""keep_freed_memory: copies of upload-sized chunks stop page-faulting once freed memory is kept."""

import subprocess
import sys

import pytest

from optadvisor.service.allocator import keep_freed_memory

# Copies 256 KiB chunks the way a body is received, and prints the minor page faults that took.
_COPY_CHUNKS = """
import resource, sys
from optadvisor.service.allocator import keep_freed_memory
if sys.argv[1] == "keep":
    assert keep_freed_memory(64 * 1024 * 1024)
chunk = bytes(256 * 1024)
for _ in range(20):  # warm-up: the heap grows once
    bytearray(chunk)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(500):
    bytes(bytearray(chunk))
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _page_faults(mode: str) -> int:
    result = subprocess.run(
        [sys.executable, "-c", _COPY_CHUNKS, mode], capture_output=True, text=True, check=True, timeout=60
    )
    return int(result.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_kept_memory_removes_the_page_faults_of_chunk_copies() -> None:
    default, kept = _page_faults("default"), _page_faults("keep")
    assert default > 500 * 64  # each copy maps fresh pages: 64 faults per 256 KiB at least
    assert kept < default / 20


def test_zero_leaves_the_allocator_alone() -> None:
    assert keep_freed_memory(0) is False
