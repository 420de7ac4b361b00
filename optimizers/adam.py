"""Adam and AdamW: bias-corrected moving averages of the gradient and of its square."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any, ClassVar

import torch
from torch import Tensor

from optadvisor.optimizers.base import AdaptiveOptimizer, ParamGroup, advance_steps, copy_state
from optadvisor.optimizers.semantics import DECOUPLED, AdamRule, into
from optadvisor.optimizers.validation import check_non_negative, check_unit_interval


class Adam(AdaptiveOptimizer):
    r"""Adam (Kingma and Ba, 2015), torch.optim.Adam semantics by default.

    For each step ``t`` with gradient ``g``::

        g    ← −g                                     if maximize
        g    ← g + weight_decay·θ                     (rule.decay CoupledDecay; Adam)
        θ    ← θ·(1 − lr·weight_decay)                (rule.decay DecoupledDecay; AdamW, Keras)
        m    ← β₁·m + (1 − β₁)·g
        v    ← β₂·v + (1 − β₂)·g²
        v*   = max(v*, v) if amsgrad else v
        θ    ← θ − lr/(1 − β₁ᵗ) · m / (sqrt(v*/(1 − β₂ᵗ)) + eps)       (EpsAfterCorrection; torch, Optax)
        θ    ← θ − lr·sqrt(1 − β₂ᵗ)/(1 − β₁ᵗ) · m / (sqrt(v*) + eps)   (EpsBeforeCorrection; Keras)

    (the last line is ``rule.epsilon``)

    Args:
        params: parameters or parameter groups.
        lr: learning rate (≥ 0).
        betas: decays (β₁, β₂) of the two averages, each in [0, 1).
        eps: term added to the denominator (≥ 0).
        weight_decay: weight decay (≥ 0).
        amsgrad: normalise by the running maximum of v.
        maximize: ascend the objective instead of descending it.
        decoupled_weight_decay: decoupled (AdamW) instead of L2 weight decay (torch's own switch:
            sets ``rule.decay``).
        rule: the framework's links (weight decay, placement of eps); torch's by default, the
            others' in :mod:`optadvisor.optimizers.frameworks`.

    Warning:
        The step is about lr per coordinate whatever the gradient's scale, so ``lr`` sets the
        distance travelled; with L2 weight decay (not AdamW) the decay is normalised away for
        coordinates with large gradients and barely regularises them.
    """

    method: ClassVar[str] = "adam"
    rule: AdamRule

    def __init__(  # noqa: PLR0917 - torch.optim's positional signature
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
        rule: AdamRule | None = None,
    ) -> None:
        check_non_negative("learning rate", lr)
        check_non_negative("epsilon value", eps)
        check_unit_interval("beta parameter at index 0", betas[0], include_one=False)
        check_unit_interval("beta parameter at index 1", betas[1], include_one=False)
        check_non_negative("weight_decay value", weight_decay)
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
        }
        rule = rule or AdamRule()
        if decoupled_weight_decay:
            rule = dataclasses.replace(rule, decay=DECOUPLED)
        super().__init__(params, defaults, rule)

    def _update_group(self, group: ParamGroup, params: list[Tensor], grads: list[Tensor]) -> None:
        if any(grad.is_sparse for grad in grads):
            raise RuntimeError("Adam does not support sparse gradients")
        names = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq") if group["amsgrad"] else ("exp_avg", "exp_avg_sq")
        states = [self.state[p] for p in params]
        for param, state in zip(params, states, strict=True):
            for name in names:
                if name not in state:
                    state[name] = torch.zeros_like(param, memory_format=torch.preserve_format)
        steps = advance_steps(states)
        beta1, beta2 = group["betas"]
        second_moment = "max_exp_avg_sq" if group["amsgrad"] else "exp_avg_sq"
        columns = [
            params,
            grads,
            [s["exp_avg"] for s in states],
            [s["exp_avg_sq"] for s in states],
            [s[second_moment] for s in states],
        ]
        decay, epsilon, lr, eps = self.rule.decay, self.rule.epsilon, group["lr"], group["eps"]
        betas = (beta1, beta2)
        for chunk in self._scratch.chunks(columns, scratch=1 + decay.needs_scratch(group)):
            chunk_params, _, exp_avgs, exp_avg_sqs, second_moments = chunk.columns
            rule_grads = decay.gradients(group, chunk)
            torch._foreach_lerp_(exp_avgs, rule_grads, 1 - beta1)
            torch._foreach_mul_(exp_avg_sqs, beta2)
            torch._foreach_addcmul_(exp_avg_sqs, rule_grads, rule_grads, value=1 - beta2)
            if group["amsgrad"]:
                torch._foreach_maximum_(second_moments, exp_avg_sqs)
            denominators = into(chunk.scratch[0], torch.sqrt, second_moments)
            step_sizes = epsilon(denominators, chunk.per_piece(steps), lr, betas, eps)
            torch._foreach_addcdiv_(chunk_params, exp_avgs, denominators, [-s for s in step_sizes])

    def effective_step_size(self, param: Tensor) -> Tensor:
        group = self.param_group_of(param)
        second_moment = "max_exp_avg_sq" if group["amsgrad"] else "exp_avg_sq"
        denominator = self._state_or(param, second_moment, 0.0).sqrt()
        (step_size,) = self.rule.epsilon(
            [denominator], [self._completed_steps(param) + 1], group["lr"], group["betas"], group["eps"]
        )
        return denominator.reciprocal_().mul_(step_size)

    def state_trace(self, param: Tensor) -> dict[str, Tensor]:
        group = self.param_group_of(param)
        names = ["exp_avg", "exp_avg_sq"] + (["max_exp_avg_sq"] if group["amsgrad"] else [])
        state = self.state.get(param)
        if state:
            return copy_state(state, names)
        return {name: torch.zeros_like(param) for name in names}


class AdamW(Adam):
    r"""AdamW (Loshchilov and Hutter, 2019): :class:`Adam` with decoupled weight decay.

    Identical to ``Adam(..., decoupled_weight_decay=True)``, as in torch.optim.AdamW; the default
    ``weight_decay`` is 1e-2. See :class:`Adam` for the update rule::

        θ ← θ·(1 − lr·weight_decay), then the Adam step with the gradient taken at the old θ.

    Warning:
        The decay is multiplied by lr, so changing lr (or a schedule) also changes the effective
        regularisation; with ``lr·weight_decay`` close to 1 the parameters are wiped each step.
    """

    method: ClassVar[str] = "adamw"

    def __init__(  # noqa: PLR0917 - torch.optim's positional signature
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        rule: AdamRule | None = None,
    ) -> None:
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            maximize=maximize,
            decoupled_weight_decay=True,
            rule=rule,
        )
