"""Bad input raises ValueError naming the culprit."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from optadvisor import optimizers


def _params() -> list[torch.Tensor]:
    return [torch.zeros(3, requires_grad=True)]


@pytest.mark.parametrize(
    ("method", "framework", "hyperparameters", "named"),
    [
        ("adamax", "torch", {}, "'adamax'"),
        ("rmsprop", "jax", {}, "'jax'"),
        ("rmsprop", "keras", {"alpha": 0.9}, "'alpha'"),
        ("rmsprop", "torch", {"lr": -1}, "-1"),
        ("rmsprop", "keras", {"rho": 1.0}, "rho"),
        ("rmsprop", "optax", {"learning_rate": 0.1, "decay": -0.1}, "decay"),
        ("adagrad", "optax", {}, "learning_rate"),
        ("rmsprop", "optax", {}, "learning_rate"),
        ("adagrad", "torch", {"eps": float("nan")}, "eps"),
        ("adagrad", "torch", {"maximize": 1}, "maximize"),
        ("adagrad", "torch", {"lr": "0.1"}, "lr"),
        ("adadelta", "torch", {"rho": 1.5}, "rho"),
        ("adam", "torch", {"betas": (0.9, 1.0)}, "betas"),
        ("adam", "keras", {"beta_2": 1.0}, "beta_2"),
        ("sgd", "torch", {"weight_decay": -0.5}, "-0.5"),
        ("adagrad", "keras", {"weight_decay": -1.0}, "weight_decay"),
    ],
)
def test_create_rejects(method: str, framework: str, hyperparameters: dict[str, Any], named: str) -> None:
    with pytest.raises(ValueError, match=named.replace("(", r"\(").replace(".", r"\.")):
        optimizers.create(method, _params(), framework=framework, **hyperparameters)


def test_unknown_hyperparameter_lists_the_expected_names() -> None:
    with pytest.raises(ValueError, match="Unknown hyperparameter 'alpha' for keras rmsprop; expected one of"):
        optimizers.create("rmsprop", _params(), framework="keras", alpha=0.9)


@pytest.mark.parametrize(
    ("cls", "arguments", "message"),
    [
        (optimizers.Adagrad, {"lr": -1}, "Invalid learning rate: -1"),
        (optimizers.Adagrad, {"lr_decay": -1}, "Invalid lr_decay value: -1"),
        (optimizers.RMSprop, {"alpha": 1.0}, "Invalid alpha value: 1.0"),
        (optimizers.RMSprop, {"momentum": -0.1}, "Invalid momentum value: -0.1"),
        (optimizers.Adadelta, {"rho": 1.1}, "Invalid rho value: 1.1"),
        (optimizers.Adam, {"betas": (1.0, 0.9)}, "Invalid beta parameter at index 0: 1.0"),
        (optimizers.SGD, {"nesterov": True}, "Nesterov momentum requires a momentum"),
    ],
)
def test_constructors_use_torch_messages(cls: type, arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        cls(_params(), **arguments)


def test_complex_parameters_are_rejected() -> None:
    with pytest.raises(ValueError, match="Complex"):
        optimizers.Adagrad([torch.zeros(2, dtype=torch.complex64, requires_grad=True)])


def test_catalogue_rejects_unknown_method() -> None:
    with pytest.raises(ValueError, match="'lion'"):
        optimizers.catalogue.entry("lion")


def test_introspection_rejects_foreign_parameter() -> None:
    optimizer = optimizers.create("sgd", _params())
    with pytest.raises(ValueError, match="not managed"):
        optimizer.effective_step_size(torch.zeros(3))
