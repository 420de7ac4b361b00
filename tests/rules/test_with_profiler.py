"""The engine on the real profiler's reports of synthetic streams with known ground truth."""

import json

import numpy as np
import numpy.typing as npt
import pytest

from optadvisor.profiler import profile
from optadvisor.profiler.sample import make_sample
from optadvisor.rules import RecommendationRequest, RuleSet, recommend

LARGEST_FLOAT32 = float(np.finfo(np.float32).max)


def _extreme_stream(rng: np.random.Generator) -> npt.NDArray[np.float64]:
    """Gradients anywhere in float32's range: dense, sparse, constant, two-valued, drifting or ramped."""
    steps, coordinates = int(rng.integers(2, 25)), int(rng.integers(1, 30))
    scale = 10.0 ** rng.uniform(-45, 38.5)
    noise = rng.standard_normal((steps, coordinates))
    kind = int(rng.integers(0, 6))
    if kind == 0:
        values = noise * scale
    elif kind == 1:
        values = np.where(rng.random((steps, coordinates)) < rng.random(), noise * scale, 0.0)
    elif kind == 2:
        values = np.full((steps, coordinates), rng.choice([LARGEST_FLOAT32, -LARGEST_FLOAT32, 1e-45, 0.0]))
    elif kind == 3:
        values = rng.choice([LARGEST_FLOAT32, -LARGEST_FLOAT32, 0.0, 1e-45, 1.0], size=(steps, coordinates))
    elif kind == 4:
        values = np.cumsum(noise, axis=0) * scale
    else:
        values = np.outer(10.0 ** rng.uniform(-40, 38, steps), noise[0])
    return np.clip(values, -LARGEST_FLOAT32, LARGEST_FLOAT32)


def test_gradients_anywhere_in_float32s_range_give_a_finite_profile_and_answer(ruleset: RuleSet) -> None:
    # Overflow in the figures once surfaced as a misleading 422 (a NaN failing a figure's bounds).
    rng = np.random.default_rng(7)
    for _ in range(150):
        values = _extreme_stream(rng)
        context: dict[str, object] = {}
        if rng.random() < 0.3:
            context["parameter_rms"] = float(10.0 ** rng.uniform(-45, 38))
        if rng.random() < 0.3:
            total = values.shape[1] + int(rng.integers(0, 1000))
            context["total_coordinates"] = total
            context["step_norms"] = np.abs(rng.standard_normal(values.shape[0])) * 10.0 ** rng.uniform(
                -40, 38
            )
            context["step_nonzeros"] = rng.integers(0, total + 1, values.shape[0])
        sample = make_sample("layer.weight", values, **context)
        training_steps = int(10 ** rng.uniform(0, 8))
        report = profile({"layer.weight": sample}, training_steps=training_steps)
        request = RecommendationRequest.model_validate(
            {"profile": {"training_steps": training_steps, "tuning_budget": int(rng.integers(1, 60))}}
        )
        answer = recommend(request, ruleset, report)
        for document in (report.model_dump_json(), answer.model_dump_json()):
            json.loads(document, parse_constant=pytest.fail)
