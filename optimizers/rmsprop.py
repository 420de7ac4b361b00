"""RMSprop: per-coordinate learning rates from an exponential moving average of squared gradients."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import torch
from torch import Tensor

from optadvisor.optimizers.base import AdaptiveOptimizer, ParamGroup, advance_steps, copy_state
from optadvisor.optimizers.semantics import AverageState, Heading, RMSpropRule, Update
from optadvisor.optimizers.validation import check_non_negative, check_unit_interval


class RMSprop(AdaptiveOptimizer):
    r"""RMSprop (Tieleman and Hinton, 2012), torch.optim.RMSprop semantics by default.

    For each step ``t`` with gradient ``g``::

        g  ← −g                                   if maximize
        g  ← g + weight_decay·θ                   (rule.decay CoupledDecay; torch)
        θ  ← θ·(1 − lr·weight_decay)              (rule.decay DecoupledDecay; Keras)
        v  ← α·v + (1 − α)·g²                     (v₀ = rule.averages.initial_scale)
        m  ← α·m + (1 − α)·g                      (centered only)
        v̂, m̂ = v/(1 − αᵗ), m/(1 − αᵗ)             (rule.averages BiasCorrectedAverages; Optax), else v, m
        d  = rule.denominator(v̂ − m̂²  or  v̂)    sqrt(·) + eps (torch), sqrt(· + eps) (Keras, Optax)
        without momentum:  θ ← θ − lr·g/d
        with momentum μ:   b ← μ·b + g/d,     θ ← θ − lr·b   (rule.momentum LrOutsideBuffer; torch)
                           b ← μ·b + lr·g/d,  θ ← θ − b      (rule.momentum LrInsideBuffer; Keras, Optax)
        nesterov (Optax):  the applied update is lr·g/d + μ·b (with the new b)

    Args:
        params: parameters or parameter groups.
        lr: learning rate (≥ 0).
        alpha: decay of the moving averages, in [0, 1) (Keras ``rho``, Optax ``decay``).
        eps: term added to the denominator (≥ 0).
        weight_decay: weight decay (≥ 0); coupled L2 unless ``decoupled_weight_decay``.
        momentum: momentum factor (≥ 0); 0 disables the buffer.
        centered: normalise by the estimated variance ``v − m²`` instead of ``v``.
        maximize: ascend the objective instead of descending it.
        nesterov: Nesterov form of the momentum (Optax).
        rule: the framework's links (weight decay, averages, denominator, momentum); torch's by
            default, the others' in :mod:`optadvisor.optimizers.frameworks`.

    Warning:
        α sets the memory: the average forgets with a time constant of about ``1/(1 − α)`` steps and
        a half-life of ``ln 0.5 / ln α`` steps (α = 0.99: ~100 steps, half-life 69; α = 0.9: ~10
        steps, half-life 6.6). Gradient scales that change faster than that are not tracked; a very
        short memory makes the step size as noisy as the gradients themselves.
    """

    method: ClassVar[str] = "rmsprop"
    rule: RMSpropRule

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
        nesterov: bool = False,
        rule: RMSpropRule | None = None,
    ) -> None:
        rule = rule or RMSpropRule()
        check_non_negative("learning rate", lr)
        check_non_negative("epsilon value", eps)
        check_non_negative("momentum value", momentum)
        check_non_negative("weight_decay value", weight_decay)
        check_unit_interval("alpha value", alpha, include_one=False)
        check_non_negative("initial_scale value", rule.averages.initial_scale)
        defaults = {
            "lr": lr,
            "alpha": alpha,
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum": momentum,
            "centered": centered,
            "maximize": maximize,
            "nesterov": nesterov,
        }
        super().__init__(params, defaults, rule)

    def _state_of(self, param: Tensor, group: ParamGroup) -> dict[str, Any]:
        state: dict[str, Any] = self.state[param]
        if not state:
            state["step"] = 0
            state["square_avg"] = torch.full_like(
                param, self.rule.averages.initial_scale, memory_format=torch.preserve_format
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
        eps: float = group["eps"]
        momentum: float = group["momentum"]
        centered: bool = group["centered"]
        decay, averages, denominator = self.rule.decay, self.rule.averages, self.rule.denominator
        columns = [params, grads, [s["square_avg"] for s in states]]
        if centered:
            columns.append([s["grad_avg"] for s in states])
        if momentum > 0:
            columns.append([s["momentum_buffer"] for s in states])
        spare = averages.needs_spare(centered)
        scratch = 1 + spare + decay.needs_scratch(group)
        for chunk in self._scratch.chunks(columns, scratch=scratch):
            chunk_params, square_avgs = chunk.columns[0], chunk.columns[2]
            grad_avgs = chunk.columns[3] if centered else None
            rule_grads = decay.gradients(group, chunk)
            torch._foreach_mul_(square_avgs, alpha)
            torch._foreach_addcmul_(square_avgs, rule_grads, rule_grads, value=1 - alpha)
            if grad_avgs is not None:
                torch._foreach_lerp_(grad_avgs, rule_grads, 1 - alpha)
            out = chunk.scratch[0]
            variances = averages.variances(
                AverageState(square_avgs, grad_avgs, chunk.per_piece(steps), alpha),
                out=out,
                spare=chunk.scratch[1] if spare else [],
            )
            update = Update(rule_grads, denominator(variances, eps, out))  # out= may be the input itself
            if momentum <= 0:
                update.add_to(chunk_params, -lr)
                continue
            buffers = chunk.columns[-1]
            torch._foreach_mul_(buffers, momentum)
            self.rule.momentum.accumulate(buffers, update, lr, 1.0)
            self.rule.momentum.apply(chunk_params, buffers, update, Heading(lr, momentum, group["nesterov"]))

    def effective_step_size(self, param: Tensor) -> Tensor:
        group = self.param_group_of(param)
        square_avg = self._state_or(param, "square_avg", self.rule.averages.initial_scale)
        grad_avg = self._state_or(param, "grad_avg", 0.0) if group["centered"] else None
        out = [torch.empty_like(square_avg)]
        state = AverageState(
            [square_avg],
            None if grad_avg is None else [grad_avg],
            [self._completed_steps(param) + 1],
            group["alpha"],
        )
        variances = self.rule.averages.variances(
            state,
            out=out,
            spare=[torch.empty_like(square_avg)],
        )
        denominator = self.rule.denominator(variances, group["eps"], out)[0]
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
        initial = {"square_avg": self.rule.averages.initial_scale, "grad_avg": 0.0, "momentum_buffer": 0.0}
        return {name: self._state_or(param, name, initial[name]) for name in names}
