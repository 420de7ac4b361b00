"""Adadelta: RMSprop whose step is rescaled by the running RMS of its own past updates."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import torch
from torch import Tensor

from optadvisor.optimizers.base import AdaptiveOptimizer, ParamGroup, advance_steps
from optadvisor.optimizers.semantics import AdadeltaRule, into
from optadvisor.optimizers.validation import check_non_negative, check_unit_interval


class Adadelta(AdaptiveOptimizer):
    r"""Adadelta (Zeiler, 2012), torch.optim.Adadelta semantics by default.

    For each step with gradient ``g``::

        g     ← −g                                        if maximize
        g     ← g + weight_decay·θ                        (rule.decay CoupledDecay; torch, Optax)
        θ     ← θ·(1 − lr·weight_decay)                   (rule.decay DecoupledDecay; Keras)
        E_g   ← ρ·E_g + (1 − ρ)·g²
        δ     = sqrt(E_dx + eps) / sqrt(E_g + eps) · g     (old E_dx, new E_g)
        E_dx  ← ρ·E_dx + (1 − ρ)·δ²                       (δ is not scaled by lr)
        θ     ← θ − lr·δ                                  (θ ← θ + lr·δ with rule.direction Ascent)

    ``Ascent`` reproduces ``optax.adadelta(learning_rate=None)``, which applies no learning
    rate and no sign flip and therefore climbs the objective. ``state_trace`` reports the last
    applied Adadelta update ``∓lr·δ`` as ``last_delta`` (decoupled weight decay not included).

    Args:
        params: parameters or parameter groups.
        lr: scale applied to δ (≥ 0); 1.0 is the paper's form.
        rho: decay of both moving averages, in [0, 1].
        eps: term inside both square roots (≥ 0).
        weight_decay: weight decay (≥ 0); coupled L2 unless ``decoupled_weight_decay``.
        maximize: ascend the objective by negating the gradient (before weight decay).
        rule: the framework's links (weight decay, direction of the step); torch's by default,
            the others' in :mod:`optadvisor.optimizers.frameworks`.

    Warning:
        E_dx starts at 0, so the first steps have size about ``sqrt(eps/(1 − ρ))`` per coordinate
        whatever the gradient's scale (torch defaults: sqrt(1e-6/0.1) ≈ 3.2e-3), and the step can
        only grow geometrically from there. ``lr`` is just a scale on δ, not a step size: Keras'
        default ``learning_rate=0.001`` makes every step 1000× smaller than the paper's.
    """

    method: ClassVar[str] = "adadelta"
    rule: AdadeltaRule

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
        *,
        maximize: bool = False,
        rule: AdadeltaRule | None = None,
    ) -> None:
        check_non_negative("learning rate", lr)
        check_unit_interval("rho value", rho, include_one=True)
        check_non_negative("epsilon value", eps)
        check_non_negative("weight_decay value", weight_decay)
        defaults = {
            "lr": lr,
            "rho": rho,
            "eps": eps,
            "weight_decay": weight_decay,
            "maximize": maximize,
        }
        super().__init__(params, defaults, rule or AdadeltaRule())

    def _update_group(self, group: ParamGroup, params: list[Tensor], grads: list[Tensor]) -> None:
        if any(grad.is_sparse for grad in grads):
            raise RuntimeError("Adadelta does not support sparse gradients")
        states = [self.state[p] for p in params]
        for param, state in zip(params, states, strict=True):
            if not state:
                state["square_avg"] = torch.zeros_like(param, memory_format=torch.preserve_format)
                state["acc_delta"] = torch.zeros_like(param, memory_format=torch.preserve_format)
                state["delta"] = torch.zeros_like(param, memory_format=torch.preserve_format)
        advance_steps(states)
        rho: float = group["rho"]
        eps: float = group["eps"]
        scale = self.rule.direction.scale(group["lr"])
        decay = self.rule.decay
        columns = [
            params,
            grads,
            [s["square_avg"] for s in states],
            [s["acc_delta"] for s in states],
            [s["delta"] for s in states],
        ]
        for chunk in self._scratch.chunks(columns, scratch=1 + decay.needs_scratch(group)):
            chunk_params, _, square_avgs, acc_deltas, deltas = chunk.columns
            rule_grads = decay.gradients(group, chunk)
            torch._foreach_mul_(square_avgs, rho)
            torch._foreach_addcmul_(square_avgs, rule_grads, rule_grads, value=1 - rho)
            stds = into(chunk.scratch[0], torch.add, square_avgs, eps)
            torch._foreach_sqrt_(stds)
            # delta is state, not scratch: state_trace reports the last update from it.
            torch._foreach_sqrt_(into(deltas, torch.add, acc_deltas, eps))
            torch._foreach_div_(deltas, stds)
            torch._foreach_mul_(deltas, rule_grads)
            torch._foreach_mul_(acc_deltas, rho)
            torch._foreach_addcmul_(acc_deltas, deltas, deltas, value=1 - rho)
            torch._foreach_add_(chunk_params, deltas, alpha=scale)
        for state in states:
            state["delta_scale"] = scale

    def effective_step_size(self, param: Tensor) -> Tensor:
        group = self.param_group_of(param)
        eps: float = group["eps"]
        numerator = self._state_or(param, "acc_delta", 0.0).add(eps).sqrt_()
        denominator = self._state_or(param, "square_avg", 0.0).add(eps).sqrt_()
        return numerator.div_(denominator).mul_(group["lr"])

    def state_trace(self, param: Tensor) -> dict[str, Tensor]:
        self.param_group_of(param)
        state = self.state.get(param, {})
        last_delta = state["delta"] * state["delta_scale"] if "delta" in state else torch.zeros_like(param)
        return {
            "square_avg": self._state_or(param, "square_avg", 0.0).clone(),
            "acc_delta": self._state_or(param, "acc_delta", 0.0).clone(),
            "last_delta": last_delta,
        }
