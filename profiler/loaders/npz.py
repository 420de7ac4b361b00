"""`.npz` archives read safely: the zip directory is checked before any member is decompressed."""

from __future__ import annotations

import struct
import zipfile
import zlib
from typing import BinaryIO

import numpy as np

from optadvisor.profiler.errors import (
    GradientError,
    GradientLimitExceeded,
    InvalidGradients,
    UnsupportedGradientFormat,
)
from optadvisor.profiler.limits import Limits
from optadvisor.profiler.loaders.common import ElementBudget, check_group_name
from optadvisor.profiler.loaders.npy import read_npy, read_npy_header

# Small members may compress extremely well (an all-zero bias) without being a threat.
_RATIO_CHECK_MIN_BYTES = 1 << 16


# What zipfile raises on a corrupt directory, extra field, name or member (it has no single error class):
# found by mutation fuzzing (tests/profiler/loaders/test_loader_fuzz.py).
_ZIP_FAILURES = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    EOFError,
    ValueError,
    NotImplementedError,
    IndexError,
    KeyError,
    RuntimeError,
    OverflowError,
    struct.error,
)


def read_npz(stream: BinaryIO, size: int, limits: Limits, budget: ElementBudget) -> dict[str, np.ndarray]:
    """One array per member, named after the member without `.npy`."""
    try:
        archive = zipfile.ZipFile(stream)
    except GradientError:
        raise
    except _ZIP_FAILURES:
        raise InvalidGradients("not a readable .npz (zip) archive") from None
    with archive:
        members = _checked_members(archive.infolist(), size, limits)
        try:
            for group, info in members.items():
                with archive.open(info) as member:
                    read_npy_header(member, limits, group)  # type: ignore[arg-type]  # headers before data
            return {
                group: _read_member(archive, info, limits, budget, group) for group, info in members.items()
            }
        except GradientError:
            raise
        except _ZIP_FAILURES:
            raise InvalidGradients(
                "corrupt .npz archive (bad directory, compressed data or checksum)"
            ) from None


def _checked_members(infos: list[zipfile.ZipInfo], size: int, limits: Limits) -> dict[str, zipfile.ZipInfo]:
    if not infos:
        raise InvalidGradients("the .npz archive holds no arrays")
    if len(infos) > limits.max_file_members:
        raise GradientLimitExceeded(
            f"the .npz archive holds {len(infos)} members, "
            f"more than max_file_members ({limits.max_file_members})"
        )
    members: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for position, info in enumerate(infos):
        # The name first: is_dir() fails with IndexError on an empty one.
        if not info.filename.endswith(".npy") or info.is_dir():
            raise InvalidGradients(f"member {position} of the .npz archive is not an .npy array")
        group = check_group_name(info.filename.removesuffix(".npy"))
        if group in members:
            raise InvalidGradients("the .npz archive names this array twice", group=group)
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise UnsupportedGradientFormat("only stored or deflated .npz members are supported", group=group)
        if info.compress_size > size:
            raise InvalidGradients("member claims more compressed bytes than the archive holds", group=group)
        total += info.file_size
        if total > limits.max_decompressed_bytes:
            raise GradientLimitExceeded(
                f"members decompress to more than max_decompressed_bytes ({limits.max_decompressed_bytes})",
                group=group,
            )
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > _RATIO_CHECK_MIN_BYTES and ratio > limits.max_compression_ratio:
            raise GradientLimitExceeded(
                f"compression ratio {ratio:.0f}:1 exceeds max_compression_ratio "
                f"({limits.max_compression_ratio:.0f}); send it uncompressed (np.savez) or as COO JSON",
                group=group,
            )
        members[group] = info
    return members


def _read_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: Limits, budget: ElementBudget, group: str
) -> np.ndarray:
    with archive.open(info) as member:
        return read_npy(member, info.file_size, limits, budget, group)  # type: ignore[arg-type]
