"""The base class shared by every built-in optimizer: a step loop plus read-only introspection."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, overload

import torch
from torch import Tensor
from torch.optim import Optimizer

from optadvisor.optimizers.chunks import Scratch
from optadvisor.optimizers.semantics import Rule

ParamGroup = dict[str, Any]


class AdaptiveOptimizer(Optimizer):
    """A ``torch.optim.Optimizer`` that can report its per-coordinate step size and internal state.

    Subclasses implement ``_update_group`` (one step for the parameters of a group that have a
    gradient), ``effective_step_size`` and ``state_trace``. Both introspection methods are pure:
    they read the state and never create or modify it. Steps run over cache-sized chunks with
    their temporaries in ``_scratch`` (see :mod:`optadvisor.optimizers.chunks`).

    ``rule`` holds the links of the update chain that differ between frameworks (see
    :mod:`optadvisor.optimizers.semantics`); it belongs to the optimizer, not to a parameter group,
    so ``state_dict()`` stays plain data, and it travels with copies and pickles.
    """

    method: ClassVar[str]
    rule: Rule

    def __init__(
        self, params: Iterable[Tensor] | Iterable[dict[str, Any]], defaults: dict[str, Any], rule: Rule
    ):
        self.rule = rule
        super().__init__(params, defaults)
        for group in self.param_groups:
            for param in group["params"]:
                if torch.is_complex(param):
                    raise ValueError(f"Complex parameters are not supported by {type(self).__name__}")
        self._scratch = Scratch()

    def __getstate__(self) -> dict[str, Any]:
        # torch.optim's __getstate__ keeps only defaults, state and param_groups (copies, pickles).
        state: dict[str, Any] = super().__getstate__()
        state["rule"] = self.rule
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)  # sets self.rule too
        self._scratch = Scratch()

    @overload
    def step(self, closure: None = None) -> None: ...

    @overload
    def step(self, closure: Callable[[], float]) -> float: ...

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        """Perform one optimization step; ``closure`` re-evaluates the model and returns the loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params, grads = [], []
            for param in group["params"]:
                grad = param.grad
                if grad is not None:
                    params.append(param)
                    grads.append(grad)
            if params:
                self._update_group(group, params, grads)
        return loss

    @abstractmethod
    def _update_group(self, group: ParamGroup, params: list[Tensor], grads: list[Tensor]) -> None:
        """Apply one update to ``params`` (their ``.grad`` is ``grads``) with ``group``'s settings."""

    @abstractmethod
    def effective_step_size(self, param: Tensor) -> Tensor:
        """Per-coordinate multiplier the next update applies to the gradient, from the current state.

        Step-dependent scalars (Adagrad's ``lr_decay``, bias corrections) are those of the next step.
        Before the first step the initial state is used. The state is not modified.
        """

    @abstractmethod
    def state_trace(self, param: Tensor) -> dict[str, Tensor]:
        """Copies of the named internal state of ``param`` (initial values before the first step)."""

    def param_group_of(self, param: Tensor) -> ParamGroup:
        """The parameter group that holds ``param``; ``ValueError`` if this optimizer does not own it."""
        for group in self.param_groups:
            if any(p is param for p in group["params"]):
                return group
        raise ValueError(f"The parameter of shape {tuple(param.shape)} is not managed by this optimizer")

    def _state_or(self, param: Tensor, name: str, fill: float) -> Tensor:
        """The state tensor ``name`` of ``param``, or a tensor of its initial value if not created yet."""
        state = self.state.get(param)
        if state is not None and name in state:
            tensor: Tensor = state[name]
            return tensor
        return torch.full_like(param, fill, memory_format=torch.preserve_format)

    def _completed_steps(self, param: Tensor) -> int:
        state = self.state.get(param)
        return int(state["step"]) if state is not None and "step" in state else 0


def advance_steps(states: list[dict[str, Any]]) -> list[int]:
    """Increment and return each parameter's step count (a Python int: no tensor op per step)."""
    steps = []
    for state in states:
        state["step"] = step = state.get("step", 0) + 1
        steps.append(step)
    return steps


def copy_state(state: dict[str, Any], names: Iterable[str]) -> dict[str, Tensor]:
    """Detached copies of the tensors ``names`` present in ``state``."""
    return {name: state[name].detach().clone() for name in names if name in state}
