"""Steps run over cache-sized chunks: splitting and packing tensors changes no result, and a step in
steady state pages in no memory (its temporaries live in reused scratch)."""

from __future__ import annotations

import resource
from collections.abc import Iterator
from typing import Any

import pytest
import torch

from benchmarks.reference import TORCH_CLASSES
from optadvisor import optimizers
from optadvisor.optimizers import chunks

# torch-named settings that reach every column and scratch list: state, gradient scratch (maximize,
# coupled decay), amsgrad's maximum, centered averages, momentum buffers.
CASES: list[tuple[str, dict[str, Any]]] = [
    ("adagrad", {"lr": 0.1, "lr_decay": 0.01, "initial_accumulator_value": 0.1}),
    ("adagrad", {"weight_decay": 0.05, "maximize": True}),
    ("rmsprop", {"centered": True, "momentum": 0.9, "weight_decay": 0.05}),
    ("rmsprop", {"maximize": True}),
    ("adadelta", {"weight_decay": 0.05, "maximize": True}),
    ("adam", {}),
    ("adam", {"amsgrad": True, "weight_decay": 0.05, "maximize": True}),
    ("adamw", {"amsgrad": True}),
    ("sgd", {"momentum": 0.9, "nesterov": True, "weight_decay": 0.05}),
    ("sgd", {"momentum": 0.9, "dampening": 0.2, "maximize": True}),
]
STEPS = 6


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """One torch thread unless a test sets more: on a busy two-core machine each op split over two
    threads can wait for a descheduled one (seconds per test)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _parameters(dtype: torch.dtype) -> list[torch.Tensor]:
    """A tensor split into several slices, 40 small ones packed together, a large non-contiguous one."""
    generator = torch.Generator().manual_seed(0)
    split = torch.randn(1_000_000, generator=generator, dtype=dtype)
    small = [torch.randn(int(n), generator=generator, dtype=dtype) for n in torch.logspace(1, 4, 40)]
    transposed = torch.randn(800, 400, generator=generator, dtype=dtype).t()
    return [p.requires_grad_() for p in [split, *small, transposed]]


def _run(optimizer: torch.optim.Optimizer, params: list[torch.Tensor]) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    for _ in range(STEPS):
        for param in params:
            param.grad = torch.randn(param.shape, generator=generator, dtype=param.dtype)
        optimizer.step()
    return [p.detach() for p in params]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(("method", "settings"), CASES)
def test_chunking_changes_no_result(
    method: str, settings: dict[str, Any], dtype: torch.dtype, monkeypatch: pytest.MonkeyPatch
) -> None:
    params = _parameters(dtype)
    split, *_, transposed = params
    # Larger than two chunks for any optimizer, the transposed one than one (two columns at least).
    assert split.numel() * split.element_size() > 2 * chunks.WORKING_SET_BYTES
    assert transposed.numel() * transposed.element_size() > chunks.WORKING_SET_BYTES // 2
    assert not transposed.is_contiguous()  # kept whole
    chunked = _run(optimizers.create(method, params, **settings), params)

    params = _parameters(dtype)
    monkeypatch.setattr(chunks, "WORKING_SET_BYTES", 1 << 40)  # one chunk of whole tensors
    whole = _run(optimizers.create(method, params, **settings), params)
    for mine, unchunked in zip(chunked, whole, strict=True):
        assert torch.equal(mine, unchunked)

    params = _parameters(dtype)
    expected = _run(TORCH_CLASSES[method](params, **settings), params)
    tolerance = 1e-10 if dtype == torch.float64 else 1e-5
    for mine, theirs in zip(chunked, expected, strict=True):
        assert (mine - theirs).abs().max() <= tolerance * theirs.abs().max()


@pytest.mark.parametrize(("method", "settings"), CASES)
def test_steady_state_steps_page_in_no_memory(method: str, settings: dict[str, Any]) -> None:
    # 40 MB per tensor: a temporary of that size is mapped afresh (about 9,800 page faults) each step.
    param = torch.zeros(10_000_000, requires_grad=True)
    param.grad = torch.full_like(param, 0.5)
    optimizer = optimizers.create(method, [param], **settings)
    for _ in range(2):
        optimizer.step()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(3):
        optimizer.step()
    faults_per_step = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 3
    assert faults_per_step < 100


@pytest.mark.parametrize(("method", "settings"), [case for case in CASES if case[0] in ("adam", "sgd")])
def test_chunking_with_two_threads_changes_no_result(
    method: str, settings: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    torch.set_num_threads(2)  # each slice's ops then split between the threads
    params = _parameters(torch.float32)
    sliced = _run(optimizers.create(method, params, **settings), params)
    monkeypatch.setattr(chunks, "WORKING_SET_BYTES", 1 << 40)
    params = _parameters(torch.float32)
    whole = _run(optimizers.create(method, params, **settings), params)
    for mine, unchunked in zip(sliced, whole, strict=True):
        assert torch.equal(mine, unchunked)
