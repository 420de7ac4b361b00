"""The Keras flavour reproduces Keras 3 (torch backend) in float32."""

from __future__ import annotations

import inspect
import os
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import torch
from optimizer_streams import (
    gradient_stream,
    initial_parameters,
    option_combinations,
    relative_error,
    run_ours,
)

from optadvisor import optimizers

OPTIONS: dict[str, dict[str, list[Any]]] = {
    "adagrad": {
        "learning_rate": [0.01, 0.1],
        "initial_accumulator_value": [0.1, 0.0],
        "epsilon": [1e-7, 1e-3],
        "weight_decay": [None, 0.05],
    },
    "rmsprop": {
        "learning_rate": [1e-3, 1e-2],
        "rho": [0.9, 0.99],
        "epsilon": [1e-7, 1e-3],
        "momentum": [0.0, 0.9],
        "centered": [False, True],
        "weight_decay": [None, 0.05],
    },
    "adadelta": {
        "learning_rate": [1.0, 0.001],
        "rho": [0.95, 0.9],
        "epsilon": [1e-7, 1e-4],
        "weight_decay": [None, 0.05],
    },
    "adam": {
        "learning_rate": [1e-3, 1e-2],
        "beta_1": [0.9, 0.8],
        "beta_2": [0.999, 0.99],
        "epsilon": [1e-7, 1e-4],
        "amsgrad": [False, True],
        "weight_decay": [None, 0.05],
    },
    "adamw": {
        "learning_rate": [1e-3, 1e-2],
        "beta_1": [0.9, 0.8],
        "epsilon": [1e-7, 1e-4],
        "amsgrad": [False, True],
        "weight_decay": [0.004, 0.05],
    },
    "sgd": {
        "learning_rate": [1e-3, 1e-2],
        "momentum": [0.0, 0.9],
        "nesterov": [False, True],
        "weight_decay": [None, 0.05],
    },
}
CLASS_NAMES = {"adagrad": "Adagrad", "rmsprop": "RMSprop", "adadelta": "Adadelta", "adam": "Adam"}
CLASS_NAMES |= {"adamw": "AdamW", "sgd": "SGD"}


@pytest.fixture(scope="module")
def keras() -> ModuleType:
    os.environ["KERAS_BACKEND"] = "torch"
    import keras as keras_module

    assert keras_module.backend.backend() == "torch"
    return keras_module


def _run_keras(
    keras: ModuleType, method: str, combo: dict[str, Any], params0: list[np.ndarray], grads: list[np.ndarray]
) -> list[np.ndarray]:
    variables = [keras.Variable(p.astype(np.float32)) for p in params0]
    optimizer = getattr(keras.optimizers, CLASS_NAMES[method])(**combo)
    for step in range(grads[0].shape[0]):
        optimizer.apply_gradients(
            [(torch.tensor(g[step], dtype=torch.float32), v) for g, v in zip(grads, variables, strict=True)]
        )
    return [keras.ops.convert_to_numpy(v).astype(np.float64) for v in variables]


@pytest.mark.parametrize(
    ("method", "combo"),
    [
        pytest.param(method, combo, id=f"{method}-{index}")
        for method, options in OPTIONS.items()
        for index, combo in enumerate(option_combinations(options, 4, seed=len(method)))
    ],
)
def test_matches_keras(keras: ModuleType, method: str, combo: dict[str, Any]) -> None:
    seed = sum(map(ord, repr(sorted(combo.items())) + method)) % 1000
    params0, grads = initial_parameters(seed), gradient_stream(seed)
    expected = _run_keras(keras, method, combo, params0, grads)
    ours = run_ours(method, "keras", combo, params0=params0, grads=grads, dtype=torch.float32)
    for mine, theirs in zip(ours, expected, strict=True):
        assert relative_error(mine, theirs) <= 1e-4


@pytest.mark.parametrize("method", optimizers.METHODS)
def test_catalogue_defaults_are_keras_defaults(keras: ModuleType, method: str) -> None:
    signature = inspect.signature(getattr(keras.optimizers, CLASS_NAMES[method]))
    for name, default in optimizers.defaults(method, "keras").items():
        assert signature.parameters[name].default == default, name
