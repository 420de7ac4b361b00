"""Dense JSON, COO JSON and the binary files of one stream give the same figures."""

import io
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from pydantic import TypeAdapter
from safetensors.numpy import save

from optadvisor.profiler import (
    GradientSample,
    Limits,
    profile,
    samples_from_file,
    samples_from_json,
    synthetic,
)
from optadvisor.profiler.schema import GradientSampleJSON

ADAPTER: TypeAdapter[Any] = TypeAdapter(dict[str, GradientSampleJSON])


def test_every_form_of_a_stream_gives_the_same_report(
    limits: Limits, npy_file: Callable[[np.ndarray], io.BytesIO]
) -> None:
    stream = synthetic.zipf_bag_of_words(60, 400, words_per_step=8, seed=2)
    steps, indices = np.nonzero(stream)
    as_json = {
        "dense": {"g": {"format": "dense", "values": stream.tolist()}},
        "coo": {
            "g": {
                "format": "coo",
                "shape": list(stream.shape),
                "step": steps.tolist(),
                "index": indices.tolist(),
                "values": stream[steps, indices].tolist(),
            }
        },
    }
    npz = io.BytesIO()
    np.savez(npz, g=stream)
    npz.seek(0)
    forms: dict[str, dict[str, GradientSample]] = {
        name: samples_from_json(ADAPTER.validate_python(body), limits) for name, body in as_json.items()
    }
    forms["npy"] = samples_from_file("g.npy", npy_file(stream), limits)
    forms["npz"] = samples_from_file("g.npz", npz, limits)
    forms["safetensors"] = samples_from_file("g.safetensors", io.BytesIO(save({"g": stream})), limits)
    reports = {name: profile(samples, training_steps=5000).model_dump() for name, samples in forms.items()}
    reference = reports.pop("npy")
    for name, report in reports.items():
        # JSON numbers arrive as float64, files as float32: the same values, summed in another precision.
        flat, expected = leaves(report), leaves(reference)
        assert flat.keys() == expected.keys(), name
        for path, value in expected.items():
            exact = value is None or isinstance(value, str)
            assert flat[path] == (value if exact else pytest.approx(value, rel=1e-6)), (name, path)


def leaves(tree: Any, path: str = "") -> dict[str, Any]:
    """Path → value for every leaf of nested dicts and lists."""
    if isinstance(tree, dict):
        return {k: v for key, child in tree.items() for k, v in leaves(child, f"{path}/{key}").items()}
    if isinstance(tree, list):
        return {k: v for index, child in enumerate(tree) for k, v in leaves(child, f"{path}/{index}").items()}
    return {path: tree}


def test_reports_are_deterministic() -> None:
    samples = {"g": GradientSample(synthetic.regime_switches(120, 50, period=15))}
    assert profile(samples).model_dump_json() == profile(samples).model_dump_json()
