"""RMSprop: per-coordinate learning rates from an exponential moving average of squared gradients."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import torch
from torch import Tensor

from optadvisor.optimizers.base import (
    AdaptiveOptimizer,
    ParamGroup,
    TensorList,
    apply_weight_decay,
    copy_state,
    gradients,
)
from optadvisor.optimizers.validation import check_non_negative, check_unit_interval


class RMSprop(AdaptiveOptimizer):
    r"""RMSprop (Tieleman and Hinton, 2012), torch.optim.RMSprop semantics by default.

    For each step ``t`` with gradient ``g``::

        g  ← −g                                   if maximize
        g  ← g + weight_decay·θ                   (coupled L2; torch)
        θ  ← θ·(1 − lr·weight_decay)              (decoupled_weight_decay=True; Keras)
        v  ← α·v + (1 − α)·g²                     (v₀ = initial_scale)
        m  ← α·m + (1 − α)·g                      (centered only)
        v̂, m̂ = v/(1 − αᵗ), m/(1 − αᵗ)             (bias_correction=True; Optax), else v, m
        d  = sqrt(v̂ − m̂²) + eps  or  sqrt(v̂) + eps          (eps_in_sqrt=False; torch)
        d  = sqrt(v̂ − m̂² + eps)  or  sqrt(v̂ + eps)          (eps_in_sqrt=True; Keras, Optax)
        without momentum:  θ ← θ − lr·g/d
        with momentum μ:   b ← μ·b + g/d,     θ ← θ − lr·b   (torch: lr outside the buffer)
                           b ← μ·b + lr·g/d,  θ ← θ − b      (lr_in_momentum_buffer=True; Keras, Optax)
        nesterov (Optax):  the applied update is lr·g/d + μ·b (with the new b)

    The two momentum forms agree while lr is constant; under a schedule torch rescales the whole
    buffer by the current lr, whereas Keras and Optax keep each step's lr baked in.

    Args:
        params: parameters or parameter groups.
        lr: learning rate (≥ 0).
        alpha: decay of the moving averages, in [0, 1) (Keras ``rho``, Optax ``decay``).
        eps: term added to the denominator (≥ 0).
        weight_decay: weight decay (≥ 0); coupled L2 unless ``decoupled_weight_decay``.
        momentum: momentum factor (≥ 0); 0 disables the buffer.
        centered: normalise by the estimated variance ``v − m²`` instead of ``v``.
        maximize: ascend the objective instead of descending it.
        eps_in_sqrt: add ``eps`` inside the square root.
        lr_in_momentum_buffer: accumulate ``lr·g/d`` in the momentum buffer (Keras, Optax).
        nesterov: Nesterov form of the momentum (Optax).
        bias_correction: divide the averages by ``1 − αᵗ`` (Optax).
        initial_scale: starting value of v (≥ 0; Optax).
        decoupled_weight_decay: Keras-style decay of θ instead of L2 on the gradient.

    Warning:
        α sets the memory: the average forgets with a time constant of about ``1/(1 − α)`` steps and
        a half-life of ``ln 0.5 / ln α`` steps (α = 0.99: ~100 steps, half-life 69; α = 0.9: ~10
        steps, half-life 6.6). Gradient scales that change faster than that are not tracked; a very
        short memory makes the step size as noisy as the gradients themselves.
    """

    method: ClassVar[str] = "rmsprop"

    def __init__(  # noqa: PLR0917 - torch.optim's positional signature
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        *,
        maximize: bool = False,
        eps_in_sqrt: bool = False,
        lr_in_momentum_buffer: bool = False,
        nesterov: bool = False,
        bias_correction: bool = False,
        initial_scale: float = 0.0,
        decoupled_weight_decay: bool = False,
    ) -> None:
        check_non_negative("learning rate", lr)
        check_non_negative("epsilon value", eps)
        check_non_negative("momentum value", momentum)
        check_non_negative("weight_decay value", weight_decay)
        check_unit_interval("alpha value", alpha, include_one=False)
        check_non_negative("initial_scale value", initial_scale)
        defaults = {
            "lr": lr,
            "alpha": alpha,
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum": momentum,
            "centered": centered,
            "maximize": maximize,
            "eps_in_sqrt": eps_in_sqrt,
            "lr_in_momentum_buffer": lr_in_momentum_buffer,
            "nesterov": nesterov,
            "bias_correction": bias_correction,
            "initial_scale": initial_scale,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(params, defaults)

    def _state_of(self, param: Tensor, group: ParamGroup) -> dict[str, Any]:
        state: dict[str, Any] = self.state[param]
        if not state:
            state["step"] = 0
            state["square_avg"] = torch.full_like(
                param, group["initial_scale"], memory_format=torch.preserve_format
            )
            if group["momentum"] > 0:
                state["momentum_buffer"] = torch.zeros_like(param, memory_format=torch.preserve_format)
            if group["centered"]:
                state["grad_avg"] = torch.zeros_like(param, memory_format=torch.preserve_format)
        return state

    def _update_group(self, group: ParamGroup, params: list[Tensor]) -> None:
        if any(p.grad is not None and p.grad.is_sparse for p in params):
            raise RuntimeError("RMSprop does not support sparse gradients")
        states = [self._state_of(p, group) for p in params]
        steps = self._advance_steps(params)
        alpha: float = group["alpha"]
        grads = apply_weight_decay(group, params, gradients(params, maximize=group["maximize"]))
        square_avgs = [s["square_avg"] for s in states]
        torch._foreach_mul_(square_avgs, alpha)
        torch._foreach_addcmul_(square_avgs, grads, grads, value=1 - alpha)
        grad_avgs = [s["grad_avg"] for s in states] if group["centered"] else None
        if grad_avgs is not None:
            torch._foreach_lerp_(grad_avgs, grads, 1 - alpha)
        denominators = _denominators(square_avgs, grad_avgs, steps, group)

        lr: float = group["lr"]
        momentum: float = group["momentum"]
        if momentum <= 0:
            torch._foreach_addcdiv_(params, grads, denominators, value=-lr)
            return
        into_buffer, outside_buffer = (lr, 1.0) if group["lr_in_momentum_buffer"] else (1.0, lr)
        buffers = [s["momentum_buffer"] for s in states]
        torch._foreach_mul_(buffers, momentum)
        torch._foreach_addcdiv_(buffers, grads, denominators, value=into_buffer)
        if group["nesterov"]:
            torch._foreach_addcdiv_(params, grads, denominators, value=-outside_buffer * into_buffer)
            torch._foreach_add_(params, buffers, alpha=-outside_buffer * momentum)
        else:
            torch._foreach_add_(params, buffers, alpha=-outside_buffer)

    def effective_step_size(self, param: Tensor) -> Tensor:
        group = self.param_group_of(param)
        square_avg = self._state_or(param, "square_avg", group["initial_scale"])
        grad_avg = self._state_or(param, "grad_avg", 0.0) if group["centered"] else None
        next_step = self._completed_steps(param) + 1
        denominator = _denominators(
            [square_avg], None if grad_avg is None else [grad_avg], [next_step], group
        )[0]
        return denominator.reciprocal_().mul_(group["lr"])

    def state_trace(self, param: Tensor) -> dict[str, Tensor]:
        group = self.param_group_of(param)
        names = ["square_avg"]
        if group["centered"]:
            names.append("grad_avg")
        if group["momentum"] > 0:
            names.append("momentum_buffer")
        state = self.state.get(param)
        if state:
            return copy_state(state, names)
        initial = {"square_avg": group["initial_scale"], "grad_avg": 0.0, "momentum_buffer": 0.0}
        return {name: self._state_or(param, name, initial[name]) for name in names}


def _denominators(
    square_avgs: TensorList, grad_avgs: TensorList | None, steps: list[int], group: ParamGroup
) -> TensorList:
    """``d`` of the update for each tensor, from the (possibly bias-corrected) averages."""
    eps: float = group["eps"]
    variances = square_avgs
    fresh = False  # whether ``variances`` are temporaries that may be modified in place
    if group["bias_correction"]:
        corrections = [1 - group["alpha"] ** step for step in steps]
        variances = torch._foreach_div(square_avgs, corrections)
        fresh = True
        if grad_avgs is not None:
            grad_avgs = torch._foreach_div(grad_avgs, corrections)
    if grad_avgs is not None:
        variances = torch._foreach_addcmul(variances, grad_avgs, grad_avgs, value=-1)
        fresh = True
    if group["eps_in_sqrt"]:
        denominators = variances if fresh else torch._foreach_add(variances, eps)
        if fresh:
            torch._foreach_add_(denominators, eps)
        torch._foreach_sqrt_(denominators)
        return denominators
    if fresh:
        torch._foreach_sqrt_(variances)
        denominators = variances
    else:
        denominators = torch._foreach_sqrt(variances)
    torch._foreach_add_(denominators, eps)
    return denominators
