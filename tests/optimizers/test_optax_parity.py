"""The Optax flavour reproduces optax (jax on CPU) in float32."""

from __future__ import annotations

import inspect
import warnings
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
        "eps": [1e-7, 0.0],
    },
    "rmsprop": {
        "learning_rate": [1e-3, 1e-2],
        "decay": [0.9, 0.99],
        "eps": [1e-8, 1e-3],
        "initial_scale": [0.0, 1.0],
        "eps_in_sqrt": [True, False],
        "centered": [False, True],
        "momentum": [None, 0.9],
        "nesterov": [False, True],
        "bias_correction": [False, True],
    },
    "adadelta": {
        "learning_rate": [1.0, 0.5, None],
        "rho": [0.9, 0.95],
        "eps": [1e-6, 1e-4],
        "weight_decay": [0.0, 0.05],
    },
    "adam": {"learning_rate": [1e-3, 1e-2], "b1": [0.9, 0.8], "b2": [0.999, 0.99], "eps": [1e-8, 1e-4]},
    "adamw": {"learning_rate": [1e-3, 1e-2], "b1": [0.9, 0.8], "weight_decay": [1e-4, 0.05]},
    "sgd": {"learning_rate": [1e-3, 1e-2], "momentum": [None, 0.9], "nesterov": [False, True]},
}


@pytest.fixture(scope="module")
def optax() -> ModuleType:
    import optax as optax_module

    return optax_module


def _run_optax(
    optax: ModuleType, method: str, combo: dict[str, Any], params0: list[np.ndarray], grads: list[np.ndarray]
) -> list[np.ndarray]:
    import jax
    import jax.numpy as jnp

    transformation = getattr(optax, method)(**combo)

    @jax.jit
    def run(params: list[jax.Array], stream: list[jax.Array]) -> list[jax.Array]:
        def body(carry: Any, gradient: list[jax.Array]) -> Any:
            params, state = carry
            updates, state = transformation.update(gradient, state, params)
            return (optax.apply_updates(params, updates), state), None

        (params, _), _ = jax.lax.scan(body, (params, transformation.init(params)), stream)
        return params  # type: ignore[no-any-return]

    result = run([jnp.asarray(p, jnp.float32) for p in params0], [jnp.asarray(g, jnp.float32) for g in grads])
    return [np.asarray(p, dtype=np.float64) for p in result]


@pytest.mark.parametrize(
    ("method", "combo"),
    [
        pytest.param(method, combo, id=f"{method}-{index}")
        for method, options in OPTIONS.items()
        for index, combo in enumerate(option_combinations(options, 4, seed=len(method)))
    ],
)
def test_matches_optax(optax: ModuleType, method: str, combo: dict[str, Any]) -> None:
    seed = sum(map(ord, repr(sorted(combo.items())) + method)) % 1000
    params0, grads = initial_parameters(seed), gradient_stream(seed)
    expected = _run_optax(optax, method, combo, params0, grads)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ours = run_ours(method, "optax", combo, params0=params0, grads=grads, dtype=torch.float32)
    ascent_warned = any("ascent" in str(w.message) for w in caught)
    assert ascent_warned == (method == "adadelta" and combo["learning_rate"] is None)
    for mine, theirs in zip(ours, expected, strict=True):
        assert relative_error(mine, theirs) <= 1e-4


@pytest.mark.parametrize("method", optimizers.METHODS)
def test_catalogue_defaults_are_optax_defaults(optax: ModuleType, method: str) -> None:
    signature = inspect.signature(getattr(optax, method))
    for name, default in optimizers.defaults(method, "optax").items():
        declared = signature.parameters[name].default
        assert (None if declared is inspect.Parameter.empty else declared) == default, name
