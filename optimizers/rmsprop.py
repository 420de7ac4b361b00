"""RMSprop: per-coordinate learning rates from an exponential moving average of squared gradients."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

import torch
from torch import Tensor

from optadvisor.optimizers.base import (
    AdaptiveOptimizer,
    ParamGroup,
    TensorList,
    advance_steps,
    copy_state,
    into,
    needs_gradient_scratch,
    prepare_gradients,
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

    def _update_group(self, group: ParamGroup, params: list[Tensor], grads: list[Tensor]) -> None:
        if any(grad.is_sparse for grad in grads):
            raise RuntimeError("RMSprop does not support sparse gradients")
        states = [self._state_of(p, group) for p in params]
        steps = advance_steps(states)
        alpha: float = group["alpha"]
        lr: float = group["lr"]
        momentum: float = group["momentum"]
        centered: bool = group["centered"]
        into_buffer, outside_buffer = (lr, 1.0) if group["lr_in_momentum_buffer"] else (1.0, lr)
        columns = [params, grads, [s["square_avg"] for s in states]]
        if centered:
            columns.append([s["grad_avg"] for s in states])
        if momentum > 0:
            columns.append([s["momentum_buffer"] for s in states])
        spare = centered and group["bias_correction"]
        scratch = 1 + spare + needs_gradient_scratch(group)
        for chunk in self._scratch.chunks(columns, scratch=scratch):
            chunk_params, square_avgs = chunk.columns[0], chunk.columns[2]
            grad_avgs = chunk.columns[3] if centered else None
            rule_grads = prepare_gradients(group, chunk)
            torch._foreach_mul_(square_avgs, alpha)
            torch._foreach_addcmul_(square_avgs, rule_grads, rule_grads, value=1 - alpha)
            if grad_avgs is not None:
                torch._foreach_lerp_(grad_avgs, rule_grads, 1 - alpha)
            denominators = _denominators(
                square_avgs,
                grad_avgs,
                chunk.per_piece(steps),
                group,
                out=chunk.scratch[0],
                spare=chunk.scratch[1] if spare else [],
            )
            if momentum <= 0:
                torch._foreach_addcdiv_(chunk_params, rule_grads, denominators, value=-lr)
                continue
            buffers = chunk.columns[-1]
            torch._foreach_mul_(buffers, momentum)
            torch._foreach_addcdiv_(buffers, rule_grads, denominators, value=into_buffer)
            if group["nesterov"]:
                torch._foreach_addcdiv_(
                    chunk_params, rule_grads, denominators, value=-outside_buffer * into_buffer
                )
                torch._foreach_add_(chunk_params, buffers, alpha=-outside_buffer * momentum)
            else:
                torch._foreach_add_(chunk_params, buffers, alpha=-outside_buffer)

    def effective_step_size(self, param: Tensor) -> Tensor:
        group = self.param_group_of(param)
        square_avg = self._state_or(param, "square_avg", group["initial_scale"])
        grad_avg = self._state_or(param, "grad_avg", 0.0) if group["centered"] else None
        next_step = self._completed_steps(param) + 1
        denominator = _denominators(
            [square_avg],
            None if grad_avg is None else [grad_avg],
            [next_step],
            group,
            out=[torch.empty_like(square_avg)],
            spare=[torch.empty_like(square_avg)],
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
    square_avgs: TensorList,
    grad_avgs: TensorList | None,
    steps: Sequence[int],
    group: ParamGroup,
    *,
    out: TensorList,
    spare: TensorList,
) -> TensorList:
    """``d`` of the update for each tensor, from the (possibly bias-corrected) averages, into ``out``.

    ``spare`` holds the bias-corrected ``m̂`` when centered with bias correction (else unused, may be empty).
    """
    eps: float = group["eps"]
    variances = square_avgs
    if group["bias_correction"]:
        corrections = [1 - group["alpha"] ** step for step in steps]
        for target, square_avg, correction in zip(out, square_avgs, corrections, strict=True):
            torch.div(square_avg, correction, out=target)
        if grad_avgs is not None:
            for target, grad_avg, correction in zip(spare, grad_avgs, corrections, strict=True):
                torch.div(grad_avg, correction, out=target)
            torch._foreach_addcmul_(out, spare, spare, value=-1)
        variances = out
    elif grad_avgs is not None:
        for target, square_avg, grad_avg in zip(out, square_avgs, grad_avgs, strict=True):
            torch.addcmul(square_avg, grad_avg, grad_avg, value=-1, out=target)
        variances = out
    # out= may be the input itself (an elementwise op then works in place).
    if group["eps_in_sqrt"]:
        torch._foreach_sqrt_(into(out, torch.add, variances, eps))
    else:
        torch._foreach_add_(into(out, torch.sqrt, variances), eps)
    return out
