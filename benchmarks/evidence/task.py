"""What a corpus task is: a small real training problem, written once for both of the ways it is run.

A task's model is an ordinary ``nn.Module``. Its ``loss`` takes a ``forward`` callable, so the same code
runs the module itself (the capture run, where ``GradientCapture`` reads ``.grad`` as in a user's loop)
and a functional call on one slice of stacked parameters inside ``torch.func.vmap`` (the grid run, where
every configuration trains at once).

Every metric is "lower is better". A task either scores a held-out batch after training (``holdout``
returns a batch) or is scored online, by the mean over the run of the per-step score that ``loss``
returns, each batch scored before the model learns from it (``holdout`` returns None).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from torch import Tensor, nn

Batch = dict[str, Tensor]
Forward = Callable[..., Tensor]
GapBasis = Literal["best", "initial"]


@dataclass(frozen=True)
class TaskSpec:
    """A task's identity and what a user would honestly declare about it.

    ``profile`` holds only what the person training this model would know before asking: the model
    family, the planned run length, and convexity or non-stationarity where the problem's construction
    makes them plain (a linear model is convex; a stream whose target is known to move is non-stationary).
    ``gap_basis`` says what "within 5% of the best" is relative to: ``best``, |best| itself, for metrics
    with a noise floor well above zero; ``initial``, the distance from the best to the untrained model's
    metric, for metrics that can come near zero (regret, reconstruction error of a noiseless signal).
    """

    family: str
    name: str
    steps: int
    batch_size: int
    metric: str
    profile: Mapping[str, Any]
    gap_basis: GapBasis = "best"
    variant: Mapping[str, Any] = field(default_factory=dict)


class Task(Protocol):
    """A corpus task (see the module docstring)."""

    @property
    def spec(self) -> TaskSpec: ...

    def build(self, seed: int) -> nn.Module:
        """The model, initialised from ``seed``."""

    def data(self, seed: int) -> Any:
        """Everything the run with ``seed`` reads (datasets, streams, noise), built once."""

    def batch(self, data: Any, step: int) -> Batch:
        """The tensors of training step ``step`` (0-based)."""

    def loss(self, forward: Forward, batch: Batch) -> tuple[Tensor, Tensor]:
        """(The loss to differentiate, the step's online score); both scalars, no in-place ops."""

    def holdout(self, data: Any) -> Batch | None:
        """The held-out batch scored after training, or None for an online task."""

    def metric(self, forward: Forward, holdout: Batch) -> Tensor:
        """The final metric on ``holdout`` (a scalar); only called when ``holdout`` is not None."""


class Online:
    """The held-out side of a task scored online (``loss`` returns each step's score): there is none."""

    def holdout(self, data: object) -> None:
        return None

    def metric(self, forward: Forward, holdout: Batch) -> Tensor:
        raise TypeError("this task is scored online: it has no held-out batch")
