"""The estimated lr makes each method's steps average the target step over the planned run.

Each case replays a stream of gradients with a set mean-to-spread ratio through the built-in optimizer
configured exactly as recommended, and compares the RMS of its updates over the run with the target step,
parameter RMS / sqrt(training_steps). This checks the step-size models in rules/hyperparameters.py
against the optimizers themselves, not against the formulas.
"""

import math
from typing import Any

import pytest
import torch

from optadvisor import optimizers
from optadvisor.profiler.figures import Figures
from optadvisor.profiler.report import ProfileReport
from optadvisor.rules import RecommendationRequest, RuleSet, recommend
from tests.rules.conftest import DENSE_STATIONARY

_COORDINATES = 2048
_SPREAD = 0.01


def _report(base: dict[str, Any], training_steps: int, parameter_rms: float, ratio: float) -> ProfileReport:
    figures = {
        **base,
        "parameter_rms": parameter_rms,
        "typical_parameter_rms": parameter_rms,
        "mean_to_spread_ratio": ratio,
        "gradient_rms": 0.01,
    }
    return ProfileReport(
        framework="torch",
        training_steps=training_steps,
        overall=Figures(**figures),
        groups={},
        assumptions=[],
        estimates=[],
    )


def _update_rms(method: str, kwargs: dict[str, Any], steps: int, ratio: float) -> float:
    generator = torch.Generator().manual_seed(0)
    mean = ratio * _SPREAD * torch.where(torch.rand(_COORDINATES, generator=generator) < 0.5, -1.0, 1.0)
    parameter = torch.zeros(_COORDINATES, dtype=torch.float64, requires_grad=True)
    optimizer = optimizers.create(method, [parameter], framework="torch", **kwargs)
    squares = 0.0
    for _ in range(steps):
        noise = torch.randn(_COORDINATES, generator=generator, dtype=torch.float64)
        parameter.grad = (mean + _SPREAD * noise).to(torch.float64)
        before = parameter.detach().clone()
        optimizer.step()
        squares += float((parameter.detach() - before).pow(2).mean())
    return math.sqrt(squares / steps)


@pytest.mark.parametrize(
    ("method", "family", "parameter_rms", "training_steps", "ratio"),
    [
        ("adam", "mlp", 0.05, 200, 0.1),
        ("adam", "mlp", 0.05, 200, 2.0),
        ("adamw", "mlp", 0.05, 200, 0.1),
        ("adagrad", None, 0.3, 200, 0.1),
        ("adagrad", None, 0.3, 2_000, 0.1),
        ("rmsprop", None, 0.5, 200, 0.1),
        ("rmsprop", None, 1.0, 5_000, 0.1),
        ("rmsprop", "rnn", 2.0, 200, 2.0),  # centered for a recurrent net
        ("adadelta", None, 0.5, 200, 0.1),
        ("adadelta", None, 2.0, 2_000, 0.1),
    ],
)
def test_recommended_lr_walks_the_target_step(
    ruleset: RuleSet,
    method: str,
    family: str | None,
    parameter_rms: float,
    training_steps: int,
    ratio: float,
) -> None:
    profile: dict[str, Any] = {"training_steps": training_steps}
    if family is not None:
        profile["model_family"] = family
    request = RecommendationRequest.model_validate({"profile": profile, "candidates": [method]})
    answer = recommend(request, ruleset, _report(DENSE_STATIONARY, training_steps, parameter_rms, ratio))
    rationale = next(item.text for item in answer.rationale if item.rule == "estimate.lr")
    assert "floor" not in rationale and "capped" not in rationale, rationale
    target = parameter_rms / math.sqrt(training_steps)
    measured = _update_rms(method, dict(answer.configs.torch.kwargs), training_steps, ratio)
    assert measured == pytest.approx(target, rel=0.2), (measured / target, rationale)
