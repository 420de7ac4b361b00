"""Shared fixtures for the profiler tests."""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import pytest

from optadvisor.profiler import Limits


@pytest.fixture
def limits() -> Limits:
    return Limits()


@pytest.fixture
def npy_file() -> Callable[[np.ndarray], io.BytesIO]:
    """Make an in-memory `.npy` file of an array, rewound."""

    def make(array: np.ndarray) -> io.BytesIO:
        stream = io.BytesIO()
        np.save(stream, array, allow_pickle=False)
        stream.seek(0)
        return stream

    return make
