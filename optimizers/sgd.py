"""SGD with optional (Nesterov) momentum: the non-adaptive baseline."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

import torch
from torch import Tensor

from optadvisor.optimizers.base import AdaptiveOptimizer, ParamGroup, advance_steps
from optadvisor.optimizers.semantics import Heading, SGDRule, TensorList, Update
from optadvisor.optimizers.validation import check_non_negative


class SGD(AdaptiveOptimizer):
    r"""Stochastic gradient descent, torch.optim.SGD semantics by default.

    For each step with gradient ``g``::

        g  ← −g                                   if maximize
        g  ← g + weight_decay·θ                   (rule.decay CoupledDecay; torch)
        θ  ← θ·(1 − lr·weight_decay)              (rule.decay DecoupledDecay; Keras)
        without momentum:  θ ← θ − lr·g
        with momentum μ:   b ← g on the first step, else b ← μ·b + (1 − dampening)·g
                           θ ← θ − lr·b,  or θ ← θ − lr·(g + μ·b) with nesterov
        rule.momentum LrInsideBuffer (Keras): b ← μ·b + lr·g (b₀ = 0) and θ ← θ − b,
                           or θ ← θ − (lr·g + μ·b) with nesterov

    Args:
        params: parameters or parameter groups.
        lr: learning rate (≥ 0).
        momentum: momentum factor (≥ 0).
        dampening: dampening of the momentum (torch only).
        weight_decay: weight decay (≥ 0); coupled L2 unless ``decoupled_weight_decay``.
        nesterov: Nesterov momentum (requires momentum > 0 and no dampening).
        maximize: ascend the objective instead of descending it.
        rule: the framework's links (weight decay, placement of lr in the momentum); torch's by
            default, the others' in :mod:`optadvisor.optimizers.frameworks`.

    Warning:
        One learning rate for every coordinate: the usable lr is bounded by the sharpest direction
        (lr < 2/curvature), so flat or rarely-updated coordinates move very slowly.
    """

    method: ClassVar[str] = "sgd"
    rule: SGDRule

    def __init__(  # noqa: PLR0917 - torch.optim's positional signature
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        rule: SGDRule | None = None,
    ) -> None:
        check_non_negative("learning rate", lr)
        check_non_negative("momentum value", momentum)
        check_non_negative("weight_decay value", weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
        }
        super().__init__(params, defaults, rule or SGDRule())

    def _update_group(self, group: ParamGroup, params: list[Tensor], grads: list[Tensor]) -> None:
        states = [self.state[p] for p in params]
        advance_steps(states)
        lr: float = group["lr"]
        momentum: float = group["momentum"]
        decay, placement = self.rule.decay, self.rule.momentum
        columns = [params, grads]
        starting = [momentum != 0 and "momentum_buffer" not in s for s in states]
        if momentum != 0:
            for param, state, new in zip(params, states, starting, strict=True):
                if new:
                    state["momentum_buffer"] = torch.empty_like(param, memory_format=torch.preserve_format)
            columns.append([s["momentum_buffer"] for s in states])
        for chunk in self._scratch.chunks(columns, scratch=decay.needs_scratch(group)):
            chunk_params = chunk.columns[0]
            rule_grads = decay.gradients(group, chunk)
            if momentum == 0:
                torch._foreach_add_(chunk_params, rule_grads, alpha=-lr)
                continue
            buffers = chunk.columns[2]
            first = chunk.per_piece(starting)
            kept_grads: TensorList
            if any(first):
                # The first buffer is the gradient itself (lr·g in Keras' form), without dampening.
                placement.start(_selected(buffers, first), Update(_selected(rule_grads, first)), lr)
                kept = [not flag for flag in first]
                kept_buffers, kept_grads = _selected(buffers, kept), _selected(rule_grads, kept)
            else:
                kept_buffers, kept_grads = buffers, rule_grads
            if kept_buffers:
                torch._foreach_mul_(kept_buffers, momentum)
                placement.accumulate(kept_buffers, Update(kept_grads), lr, 1 - group["dampening"])
            heading = Heading(lr, momentum, group["nesterov"])
            placement.apply(chunk_params, buffers, Update(rule_grads), heading)

    def effective_step_size(self, param: Tensor) -> Tensor:
        return torch.full_like(param, self.param_group_of(param)["lr"])

    def state_trace(self, param: Tensor) -> dict[str, Tensor]:
        self.param_group_of(param)
        state = self.state.get(param, {})
        return {"momentum_buffer": state["momentum_buffer"].clone()} if "momentum_buffer" in state else {}


def _selected(tensors: TensorList, flags: Sequence[bool]) -> list[Tensor]:
    return [tensor for tensor, flag in zip(tensors, flags, strict=True) if flag]
