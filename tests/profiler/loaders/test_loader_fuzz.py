"""Mutation fuzzing of the file loaders: whatever bytes arrive, a loader answers with samples or a
GradientError (a 4xx in the service), never another exception (a 500).

Seeded and bounded: hypothesis derandomises the run (the same inputs every time), and each format gets a
fixed number of mutated files built from small valid seeds by the mutations that found the known causes:
byte flips, overwritten integers, truncation, insertion and deletion.
"""

import contextlib
import io
import json
import struct
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optadvisor.profiler import GradientError, Limits, samples_from_file

LIMITS = Limits(max_elements=1 << 16, max_decompressed_bytes=1 << 20, max_file_members=8)
EXAMPLES_PER_FORMAT = 600


def _npy(array: np.ndarray) -> bytes:
    stream = io.BytesIO()
    np.save(stream, array)
    return stream.getvalue()


def _npz(compressed: bool) -> bytes:
    stream = io.BytesIO()
    save = np.savez_compressed if compressed else np.savez
    save(stream, w=np.arange(24, dtype=np.float32).reshape(3, 8), b=np.ones((3, 2), np.float64))
    return stream.getvalue()


def _safetensors() -> bytes:
    data = np.arange(12, dtype="<f4").tobytes()
    header = json.dumps(
        {"w": {"dtype": "F32", "shape": [3, 4], "data_offsets": [0, 48]}, "__metadata__": {"a": "b"}}
    ).encode()
    return struct.pack("<Q", len(header)) + header + data


SEEDS = {
    ".npy": [_npy(np.arange(12, dtype=np.float32).reshape(3, 4)), _npy(np.ones((2, 3), ">f8"))],
    ".npz": [_npz(compressed=False), _npz(compressed=True)],
    ".safetensors": [_safetensors()],
}

# Values that break parsers when they land on a length, count, offset or extent.
_INTERESTING = [0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 2**63 - 1, 2**64 - 1]
_TOKENS = [
    b"0",
    b"9" * 25,
    b"9" * 4400,
    b"-1",
    b"(",
    b")",
    b"[",
    b"]",
    b"{",
    b"}",
    b",",
    b'"',
    b"'",
    b"\\",
    b"\x00",
    b"PK",
]


@st.composite
def mutated(draw: st.DrawFn, extension: str) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS[extension])))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "integer", "truncate", "insert", "delete", "token"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "integer":
            width = draw(st.sampled_from([1, 2, 4, 8]))
            value = draw(st.sampled_from(_INTERESTING)) & ((1 << (8 * width)) - 1)
            data[at : at + width] = value.to_bytes(width, "little")
        elif kind == "truncate":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        else:
            data[at:at] = draw(st.sampled_from(_TOKENS))
    return bytes(data)


@pytest.mark.parametrize("extension", sorted(SEEDS))
def test_mutated_files_load_or_raise_gradient_errors(extension: str) -> None:
    @settings(
        max_examples=EXAMPLES_PER_FORMAT,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(mutated(extension))
    def load(data: bytes) -> None:
        with contextlib.suppress(GradientError):
            samples_from_file(f"g{extension}", io.BytesIO(data), LIMITS)

    load()


def test_every_seed_loads() -> None:
    for extension, seeds in SEEDS.items():
        for data in seeds:
            assert samples_from_file(f"g{extension}", io.BytesIO(data), LIMITS)
    assert zipfile.is_zipfile(io.BytesIO(SEEDS[".npz"][0]))
