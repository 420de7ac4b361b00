"""glibc's MALLOC_* variables, set where the process starts: copies of upload-sized chunks stop
page-faulting, and `optadvisor serve` restarts itself with them."""

import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import pytest
from live_server import REPO_ROOT, free_port

from optadvisor.service.allocator import (
    MMAP_THRESHOLD_BYTES,
    MMAP_THRESHOLD_VARIABLE,
    TRIM_THRESHOLD_VARIABLE,
    malloc_environment,
)

glibc_only = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's MALLOC_* variables")

# Copies 256 KiB chunks the way a body is received, and prints the minor page faults that took.
_COPY_CHUNKS = """
import resource
chunk = bytes(256 * 1024)
for _ in range(20):  # warm-up: the heap grows once
    bytearray(chunk)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(500):
    bytes(bytearray(chunk))
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _page_faults(environment: dict[str, str]) -> int:
    result = subprocess.run(
        [sys.executable, "-c", _COPY_CHUNKS],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return int(result.stdout)


def _without_malloc_variables() -> dict[str, str]:
    return {
        k: v for k, v in os.environ.items() if k not in (MMAP_THRESHOLD_VARIABLE, TRIM_THRESHOLD_VARIABLE)
    }


@glibc_only
def test_kept_memory_removes_the_page_faults_of_chunk_copies() -> None:
    default = _page_faults(_without_malloc_variables())
    kept = malloc_environment(64 * 1024 * 1024, _without_malloc_variables())
    assert kept is not None
    assert default > 500 * 64  # each copy maps fresh pages: 64 faults per 256 KiB at least
    assert _page_faults(kept) < default / 20


@glibc_only
def test_the_environment_is_left_alone_when_it_already_says_so() -> None:
    base = {"PATH": "/bin", MMAP_THRESHOLD_VARIABLE: "1"}
    kept = malloc_environment(1024, base)
    assert kept == {
        "PATH": "/bin",
        MMAP_THRESHOLD_VARIABLE: str(MMAP_THRESHOLD_BYTES),
        TRIM_THRESHOLD_VARIABLE: "1024",
    }
    assert malloc_environment(1024, kept) is None
    assert malloc_environment(0, kept) == {"PATH": "/bin"}  # 0: the allocator's defaults
    assert malloc_environment(0, {"PATH": "/bin"}) is None


@glibc_only
@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads /proc/<pid>/environ")
def test_serve_restarts_itself_with_the_malloc_variables(tmp_path: Path) -> None:
    environment = {
        **_without_malloc_variables(),
        "OPTADVISOR_MALLOC_KEEP_FREED_BYTES": "12345678",
        "OPTADVISOR_DATABASE_URL": f"sqlite:///{tmp_path / 'studies.db'}",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "optadvisor.service.cli", "serve", "--port", str(free_port())],
        cwd=REPO_ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline, seen = time.monotonic() + 60, b""
        while time.monotonic() < deadline and TRIM_THRESHOLD_VARIABLE.encode() not in seen:
            seen = Path(f"/proc/{process.pid}/environ").read_bytes()
            time.sleep(0.1)
        variables = dict(item.split(b"=", 1) for item in seen.split(b"\0") if b"=" in item)
        assert variables[TRIM_THRESHOLD_VARIABLE.encode()] == b"12345678"
        assert variables[MMAP_THRESHOLD_VARIABLE.encode()] == str(MMAP_THRESHOLD_BYTES).encode()
    finally:
        process.terminate()
        process.wait(timeout=30)
