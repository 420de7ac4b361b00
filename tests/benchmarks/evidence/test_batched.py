"""Each batched method reproduces torch.optim on every slice, each slice with its own hyperparameters."""

import pytest
import torch

from benchmarks.evidence.batched import BATCHED
from benchmarks.reference import TORCH_CLASSES
from optadvisor.rules.frameworks import framework_kwargs
from optadvisor.rules.grid import LR_STEPS, ConfigPoint


@pytest.mark.parametrize("method", sorted(BATCHED))
def test_every_slice_follows_torch_optim(method: str) -> None:
    points = [
        ConfigPoint(method, step, variant) for step in (min(LR_STEPS[method]), 0, 2) for variant in (0, 1)
    ]
    configs = [framework_kwargs(method, "torch", point.settings()) for point in points]
    generator = torch.Generator().manual_seed(3)
    start = torch.randn(len(configs), 5, 4, generator=generator)
    stacked = start.clone()
    batched = BATCHED[method]([stacked], configs)
    references = [start[index].clone().requires_grad_(True) for index in range(len(configs))]
    optimizers = [
        TORCH_CLASSES[method]([reference], **config)
        for reference, config in zip(references, configs, strict=True)
    ]
    for _ in range(25):
        # Sparse, heavy-tailed gradients that differ per slice.
        grads = torch.randn(len(configs), 5, 4, generator=generator) ** 3
        grads *= torch.rand(len(configs), 5, 4, generator=generator) < 0.6
        batched.step([grads])
        for index, (reference, optimizer) in enumerate(zip(references, optimizers, strict=True)):
            reference.grad = grads[index].clone()
            optimizer.step()
    for index, reference in enumerate(references):
        assert torch.allclose(stacked[index], reference.detach(), rtol=1e-5, atol=1e-6), points[index].key
    assert not torch.equal(stacked, start)
