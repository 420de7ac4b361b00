"""The torch flavour reproduces torch.optim exactly over randomized option combinations."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from optimizer_streams import (
    drive,
    gradient_stream,
    initial_parameters,
    option_combinations,
    relative_error,
    run_ours,
)

from optadvisor import optimizers

OPTIONS: dict[str, dict[str, list[Any]]] = {
    "adagrad": {
        "lr": [0.01, 0.1],
        "lr_decay": [0.0, 0.01],
        "weight_decay": [0.0, 0.05],
        "initial_accumulator_value": [0.0, 0.1],
        "eps": [1e-10, 1e-4],
        "maximize": [False, True],
    },
    "rmsprop": {
        "lr": [1e-3, 1e-2],
        "alpha": [0.9, 0.99],
        "eps": [1e-8, 1e-4],
        "weight_decay": [0.0, 0.05],
        "momentum": [0.0, 0.9],
        "centered": [False, True],
        "maximize": [False, True],
    },
    "adadelta": {
        "lr": [1.0, 0.5],
        "rho": [0.9, 0.95],
        "eps": [1e-6, 1e-4],
        "weight_decay": [0.0, 0.05],
        "maximize": [False, True],
    },
    "adam": {
        "lr": [1e-3, 1e-2],
        "betas": [(0.9, 0.999), (0.8, 0.99)],
        "eps": [1e-8, 1e-4],
        "weight_decay": [0.0, 0.05],
        "amsgrad": [False, True],
        "maximize": [False, True],
    },
    "sgd": {
        "lr": [1e-3, 1e-2],
        "momentum": [0.0, 0.9],
        "dampening": [0.0, 0.2],
        "weight_decay": [0.0, 0.05],
        "nesterov": [False, True],
        "maximize": [False, True],
    },
}
OPTIONS["adamw"] = {**OPTIONS["adam"], "weight_decay": [1e-2, 0.1]}

REFERENCE = {
    "adagrad": torch.optim.Adagrad,
    "rmsprop": torch.optim.RMSprop,
    "adadelta": torch.optim.Adadelta,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
}
COMBINATIONS_PER_METHOD = 6


def _cases() -> list[Any]:
    cases = []
    for method, options in OPTIONS.items():
        for index, combo in enumerate(
            option_combinations(options, COMBINATIONS_PER_METHOD, seed=len(method))
        ):
            if combo.get("nesterov") and (combo["momentum"] == 0 or combo["dampening"] != 0):
                combo["nesterov"] = False  # torch rejects it; the combination is covered by validation tests
            for dtype in (torch.float64, torch.float32):
                cases.append(pytest.param(method, combo, dtype, id=f"{method}-{index}-{dtype}"))
    return cases


def _run_reference(
    method: str, combo: dict[str, Any], params0: list[np.ndarray], grads: list[np.ndarray], dtype: torch.dtype
) -> list[np.ndarray]:
    params = [torch.tensor(p, dtype=dtype, requires_grad=True) for p in params0]
    drive(REFERENCE[method](params, **combo), params, grads)
    return [p.detach().double().numpy() for p in params]


@pytest.mark.parametrize(("method", "combo", "dtype"), _cases())
def test_matches_torch_optim(method: str, combo: dict[str, Any], dtype: torch.dtype) -> None:
    seed = sum(map(ord, repr(sorted(combo.items())) + method)) % 1000
    params0, grads = initial_parameters(seed), gradient_stream(seed)
    ours = run_ours(method, "torch", combo, params0=params0, grads=grads, dtype=dtype)
    expected = _run_reference(method, combo, params0, grads, dtype)
    tolerance = 1e-10 if dtype == torch.float64 else 1e-5
    for mine, theirs in zip(ours, expected, strict=True):
        assert relative_error(mine, theirs) <= tolerance
    assert any(not np.allclose(p, p0) for p, p0 in zip(expected, params0, strict=True))


def test_every_option_value_is_exercised() -> None:
    cases = _cases()
    for method, options in OPTIONS.items():
        combos = [case.values[1] for case in cases if case.values[0] == method]
        for name, values in options.items():
            assert {repr(c[name]) for c in combos} == {repr(v) for v in values}, (method, name)


def test_sparse_adagrad_matches_torch_on_embedding() -> None:
    torch.manual_seed(0)
    ours_embedding = torch.nn.Embedding(20, 4, sparse=True).double()
    reference_embedding = torch.nn.Embedding(20, 4, sparse=True).double()
    reference_embedding.load_state_dict(ours_embedding.state_dict())
    ours = optimizers.Adagrad(
        ours_embedding.parameters(), lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1
    )
    reference = torch.optim.Adagrad(
        reference_embedding.parameters(), lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1
    )
    generator = torch.Generator().manual_seed(1)
    for _ in range(300):
        indices = torch.randint(0, 10, (6,), generator=generator)  # duplicates; rows 10..19 never used
        for embedding, optimizer in ((ours_embedding, ours), (reference_embedding, reference)):
            optimizer.zero_grad()
            embedding(indices).pow(2).sum().backward()
            optimizer.step()
    torch.testing.assert_close(ours_embedding.weight, reference_embedding.weight, rtol=1e-12, atol=0)
    torch.testing.assert_close(
        ours.state_trace(ours_embedding.weight)["sum"],
        reference.state[reference_embedding.weight]["sum"],
        rtol=1e-12,
        atol=0,
    )
    assert torch.all(ours.state_trace(ours_embedding.weight)["sum"][10:] == 0.1)


def test_sparse_adagrad_with_weight_decay_raises() -> None:
    embedding = torch.nn.Embedding(5, 2, sparse=True)
    optimizer = optimizers.Adagrad(embedding.parameters(), weight_decay=0.1)
    embedding(torch.tensor([1, 2])).sum().backward()
    with pytest.raises(RuntimeError, match="weight_decay"):
        optimizer.step()


@pytest.mark.parametrize("method", ["rmsprop", "adadelta"])
def test_sparse_gradients_rejected(method: str) -> None:
    embedding = torch.nn.Embedding(5, 2, sparse=True)
    optimizer = optimizers.create(method, embedding.parameters())
    embedding(torch.tensor([1, 2])).sum().backward()
    with pytest.raises(RuntimeError, match="sparse"):
        optimizer.step()
