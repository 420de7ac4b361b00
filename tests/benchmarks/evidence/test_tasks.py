"""Every corpus task meets the task contract (benchmarks/evidence/task.py), checked on a few steps."""

import math
from collections import Counter

import pytest
import torch
from torch.func import functional_call, grad_and_value, stack_module_state, vmap

from benchmarks.evidence.families import all_tasks, families
from benchmarks.evidence.generate import UNTRAINED, run_config
from benchmarks.evidence.task import Task
from benchmarks.evidence.trainer import capture, train_configs
from optadvisor.rules.grid import default_point
from optadvisor.rules.request import RecommendationRequest

TASKS = all_tasks()
IDS = [task.spec.name for task in TASKS]


def test_task_names_are_unique_and_prefixed_by_their_family() -> None:
    assert len(set(IDS)) == len(IDS), [name for name, n in Counter(IDS).items() if n > 1]
    for family, tasks in families().items():
        for task in tasks:
            assert task.spec.family == family
            assert task.spec.name.startswith(f"{family}/")


@pytest.mark.parametrize("task", TASKS, ids=IDS)
def test_the_declared_profile_is_a_valid_request_and_the_run_length_is_in_range(task: Task) -> None:
    spec = task.spec
    RecommendationRequest.model_validate({"profile": dict(spec.profile)})
    assert spec.profile["training_steps"] == spec.steps
    assert 200 <= spec.steps <= 2000
    assert spec.gap_basis in {"best", "initial"}


@pytest.mark.parametrize("task", TASKS, ids=IDS)
def test_a_vmapped_slice_computes_what_the_module_computes(task: Task) -> None:
    """The grid's functional path and the capture's module path see the same loss and gradients."""
    model = task.build(0)
    batch = task.batch(task.data(0), 0)
    loss, score = task.loss(model, batch)
    loss.backward()
    assert math.isfinite(float(loss)) and math.isfinite(float(score))
    params, _ = stack_module_state([model, task.build(0)])
    stacked = {name: torch.stack([value] * 2) for name, value in batch.items()}

    def slice_loss(slice_params: dict[str, torch.Tensor], slice_batch: dict[str, torch.Tensor]) -> object:
        return task.loss(lambda *inputs: functional_call(model, slice_params, inputs), slice_batch)

    grads, (losses, _) = vmap(grad_and_value(slice_loss, has_aux=True))(params, stacked)
    assert torch.allclose(losses, loss.detach().expand(2), rtol=1e-4, atol=1e-6)
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None
        assert torch.allclose(grads[name][1], parameter.grad, rtol=1e-3, atol=1e-6), name


@pytest.mark.parametrize("task", TASKS, ids=IDS)
def test_default_configs_train_a_few_steps_and_score_finite(task: Task) -> None:
    configs = [run_config(default_point(method)) for method in ("adam", "rmsprop")]
    results = train_configs(task, configs, (0, 1), steps=3)
    assert len(results) == 4
    for result in results.values():
        assert result.metric is not None and math.isfinite(result.metric)


@pytest.mark.parametrize("task", TASKS, ids=IDS)
def test_the_untrained_model_scores_on_held_out_data_as_on_training_data(task: Task) -> None:
    """A held-out set prepared unlike the training set (say, standardised by a spread of ~0) shows up as an
    untrained model scoring far worse on it than on the training batches."""
    results = train_configs(task, [UNTRAINED], (0, 1), steps=1)
    for seed in (0, 1):
        result = results[(UNTRAINED.key, seed)]
        first_score = result.curve[0]
        assert result.metric is not None and first_score is not None
        if task.holdout(task.data(seed)) is not None:
            assert result.metric <= 3.0 * abs(first_score) + 1.0, (seed, result.metric, first_score)


@pytest.mark.parametrize("task", TASKS, ids=IDS)
def test_a_capture_names_each_parameter_tensor(task: Task) -> None:
    samples = capture(task, 0, steps=3, max_total_values=3 * 64)
    assert set(samples) == {name for name, p in task.build(0).named_parameters() if p.requires_grad}
    for sample in samples.values():
        assert len(sample["values"]) == 3
