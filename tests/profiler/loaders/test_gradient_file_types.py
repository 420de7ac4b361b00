import io
import pickle
from collections.abc import Callable

import numpy as np
import pytest

from optadvisor.profiler import InvalidGradients, Limits, UnsupportedGradientFormat, samples_from_file


@pytest.mark.parametrize("name", ["model.pt", "model.pth", "grads.pkl", "ckpt.PICKLE"])
def test_pickle_based_files_are_refused_outright(limits: Limits, name: str) -> None:
    with pytest.raises(UnsupportedGradientFormat):
        samples_from_file(name, io.BytesIO(pickle.dumps({"w": [1.0, 2.0]})), limits)


@pytest.mark.parametrize("name", ["grads.npy", "grads.npz", "grads.safetensors"])
def test_pickle_content_under_an_accepted_name_is_refused(limits: Limits, name: str) -> None:
    with pytest.raises(UnsupportedGradientFormat, match="pickle"):
        samples_from_file(name, io.BytesIO(pickle.dumps(np.ones(3), protocol=4)), limits)


def test_unknown_extension(limits: Limits) -> None:
    with pytest.raises(UnsupportedGradientFormat, match=r"\.csv"):
        samples_from_file("grads.csv", io.BytesIO(b"1,2\n3,4\n"), limits)


def test_content_that_does_not_match_the_extension(limits: Limits) -> None:
    with pytest.raises(InvalidGradients, match=r"not an \.npy"):
        samples_from_file("grads.npy", io.BytesIO(b"PK\x03\x04 not really"), limits)


def test_directory_parts_of_the_file_name_are_dropped(
    limits: Limits, npy_file: Callable[[np.ndarray], io.BytesIO]
) -> None:
    samples = samples_from_file("../../etc/emb.npy", npy_file(np.ones((2, 2), np.float32)), limits)
    assert list(samples) == ["emb"]
