"""torch.optim's update rules for K stacked copies of a model, each copy with its own hyperparameters.

The corpus trains every grid configuration of a task at once: parameters carry a leading slice axis, the
gradients of all slices come from one ``torch.func.vmap`` call, and each method updates its contiguous
range of slices here. Per slice, each update is torch.optim's single-tensor algorithm in torch's order of
operations (tests/benchmarks/evidence/test_batched.py checks every method against torch.optim itself), so
the outcomes measure torch's optimizers, not a look-alike.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from optadvisor import optimizers


def _column(values: Sequence[float], like: Tensor) -> Tensor:
    """Per-slice values shaped to broadcast against a [K, ...] tensor."""
    column = torch.tensor(values, dtype=like.dtype, device=like.device)
    return column.reshape(-1, *([1] * (like.dim() - 1)))


class BatchedMethod(ABC):
    """One method's update over stacked ``params`` (each tensor [K, ...]), hyperparameters per index of the
    leading axis; further leading axes (the trainer's seeds) share their configuration's values."""

    method: str

    def __init__(self, params: Sequence[Tensor], settings: Sequence[Mapping[str, Any]]) -> None:
        defaults = optimizers.defaults(self.method, "torch")
        self.params = list(params)
        self.settings = [{**defaults, **slice_settings} for slice_settings in settings]
        self.step_count = 0
        self.state: list[dict[str, Tensor]] = [self.init_state(p) for p in self.params]

    def hyper(self, name: str, like: Tensor) -> Tensor:
        return _column([float(s[name]) for s in self.settings], like)

    def init_state(self, param: Tensor) -> dict[str, Tensor]:
        return {}

    @torch.no_grad()
    def step(self, grads: Sequence[Tensor]) -> None:
        self.step_count += 1
        for param, grad, state in zip(self.params, grads, self.state, strict=True):
            self.update(param, grad, state)

    @abstractmethod
    def update(self, param: Tensor, grad: Tensor, state: dict[str, Tensor]) -> None:
        """Apply one step to ``param`` (all slices) in place."""


class Adagrad(BatchedMethod):
    method = "adagrad"

    def init_state(self, param: Tensor) -> dict[str, Tensor]:
        return {"sum": torch.ones_like(param) * self.hyper("initial_accumulator_value", param)}

    def update(self, param: Tensor, grad: Tensor, state: dict[str, Tensor]) -> None:
        state["sum"].addcmul_(grad, grad)
        std = state["sum"].sqrt().add_(self.hyper("eps", param))
        param.sub_(self.hyper("lr", param) * grad / std)


class RMSprop(BatchedMethod):
    method = "rmsprop"

    def init_state(self, param: Tensor) -> dict[str, Tensor]:
        return {"square_avg": torch.zeros_like(param)}

    def update(self, param: Tensor, grad: Tensor, state: dict[str, Tensor]) -> None:
        alpha = self.hyper("alpha", param)
        state["square_avg"].mul_(alpha).add_((1.0 - alpha) * grad * grad)
        avg = state["square_avg"].sqrt().add_(self.hyper("eps", param))
        param.sub_(self.hyper("lr", param) * grad / avg)


class Adadelta(BatchedMethod):
    method = "adadelta"

    def init_state(self, param: Tensor) -> dict[str, Tensor]:
        return {"square_avg": torch.zeros_like(param), "acc_delta": torch.zeros_like(param)}

    def update(self, param: Tensor, grad: Tensor, state: dict[str, Tensor]) -> None:
        rho, eps = self.hyper("rho", param), self.hyper("eps", param)
        state["square_avg"].mul_(rho).add_((1.0 - rho) * grad * grad)
        std = state["square_avg"].add(eps).sqrt_()
        delta = state["acc_delta"].add(eps).sqrt_().div_(std).mul_(grad)
        state["acc_delta"].mul_(rho).add_((1.0 - rho) * delta * delta)
        param.sub_(self.hyper("lr", param) * delta)


class Adam(BatchedMethod):
    method = "adam"

    def init_state(self, param: Tensor) -> dict[str, Tensor]:
        return {"exp_avg": torch.zeros_like(param), "exp_avg_sq": torch.zeros_like(param)}

    def beta(self, index: int, like: Tensor) -> Tensor:
        return _column([float(s["betas"][index]) for s in self.settings], like)

    def bias_corrections(self, index: int, like: Tensor) -> Tensor:
        # In float64, as torch computes these Python scalars.
        betas = torch.tensor([float(s["betas"][index]) for s in self.settings], dtype=torch.float64)
        return (1.0 - betas**self.step_count).to(like.dtype).reshape(-1, *([1] * (like.dim() - 1)))

    def update(self, param: Tensor, grad: Tensor, state: dict[str, Tensor]) -> None:
        beta1, beta2 = self.beta(0, param), self.beta(1, param)
        state["exp_avg"].add_((grad - state["exp_avg"]) * (1.0 - beta1))
        state["exp_avg_sq"].mul_(beta2).add_((1.0 - beta2) * grad * grad)
        step_size = self.hyper("lr", param) / self.bias_corrections(0, param)
        denom = (state["exp_avg_sq"].sqrt() / self.bias_corrections(1, param).sqrt()).add_(
            self.hyper("eps", param)
        )
        param.sub_(step_size * state["exp_avg"] / denom)


class AdamW(Adam):
    method = "adamw"

    def update(self, param: Tensor, grad: Tensor, state: dict[str, Tensor]) -> None:
        param.mul_(1.0 - self.hyper("lr", param) * self.hyper("weight_decay", param))
        super().update(param, grad, state)


class SGD(BatchedMethod):
    """SGD with (possibly zero) momentum, no dampening, no Nesterov: torch's defaults for the rest."""

    method = "sgd"

    def init_state(self, param: Tensor) -> dict[str, Tensor]:
        return {"momentum_buffer": torch.zeros_like(param)}

    def update(self, param: Tensor, grad: Tensor, state: dict[str, Tensor]) -> None:
        # torch starts the buffer at the first gradient; momentum * 0 + g is that, and momentum 0 keeps
        # the buffer equal to the gradient, which is plain SGD.
        buffer = state["momentum_buffer"]
        buffer.mul_(self.hyper("momentum", param)).add_(grad)
        param.sub_(self.hyper("lr", param) * buffer)


BATCHED: dict[str, type[BatchedMethod]] = {
    cls.method: cls for cls in (Adagrad, RMSprop, Adadelta, Adam, AdamW, SGD)
}
