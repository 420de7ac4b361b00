"""The base class shared by every built-in optimizer: a step loop plus read-only introspection."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, overload

import torch
from torch import Tensor
from torch.optim import Optimizer

from optadvisor.optimizers.chunks import Chunk, Scratch

ParamGroup = dict[str, Any]
TensorList = list[Tensor] | tuple[Tensor, ...]


class AdaptiveOptimizer(Optimizer):
    """A ``torch.optim.Optimizer`` that can report its per-coordinate step size and internal state.

    Subclasses implement ``_update_group`` (one step for the parameters of a group that have a
    gradient), ``effective_step_size`` and ``state_trace``. Both introspection methods are pure:
    they read the state and never create or modify it. Steps run over cache-sized chunks with
    their temporaries in ``_scratch`` (see :mod:`optadvisor.optimizers.chunks`).
    """

    method: ClassVar[str]

    def __init__(self, params: Iterable[Tensor] | Iterable[dict[str, Any]], defaults: dict[str, Any]):
        super().__init__(params, defaults)
        for group in self.param_groups:
            for param in group["params"]:
                if torch.is_complex(param):
                    raise ValueError(f"Complex parameters are not supported by {type(self).__name__}")
        self._scratch = Scratch()

    def __setstate__(self, state: dict[str, Any]) -> None:
        # torch.optim's __getstate__ keeps only defaults, state and param_groups (copies, pickles).
        super().__setstate__(state)
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


def prepare_gradients(group: ParamGroup, chunk: Chunk) -> TensorList:
    """Apply the group's weight decay to a chunk and return the gradients the rule should see.

    The chunk's first two columns are the parameters and their gradients. Decoupled decay (Keras,
    AdamW) shrinks ``θ ← θ·(1 − lr·wd)`` before the step and leaves the gradient, taken at the old
    θ, alone. When maximizing, or with coupled (torch, L2) decay, the rule sees ``±g + wd·θ``,
    written into the chunk's last scratch list (``.grad`` stays untouched); otherwise the gradients
    themselves are returned.
    """
    params, grads = chunk.columns[0], chunk.columns[1]
    weight_decay: float = group["weight_decay"]
    if weight_decay != 0 and group["decoupled_weight_decay"]:
        torch._foreach_mul_(params, 1 - group["lr"] * weight_decay)
    if not needs_gradient_scratch(group):
        return grads
    out = chunk.scratch[-1]
    coupled_decay = weight_decay != 0 and not group["decoupled_weight_decay"]
    if group["maximize"]:
        into(out, torch.neg, grads)
        if coupled_decay:
            torch._foreach_add_(out, params, alpha=weight_decay)
    else:
        for target, grad, param in zip(out, grads, params, strict=True):
            torch.add(grad, param, alpha=weight_decay, out=target)
    return out


def needs_gradient_scratch(group: ParamGroup) -> bool:
    """Whether :func:`prepare_gradients` needs a scratch list for the gradients the rule sees."""
    coupled_decay = group["weight_decay"] != 0 and not group["decoupled_weight_decay"]
    return bool(group["maximize"]) or coupled_decay


def into(
    out: TensorList, function: Callable[..., Tensor], tensors: TensorList, *scalars: float
) -> TensorList:
    """``out[i] ← function(tensors[i], *scalars)`` for each i, written into ``out``; returns ``out``.

    foreach ops have no ``out=`` form that writes in place (theirs allocates, then copies), and a
    copy into scratch followed by the in-place op passes over the data twice: 29 µs against 15 µs
    for the square root of 50k elements. A loop of the per-tensor ``out=`` calls costs no more
    than a foreach call per tensor, even for tensors of 1k elements.
    """
    for target, tensor in zip(out, tensors, strict=True):
        function(tensor, *scalars, out=target)
    return out


def copy_state(state: dict[str, Any], names: Iterable[str]) -> dict[str, Tensor]:
    """Detached copies of the tensors ``names`` present in ``state``."""
    return {name: state[name].detach().clone() for name in names if name in state}
