import io
import json
import struct

import numpy as np
import pytest
from safetensors.numpy import save

from optadvisor.profiler import (
    GradientLimitExceeded,
    InvalidGradients,
    Limits,
    UnsupportedGradientFormat,
    samples_from_file,
)


def safetensors_file(header: dict[str, object], data: bytes) -> io.BytesIO:
    encoded = json.dumps(header).encode()
    return io.BytesIO(struct.pack("<Q", len(encoded)) + encoded + data)


def test_one_group_per_tensor(limits: Limits) -> None:
    tensors = {"w": np.arange(24, dtype=np.float32).reshape(3, 8), "b": np.ones((3, 2, 2), np.float64)}
    samples = samples_from_file("model.safetensors", io.BytesIO(save(tensors)), limits)
    assert sorted(samples) == ["b", "w"]
    np.testing.assert_array_equal(samples["w"].values, tensors["w"])
    assert samples["b"].values.shape == (3, 4)


def test_bfloat16_is_unsupported_and_names_the_tensor(limits: Limits) -> None:
    stream = safetensors_file({"emb": {"dtype": "BF16", "shape": [2, 2], "data_offsets": [0, 8]}}, b"\0" * 8)
    with pytest.raises(UnsupportedGradientFormat, match="bfloat16") as caught:
        samples_from_file("g.safetensors", stream, limits)
    assert caught.value.group == "emb"


def test_header_length_beyond_the_file(limits: Limits) -> None:
    with pytest.raises(InvalidGradients, match="header claims"):
        samples_from_file("g.safetensors", io.BytesIO(struct.pack("<Q", 5000) + b"{}"), limits)
    with pytest.raises(GradientLimitExceeded):
        samples_from_file("g.safetensors", io.BytesIO(struct.pack("<Q", 2**40) + b"{}"), limits)


def test_offsets_that_overlap_or_disagree(limits: Limits) -> None:
    overlapping = {
        "a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
        "b": {"dtype": "F32", "shape": [2, 2], "data_offsets": [8, 24]},
    }
    with pytest.raises(InvalidGradients, match="overlaps"):
        samples_from_file("g.safetensors", safetensors_file(overlapping, b"\0" * 24), limits)
    wrong_size = {"a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 16]}}
    with pytest.raises(InvalidGradients, match="disagree"):
        samples_from_file("g.safetensors", safetensors_file(wrong_size, b"\0" * 16), limits)
    outside = {"a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}
    with pytest.raises(InvalidGradients, match="outside"):
        samples_from_file("g.safetensors", safetensors_file(outside, b"\0" * 8), limits)


def test_tensor_count_and_element_limits() -> None:
    tensors = {f"t{i}": np.ones((2, 2), np.float32) for i in range(3)}
    with pytest.raises(GradientLimitExceeded, match="tensors"):
        samples_from_file("g.safetensors", io.BytesIO(save(tensors)), Limits(max_file_members=2))
    with pytest.raises(GradientLimitExceeded, match="elements"):
        samples_from_file("g.safetensors", io.BytesIO(save(tensors)), Limits(max_elements=10))


def test_malformed_header(limits: Limits) -> None:
    with pytest.raises(InvalidGradients, match="JSON"):
        samples_from_file("g.safetensors", io.BytesIO(struct.pack("<Q", 3) + b"{{{"), limits)
    with pytest.raises(InvalidGradients, match="exactly"):
        samples_from_file("g.safetensors", safetensors_file({"a": {"dtype": "F32"}}, b""), limits)


def test_non_finite_values_name_the_tensor(limits: Limits) -> None:
    values = np.ones((3, 2), np.float32)
    values[2, 0] = np.inf
    with pytest.raises(InvalidGradients, match="row 2") as caught:
        samples_from_file("g.safetensors", io.BytesIO(save({"w": values})), limits)
    assert caught.value.group == "w"


def test_a_tensor_at_an_unaligned_offset_is_loaded_aligned(limits: Limits) -> None:
    values = np.arange(12, dtype=np.float32).reshape(3, 4)
    header = {
        "pad": {"dtype": "U8", "shape": [3, 1], "data_offsets": [0, 3]},
        "w": {"dtype": "F32", "shape": [3, 4], "data_offsets": [3, 51]},
    }
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)  # data starts 8-byte aligned, as safetensors writes it
    content = struct.pack("<Q", len(encoded)) + encoded + b"\x01\x02\x03" + values.tobytes()
    samples = samples_from_file("m.safetensors", io.BytesIO(content), limits)
    assert samples["w"].values.flags.aligned
    np.testing.assert_array_equal(samples["w"].values, values)
