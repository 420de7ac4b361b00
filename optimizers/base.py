"""The base class shared by every built-in optimizer: a step loop plus read-only introspection."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, overload

import torch
from torch import Tensor
from torch.optim import Optimizer

ParamGroup = dict[str, Any]
TensorList = list[Tensor] | tuple[Tensor, ...]


class AdaptiveOptimizer(Optimizer):
    """A ``torch.optim.Optimizer`` that can report its per-coordinate step size and internal state.

    Subclasses implement ``_update_group`` (one step for the parameters of a group that have a
    gradient), ``effective_step_size`` and ``state_trace``. Both introspection methods are pure:
    they read the state and never create or modify it.
    """

    method: ClassVar[str]

    def __init__(self, params: Iterable[Tensor] | Iterable[dict[str, Any]], defaults: dict[str, Any]):
        super().__init__(params, defaults)
        for group in self.param_groups:
            for param in group["params"]:
                if torch.is_complex(param):
                    raise ValueError(f"Complex parameters are not supported by {type(self).__name__}")

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
            params = [p for p in group["params"] if p.grad is not None]
            if params:
                self._update_group(group, params)
        return loss

    @abstractmethod
    def _update_group(self, group: ParamGroup, params: list[Tensor]) -> None:
        """Apply one update to ``params`` (all of which have ``.grad``) with ``group``'s settings."""

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

    def _advance_steps(self, params: list[Tensor]) -> list[int]:
        """Increment and return each parameter's step count (a Python int: no tensor op per step)."""
        steps = []
        for param in params:
            state = self.state[param]
            state["step"] = state.get("step", 0) + 1
            steps.append(state["step"])
        return steps


def gradients(params: list[Tensor], *, maximize: bool) -> TensorList:
    """The gradients of ``params``, negated when maximizing (a new list; ``.grad`` stays untouched)."""
    grads = [p.grad for p in params if p.grad is not None]
    return torch._foreach_neg(grads) if maximize else grads


def apply_weight_decay(group: ParamGroup, params: list[Tensor], grads: TensorList) -> TensorList:
    """Apply the group's weight decay and return the gradients the adaptive rule should see.

    Coupled (torch) decay adds ``wd·θ`` to the gradient (L2). Decoupled decay (Keras, AdamW)
    shrinks ``θ ← θ·(1 − lr·wd)`` before the step, leaving the gradient, taken at the old θ, alone.
    """
    weight_decay: float = group["weight_decay"]
    if weight_decay == 0:
        return grads
    if group["decoupled_weight_decay"]:
        torch._foreach_mul_(params, 1 - group["lr"] * weight_decay)
        return grads
    return torch._foreach_add(grads, params, alpha=weight_decay)


def copy_state(state: dict[str, Any], names: Iterable[str]) -> dict[str, Tensor]:
    """Detached copies of the tensors ``names`` present in ``state``."""
    return {name: state[name].detach().clone() for name in names if name in state}
