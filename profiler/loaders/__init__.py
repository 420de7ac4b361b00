"""Gradient samples from uploaded files: `.npy`, `.npz` and `.safetensors`; pickles are refused."""

from __future__ import annotations

import os
from typing import BinaryIO

import numpy as np

from optadvisor.profiler.errors import InvalidGradients, UnsupportedGradientFormat
from optadvisor.profiler.limits import Limits
from optadvisor.profiler.loaders.common import ElementBudget, check_group_name, to_sample
from optadvisor.profiler.loaders.npy import NPY_MAGIC, read_npy
from optadvisor.profiler.loaders.npz import read_npz
from optadvisor.profiler.loaders.safetensors_file import read_safetensors
from optadvisor.profiler.sample import GradientSample

_PICKLE_EXTENSIONS = (".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin", ".joblib")
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_MAX_NAMED_EXTENSION = 16


def samples_from_file(filename: str, stream: BinaryIO, limits: Limits) -> dict[str, GradientSample]:
    """Load the gradient groups of one uploaded file; ``stream`` must be seekable.

    `.npy` gives one group named after the file's stem, `.npz` one group per member, `.safetensors`
    one group per tensor. Arrays shaped ``[T, ...]`` are flattened to ``[T, D]``.

    Raises:
        UnsupportedGradientFormat: pickles and torch files, unknown extensions, refused dtypes.
        GradientLimitExceeded: more elements, groups, members or decompressed bytes than ``limits``.
        InvalidGradients: malformed or truncated files, content not matching the extension, bad values.
    """
    basename = os.path.basename(filename.replace("\\", "/"))
    stem, extension = os.path.splitext(basename)
    extension = extension.lower()
    if extension in _PICKLE_EXTENSIONS:
        raise UnsupportedGradientFormat(
            f"{extension} files are refused (pickle-based); send .npy, .npz or .safetensors"
        )
    stream.seek(0, os.SEEK_END)
    size = stream.tell()
    stream.seek(0)
    prefix = stream.read(8)
    stream.seek(0)
    if _is_pickle(prefix):
        raise UnsupportedGradientFormat("pickle data is refused; send .npy, .npz or .safetensors")
    budget = ElementBudget(limits)
    arrays: dict[str, np.ndarray]
    if extension == ".npy":
        if not prefix.startswith(NPY_MAGIC):
            raise InvalidGradients("the file's content is not an .npy array")
        group = check_group_name(stem)
        arrays = {group: read_npy(stream, size, limits, budget, group)}
    elif extension == ".npz":
        if not prefix.startswith(_ZIP_MAGIC):
            raise InvalidGradients("the file's content is not an .npz (zip) archive")
        arrays = read_npz(stream, size, limits, budget)
    elif extension == ".safetensors":
        arrays = read_safetensors(stream, size, limits, budget)
    else:
        # The extension is the client's text: named only when it is short.
        named = extension if 0 < len(extension) <= _MAX_NAMED_EXTENSION else "(unknown)"
        raise UnsupportedGradientFormat(f"unsupported file type {named}; send .npy, .npz or .safetensors")
    samples: dict[str, GradientSample] = {}
    for group in list(arrays):
        # Release each raw array as soon as its sample exists: at most one conversion copy is alive.
        samples[group] = to_sample(arrays.pop(group), group)
    return samples


def _is_pickle(prefix: bytes) -> bool:
    """Pickle protocol 2+ streams open with PROTO (0x80) and the protocol number."""
    return len(prefix) >= 2 and prefix[0] == 0x80 and 2 <= prefix[1] <= 5
