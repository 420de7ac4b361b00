"""Adagrad: per-coordinate learning rates from the running sum of squared gradients."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import torch
from torch import Tensor

from optadvisor.optimizers.base import AdaptiveOptimizer, ParamGroup, advance_steps
from optadvisor.optimizers.semantics import AdagradRule
from optadvisor.optimizers.validation import check_non_negative


class Adagrad(AdaptiveOptimizer):
    r"""Adagrad (Duchi, Hazan and Singer, 2011), torch.optim.Adagrad semantics by default.

    For each step ``t`` (1-based) with gradient ``g``::

        g   ← −g                                  if maximize
        g   ← g + weight_decay·θ                  (coupled L2; torch)
        θ   ← θ·(1 − lr·weight_decay)             (rule.decay DecoupledDecay; Keras, before the step)
        lr_t = lr / (1 + (t − 1)·lr_decay)
        S   ← S + g²                              (S₀ = initial_accumulator_value)
        θ   ← θ − lr_t · g / d(S)                 d = rule.denominator: sqrt(S) + eps (torch),
                                                  sqrt(S + eps) (Keras, Optax)

    With Optax's rule (``ZeroGuard``) coordinates whose accumulator is exactly 0 receive no update
    instead of 0/0. Sparse gradients (``nn.Embedding(sparse=True)``) are coalesced, so duplicate
    indices are summed before squaring, and rows that are not indexed keep both θ and S unchanged.

    Args:
        params: parameters or parameter groups.
        lr: learning rate (≥ 0).
        lr_decay: learning-rate decay per step (≥ 0).
        weight_decay: weight decay (≥ 0); coupled L2 unless ``decoupled_weight_decay``.
        initial_accumulator_value: starting value of S (≥ 0); torch uses 0, Keras and Optax 0.1.
        eps: term added to the denominator (≥ 0).
        maximize: ascend the objective instead of descending it.
        rule: the framework's links (weight decay, denominator); torch's by default, the others'
            in :mod:`optadvisor.optimizers.frameworks`.

    Warning:
        The accumulator S only grows and never forgets, so the effective rate
        ``lr/sqrt(S)`` decays like ``1/sqrt(number of updates)`` on dense gradients: after 10⁴
        updates of constant size it is 1% of its first-step value, and learning stalls long
        before a non-convex problem is solved.
    """

    method: ClassVar[str] = "adagrad"
    rule: AdagradRule

    def __init__(  # noqa: PLR0917 - torch.optim's positional signature
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
        rule: AdagradRule | None = None,
    ) -> None:
        check_non_negative("learning rate", lr)
        check_non_negative("lr_decay value", lr_decay)
        check_non_negative("weight_decay value", weight_decay)
        check_non_negative("initial_accumulator_value value", initial_accumulator_value)
        check_non_negative("epsilon value", eps)
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "eps": eps,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "maximize": maximize,
        }
        super().__init__(params, defaults, rule or AdagradRule())
        # torch.optim.Adagrad creates the accumulators eagerly, so they exist before the first step.
        for group in self.param_groups:
            for param in group["params"]:
                self._init_state(param, group["initial_accumulator_value"])

    def _init_state(self, param: Tensor, initial_accumulator_value: float) -> None:
        self.state[param]["step"] = 0
        self.state[param]["sum"] = torch.full_like(
            param, initial_accumulator_value, memory_format=torch.preserve_format
        )

    def _update_group(self, group: ParamGroup, params: list[Tensor], grads: list[Tensor]) -> None:
        for param in params:
            if "sum" not in self.state[param]:
                # Matches torch: parameters added later start from the constructor's default.
                self._init_state(param, self.defaults["initial_accumulator_value"])
        states = [self.state[p] for p in params]
        steps = advance_steps(states)
        lr, lr_decay = group["lr"], group["lr_decay"]
        step_sizes = [-lr / (1 + (step - 1) * lr_decay) for step in steps]
        sparse = [grad.is_sparse for grad in grads]
        if any(sparse):
            for param, grad, step_size in zip(params, grads, step_sizes, strict=True):
                if grad.is_sparse:
                    self._sparse_update(group, param, grad, step_size)
            dense = [i for i, is_sparse in enumerate(sparse) if not is_sparse]
            params, grads, states = (
                [params[i] for i in dense],
                [grads[i] for i in dense],
                [states[i] for i in dense],
            )
            step_sizes = [step_sizes[i] for i in dense]
        decay, denominator, eps = self.rule.decay, self.rule.denominator, group["eps"]
        columns = [params, grads, [s["sum"] for s in states]]
        for chunk in self._scratch.chunks(columns, scratch=1 + decay.needs_scratch(group)):
            chunk_params, _, sums = chunk.columns
            rule_grads = decay.gradients(group, chunk)
            torch._foreach_addcmul_(sums, rule_grads, rule_grads, value=1)
            denominators = denominator(sums, eps, chunk.scratch[0])
            torch._foreach_addcdiv_(chunk_params, rule_grads, denominators, chunk.per_piece(step_sizes))

    def _sparse_update(self, group: ParamGroup, param: Tensor, grad: Tensor, step_size: float) -> None:
        if group["weight_decay"] != 0:
            raise RuntimeError("weight_decay option is not compatible with sparse gradients")
        state_sum: Tensor = self.state[param]["sum"]
        # The update is non-linear, so duplicate indices must be summed first.
        grad = (-grad if group["maximize"] else grad).coalesce()
        indices, values = grad._indices(), grad._values()
        state_sum.add_(torch.sparse_coo_tensor(indices, values.pow(2), grad.size(), check_invariants=False))
        touched = state_sum.sparse_mask(grad)._values()
        denominator = self.rule.denominator([touched], group["eps"], [torch.empty_like(touched)])[0]
        param.add_(
            torch.sparse_coo_tensor(indices, values / denominator, grad.size(), check_invariants=False),
            alpha=step_size,
        )

    def effective_step_size(self, param: Tensor) -> Tensor:
        group = self.param_group_of(param)
        rate = group["lr"] / (1 + self._completed_steps(param) * group["lr_decay"])
        accumulator = self._state_or(param, "sum", self.defaults["initial_accumulator_value"])
        denominator = self.rule.denominator([accumulator], group["eps"], [torch.empty_like(accumulator)])[0]
        return denominator.reciprocal_().mul_(rate)

    def state_trace(self, param: Tensor) -> dict[str, Tensor]:
        self.param_group_of(param)
        return {"sum": self._state_or(param, "sum", self.defaults["initial_accumulator_value"]).clone()}
