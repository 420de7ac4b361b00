import io
import zipfile
from collections.abc import Callable

import numpy as np
import pytest

from optadvisor.profiler import GradientLimitExceeded, InvalidGradients, Limits, samples_from_file


def test_one_group_per_member(limits: Limits) -> None:
    stream = io.BytesIO()
    np.savez(stream, **{"encoder.w": np.ones((3, 2, 2), np.float32), "bias": np.zeros((3, 4))})
    stream.seek(0)
    samples = samples_from_file("grads.npz", stream, limits)
    assert sorted(samples) == ["bias", "encoder.w"]
    assert samples["encoder.w"].values.shape == (3, 4)


def test_zip_bomb_is_refused_before_decompression() -> None:
    stream = io.BytesIO()
    np.savez_compressed(stream, big=np.zeros(2**24, np.float64))  # 128 MiB of zeros, ~130 KB on disk
    assert stream.tell() < 200_000
    stream.seek(0)
    with pytest.raises(GradientLimitExceeded, match="max_decompressed_bytes") as caught:
        samples_from_file("bomb.npz", stream, Limits(max_decompressed_bytes=2**26))
    assert caught.value.group == "big"


def test_extreme_compression_ratio_is_refused(limits: Limits) -> None:
    stream = io.BytesIO()
    np.savez_compressed(stream, zeros=np.zeros((4, 2**16), np.float32))
    stream.seek(0)
    with pytest.raises(GradientLimitExceeded, match="compression ratio"):
        samples_from_file("z.npz", stream, limits)


def test_element_limit_counts_every_member() -> None:
    stream = io.BytesIO()
    np.savez(stream, a=np.ones((4, 100), np.float32), b=np.ones((4, 100), np.float32))
    stream.seek(0)
    with pytest.raises(GradientLimitExceeded, match="max_elements") as caught:
        samples_from_file("g.npz", stream, Limits(max_elements=500))
    assert caught.value.group == "b"


def test_member_count_limit() -> None:
    stream = io.BytesIO()
    np.savez(stream, **{f"m{i}": np.ones((2, 1)) for i in range(5)})
    stream.seek(0)
    with pytest.raises(GradientLimitExceeded, match="members"):
        samples_from_file("g.npz", stream, Limits(max_file_members=4))


def test_members_that_are_not_arrays(limits: Limits) -> None:
    stream = io.BytesIO()
    with zipfile.ZipFile(stream, "w") as archive:
        archive.writestr("data.pkl", b"\x80\x04K\x01.")
    stream.seek(0)
    with pytest.raises(InvalidGradients, match=r"not an \.npy"):
        samples_from_file("g.npz", stream, limits)


def test_corrupt_member_data(limits: Limits) -> None:
    stream = io.BytesIO()
    np.savez_compressed(stream, w=np.random.default_rng(0).standard_normal((8, 64)))
    data = bytearray(stream.getvalue())
    data[200:260] = b"\xff" * 60
    with pytest.raises(InvalidGradients):
        samples_from_file("g.npz", io.BytesIO(bytes(data)), limits)


def test_npy_content_under_npz_name(limits: Limits, npy_file: Callable[[np.ndarray], io.BytesIO]) -> None:
    with pytest.raises(InvalidGradients, match=r"not an \.npz"):
        samples_from_file("g.npz", npy_file(np.ones((2, 2))), limits)
