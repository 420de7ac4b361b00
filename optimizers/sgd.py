"""SGD with optional (Nesterov) momentum: the non-adaptive baseline."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import torch
from torch import Tensor

from optadvisor.optimizers.base import AdaptiveOptimizer, ParamGroup, apply_weight_decay, gradients
from optadvisor.optimizers.validation import check_non_negative


class SGD(AdaptiveOptimizer):
    r"""Stochastic gradient descent, torch.optim.SGD semantics by default.

    For each step with gradient ``g``::

        g  ← −g                                   if maximize
        g  ← g + weight_decay·θ                   (coupled L2; torch)
        θ  ← θ·(1 − lr·weight_decay)              (decoupled_weight_decay=True; Keras)
        without momentum:  θ ← θ − lr·g
        with momentum μ:   b ← g on the first step, else b ← μ·b + (1 − dampening)·g
                           θ ← θ − lr·b,  or θ ← θ − lr·(g + μ·b) with nesterov
        lr_in_momentum_buffer=True (Keras): b ← μ·b + lr·g (b₀ = 0) and θ ← θ − b,
                           or θ ← θ − (lr·g + μ·b) with nesterov

    Args:
        params: parameters or parameter groups.
        lr: learning rate (≥ 0).
        momentum: momentum factor (≥ 0).
        dampening: dampening of the momentum (torch only).
        weight_decay: weight decay (≥ 0); coupled L2 unless ``decoupled_weight_decay``.
        nesterov: Nesterov momentum (requires momentum > 0 and no dampening).
        maximize: ascend the objective instead of descending it.
        lr_in_momentum_buffer: accumulate ``lr·g`` in the buffer (Keras).
        decoupled_weight_decay: Keras-style decay of θ instead of L2 on the gradient.

    Warning:
        One learning rate for every coordinate: the usable lr is bounded by the sharpest direction
        (lr < 2/curvature), so flat or rarely-updated coordinates move very slowly.
    """

    method: ClassVar[str] = "sgd"

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
        lr_in_momentum_buffer: bool = False,
        decoupled_weight_decay: bool = False,
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
            "lr_in_momentum_buffer": lr_in_momentum_buffer,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(params, defaults)

    def _update_group(self, group: ParamGroup, params: list[Tensor]) -> None:
        self._advance_steps(params)
        lr: float = group["lr"]
        momentum: float = group["momentum"]
        grads = apply_weight_decay(group, params, gradients(params, maximize=group["maximize"]))
        if momentum == 0:
            torch._foreach_add_(params, grads, alpha=-lr)
            return
        into_buffer, outside_buffer = (lr, 1.0) if group["lr_in_momentum_buffer"] else (1.0, lr)
        fresh = [i for i, p in enumerate(params) if "momentum_buffer" not in self.state[p]]
        for i in fresh:
            self.state[params[i]]["momentum_buffer"] = grads[i].detach().mul(into_buffer)
        continuing = sorted(set(range(len(params))) - set(fresh))
        if continuing:
            buffers = [self.state[params[i]]["momentum_buffer"] for i in continuing]
            torch._foreach_mul_(buffers, momentum)
            torch._foreach_add_(
                buffers, [grads[i] for i in continuing], alpha=into_buffer * (1 - group["dampening"])
            )
        buffers = [self.state[p]["momentum_buffer"] for p in params]
        if group["nesterov"]:
            torch._foreach_add_(params, grads, alpha=-outside_buffer * into_buffer)
            torch._foreach_add_(params, buffers, alpha=-outside_buffer * momentum)
        else:
            torch._foreach_add_(params, buffers, alpha=-outside_buffer)

    def effective_step_size(self, param: Tensor) -> Tensor:
        return torch.full_like(param, self.param_group_of(param)["lr"])

    def state_trace(self, param: Tensor) -> dict[str, Tensor]:
        self.param_group_of(param)
        state = self.state.get(param, {})
        return {"momentum_buffer": state["momentum_buffer"].clone()} if "momentum_buffer" in state else {}
