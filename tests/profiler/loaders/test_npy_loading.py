import io
import resource
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from optadvisor.profiler import (
    GradientLimitExceeded,
    InvalidGradients,
    Limits,
    UnsupportedGradientFormat,
    samples_from_file,
)


def npy_with_header(header: str, data: bytes) -> io.BytesIO:
    encoded = header.encode("latin1")
    encoded += b" " * (63 - (len(encoded) + 10) % 64) + b"\n"
    return io.BytesIO(b"\x93NUMPY\x01\x00" + len(encoded).to_bytes(2, "little") + encoded + data)


def test_arrays_are_flattened_to_steps_by_coordinates(
    limits: Limits, npy_file: Callable[[np.ndarray], io.BytesIO]
) -> None:
    array = np.arange(48, dtype=np.float32).reshape(4, 3, 4)
    samples = samples_from_file("layers/w.npy", npy_file(array), limits)
    assert list(samples) == ["w"]
    np.testing.assert_array_equal(samples["w"].values, array.reshape(4, 12))


def test_fortran_order_big_endian_and_half_precision_are_read_as_native_floats(
    limits: Limits, npy_file: Callable[[np.ndarray], io.BytesIO]
) -> None:
    array = np.asfortranarray(np.arange(12, dtype=">f8").reshape(3, 4))
    values = samples_from_file("w.npy", npy_file(array), limits)["w"].values
    np.testing.assert_array_equal(values, np.arange(12).reshape(3, 4))
    half = samples_from_file("h.npy", npy_file(np.ones((2, 3), np.float16)), limits)["h"].values
    assert half.dtype == np.float32


def test_header_claiming_huge_array_fails_fast_without_allocating(limits: Limits) -> None:
    stream = npy_with_header(
        "{'descr': '<f8', 'fortran_order': False, 'shape': (100000000000,), }", b"\0" * 64
    )
    assert len(stream.getvalue()) < 256
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(GradientLimitExceeded) as caught:
        samples_from_file("bomb.npy", stream, limits)
    assert caught.value.group == "bomb"
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # KiB


def test_truncated_data_is_refused(limits: Limits, npy_file: Callable[[np.ndarray], io.BytesIO]) -> None:
    data = npy_file(np.ones((4, 8), np.float32)).getvalue()
    with pytest.raises(InvalidGradients, match="declares 128 bytes of data but 100"):
        samples_from_file("t.npy", io.BytesIO(data[:-28]), limits)


def test_object_dtype_is_refused_without_unpickling(limits: Limits) -> None:
    stream = io.BytesIO()
    np.save(stream, np.array([[1, "a"], [2, "b"]], dtype=object), allow_pickle=True)
    stream.seek(0)
    with pytest.raises(UnsupportedGradientFormat, match="object"):
        samples_from_file("o.npy", stream, limits)


@pytest.mark.parametrize("dtype", ["<c8", "|b1", "<U3", "<M8[s]"])
def test_dtypes_outside_the_allow_list(
    limits: Limits, dtype: str, npy_file: Callable[[np.ndarray], io.BytesIO]
) -> None:
    with pytest.raises(UnsupportedGradientFormat, match="dtype"):
        samples_from_file("x.npy", npy_file(np.zeros((2, 2), dtype=dtype)), limits)


def test_structured_dtype_is_refused(limits: Limits, npy_file: Callable[[np.ndarray], io.BytesIO]) -> None:
    array = np.zeros((2, 2), dtype=[("a", "<f4"), ("b", "<f4")])
    with pytest.raises(UnsupportedGradientFormat):
        samples_from_file("s.npy", npy_file(array), limits)


def test_oversized_or_malformed_headers(limits: Limits) -> None:
    long_header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }" + " " * 20_000
    with pytest.raises(InvalidGradients, match="header"):
        samples_from_file("h.npy", npy_with_header(long_header, b"\0" * 16), limits)
    with pytest.raises(InvalidGradients, match="header"):
        samples_from_file("h.npy", npy_with_header("{'descr': __import__('os')}", b""), limits)


def test_non_finite_values_name_the_group_and_row(
    limits: Limits, npy_file: Callable[[np.ndarray], io.BytesIO]
) -> None:
    array = np.ones((5, 3), np.float32)
    array[3, 1] = np.nan
    with pytest.raises(InvalidGradients, match="row 3") as caught:
        samples_from_file("emb.npy", npy_file(array), limits)
    assert caught.value.group == "emb"


def test_shape_problems(limits: Limits, npy_file: Callable[[np.ndarray], io.BytesIO]) -> None:
    with pytest.raises(InvalidGradients, match="0-dimensional"):
        samples_from_file("s.npy", npy_file(np.float32(1.0)), limits)
    with pytest.raises(InvalidGradients, match="at least 2 steps"):
        samples_from_file("s.npy", npy_file(np.ones((1, 3), np.float32)), limits)
    with pytest.raises(InvalidGradients, match="at least 1 coordinate"):
        samples_from_file("s.npy", npy_file(np.ones((3, 0), np.float32)), limits)


def test_negative_extents_are_refused(limits: Limits) -> None:
    stream = npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (4, -2), }", b"\0" * 32)
    with pytest.raises(InvalidGradients, match=">= 0"):
        samples_from_file("n.npy", stream, limits)


def test_in_memory_and_file_streams_load_the_same_array(
    limits: Limits, npy_file: Callable[[np.ndarray], io.BytesIO], tmp_path: Path
) -> None:
    array = np.random.default_rng(0).standard_normal((6, 5)).astype(np.float32)
    in_memory = npy_file(array)
    path = tmp_path / "w.npy"
    path.write_bytes(in_memory.getvalue())
    with path.open("rb") as on_disk:
        from_file = samples_from_file("w.npy", on_disk, limits)["w"].values
    from_memory = samples_from_file("w.npy", in_memory, limits)["w"].values
    np.testing.assert_array_equal(from_memory, from_file)
    np.testing.assert_array_equal(from_memory, array)
