"""effective_step_size and state_trace read the state without changing it, and follow the formulas."""

from __future__ import annotations

import copy

import pytest
import torch

from optadvisor import optimizers

FLAVOURS = [
    ("adagrad", "torch", {"lr": 0.1, "lr_decay": 0.01}),
    ("adagrad", "keras", {"learning_rate": 0.1}),
    ("adagrad", "optax", {"learning_rate": 0.1, "initial_accumulator_value": 0.0, "eps": 0.0}),
    ("rmsprop", "torch", {"lr": 0.01, "centered": True, "momentum": 0.9}),
    ("rmsprop", "optax", {"learning_rate": 0.01, "bias_correction": True}),
    ("adadelta", "torch", {}),
    ("adam", "torch", {"amsgrad": True}),
    ("adam", "keras", {}),
    ("sgd", "torch", {"momentum": 0.9}),
]


def _stepped(
    method: str, framework: str, hyperparameters: dict[str, object]
) -> tuple[optimizers.AdaptiveOptimizer, torch.Tensor]:
    param = torch.linspace(-1, 1, 6, dtype=torch.float64).requires_grad_()
    optimizer = optimizers.create(method, [param], framework=framework, **hyperparameters)
    generator = torch.Generator().manual_seed(0)
    for _ in range(5):
        param.grad = torch.randn(6, generator=generator, dtype=torch.float64) * torch.tensor(
            [0, 1, 1, 1, 1, 1.0]
        )
        optimizer.step()
    return optimizer, param


@pytest.mark.parametrize(("method", "framework", "hyperparameters"), FLAVOURS)
def test_introspection_does_not_change_state(
    method: str, framework: str, hyperparameters: dict[str, object]
) -> None:
    optimizer, param = _stepped(method, framework, hyperparameters)
    twin = copy.deepcopy(optimizer)
    twin_param = twin.param_groups[0]["params"][0]
    for _ in range(3):
        optimizer.effective_step_size(param)
        trace = optimizer.state_trace(param)
        for tensor in trace.values():
            tensor.add_(1.0)  # copies: mutating them must not reach the optimizer
    for _ in range(2):
        gradient = torch.full((6,), 0.3, dtype=torch.float64)
        param.grad, twin_param.grad = gradient.clone(), gradient.clone()
        optimizer.step()
        twin.step()
    assert torch.equal(param, twin_param)
    for name, tensor in optimizer.state_trace(param).items():
        assert torch.equal(tensor, twin.state_trace(twin_param)[name]), name


def test_adagrad_step_size_formulas() -> None:
    optimizer, param = _stepped("adagrad", "torch", {"lr": 0.1, "lr_decay": 0.01})
    accumulator = optimizer.state_trace(param)["sum"]
    expected = 0.1 / (1 + 5 * 0.01) / (accumulator.sqrt() + 1e-10)
    torch.testing.assert_close(optimizer.effective_step_size(param), expected)

    optimizer, param = _stepped(
        "adagrad", "optax", {"learning_rate": 0.1, "initial_accumulator_value": 0.0, "eps": 0.0}
    )
    step_size = optimizer.effective_step_size(param)
    assert step_size[0] == 0  # never-updated coordinate: Optax' where(S > 0) guard
    torch.testing.assert_close(step_size[1:], 0.1 / optimizer.state_trace(param)["sum"][1:].sqrt())


def test_rmsprop_centered_step_size_formula() -> None:
    optimizer, param = _stepped("rmsprop", "torch", {"lr": 0.01, "centered": True, "momentum": 0.9})
    trace = optimizer.state_trace(param)
    assert set(trace) == {"square_avg", "grad_avg", "momentum_buffer"}
    expected = 0.01 / ((trace["square_avg"] - trace["grad_avg"] ** 2).sqrt() + 1e-8)
    torch.testing.assert_close(optimizer.effective_step_size(param), expected)


def test_adadelta_step_size_and_last_delta() -> None:
    param = torch.ones(4, dtype=torch.float64, requires_grad=True)
    optimizer = optimizers.create("adadelta", [param], lr=0.5)
    first = optimizer.effective_step_size(param)
    torch.testing.assert_close(first, torch.full((4,), 0.5, dtype=torch.float64))  # sqrt(eps)/sqrt(eps)
    before = param.detach().clone()
    param.grad = torch.tensor([0.0, 1.0, -2.0, 3.0], dtype=torch.float64)
    optimizer.step()
    trace = optimizer.state_trace(param)
    torch.testing.assert_close(trace["last_delta"], param.detach() - before)
    expected = 0.5 * (trace["acc_delta"] + 1e-6).sqrt() / (trace["square_avg"] + 1e-6).sqrt()
    torch.testing.assert_close(optimizer.effective_step_size(param), expected)


def test_adam_step_size_uses_next_bias_correction() -> None:
    optimizer, param = _stepped("adam", "torch", {"lr": 0.01})
    v = optimizer.state_trace(param)["exp_avg_sq"]
    bc1, bc2 = 1 - 0.9**6, 1 - 0.999**6
    torch.testing.assert_close(optimizer.effective_step_size(param), 0.01 / bc1 / ((v / bc2).sqrt() + 1e-8))


def test_step_size_before_first_step_uses_initial_state() -> None:
    param = torch.zeros(3, requires_grad=True)
    optimizer = optimizers.create("adagrad", [param], framework="keras", learning_rate=0.2)
    torch.testing.assert_close(
        optimizer.effective_step_size(param), torch.full((3,), 0.2 / (0.1 + 1e-7) ** 0.5)
    )
    assert optimizers.create("sgd", [param], lr=0.3).effective_step_size(param).eq(0.3).all()
    assert optimizer.state_trace(param)["sum"].eq(0.1).all()
    assert not optimizers.create("rmsprop", [param]).state
