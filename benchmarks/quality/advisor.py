"""Ask the running service for advice the way a user would: capture gradients in a short run, POST them.

The capture run trains with Adam at its defaults, standing in for whatever the user's loop runs before
asking; ``client.capture.GradientCapture`` records the first steps' gradients, and
``client.OptadvisorClient`` sends them with the declared profile to ``POST /v1/recommendations``. One
capture per (problem, seed, run length) serves every tuning budget.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Self

from torch import nn

from benchmarks.quality.harness import ADAM_DEFAULTS, Advice
from benchmarks.quality.problem import Problem
from benchmarks.quality.search_space import Config, build_optimizer
from optadvisor.client import OptadvisorClient
from optadvisor.client.capture import GradientCapture

CAPTURE_STEPS = 64


class CaptureObserver:
    """Attaches a ``GradientCapture`` to the problem's model and records after each backward pass."""

    def __init__(self, steps: int, seed: int) -> None:
        self.steps = steps
        self.seed = seed
        self.capture: GradientCapture | None = None

    def attach(self, model: nn.Module) -> None:
        self.capture = GradientCapture(model, steps=self.steps, seed=self.seed)

    def after_backward(self, step: int) -> None:
        if self.capture is not None:
            self.capture.record()


def capture_gradients(problem: Problem, seed: int, steps: int) -> dict[str, Any]:
    """The service's JSON gradient samples of the first ``min(CAPTURE_STEPS, steps)`` steps of a run."""
    observer = CaptureObserver(min(CAPTURE_STEPS, steps), seed)
    problem.train(partial(build_optimizer, ADAM_DEFAULTS), seed, observer.steps, observer)
    if observer.capture is None:
        raise RuntimeError(f"{problem.name} never attached the capture observer")
    return observer.capture.gradients()


def plan_of(response: dict[str, Any]) -> tuple[Config, ...]:
    """The tuning plan as torch configs (the request asks for the torch framework's names)."""
    return tuple(Config.of(entry["method"], entry.get("kwargs")) for entry in response["tuning_plan"])


class ServiceAdvisor:
    """An :class:`~benchmarks.quality.harness.Advisor` backed by a live optadvisor server."""

    def __init__(self, url: str) -> None:
        self._client = OptadvisorClient(url)
        self._captured: dict[tuple[str, int, int], dict[str, Any]] = {}

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._client.close()

    def advise(self, problem: Problem, seed: int, steps: int, budget: int) -> Advice:
        key = (problem.name, seed, steps)
        if key not in self._captured:
            self._captured[key] = capture_gradients(problem, seed, steps)
        profile = {**problem.profile, "training_steps": steps, "tuning_budget": budget}
        response = self._client.recommend(profile, gradients=self._captured[key], framework="torch")
        return Advice(method=str(response["method"]), plan=plan_of(response), response=response)
