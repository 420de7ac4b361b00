"""Per-group configs, run: each framework's snippet trains a two-group model (plus a parameter no group
names) and, on every group, follows `optimizers.create` with that group's method and kwargs within 1e-4
over 200 steps."""

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import torch

from optadvisor import optimizers
from optadvisor.profiler import profile
from optadvisor.profiler.sample import make_sample
from optadvisor.profiler.synthetic import drifting_scale, zipf_bag_of_words
from optadvisor.rules import RecommendationRequest, RuleSet, recommend
from optadvisor.rules.group_code import CodeGroup, torch_code
from optadvisor.rules.recommendation import Recommendation

os.environ.setdefault("KERAS_BACKEND", "torch")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

STEPS, TOLERANCE = 200, 1e-4
VOCABULARY, WIDTH = 64, 8
Array = npt.NDArray[np.float64]


def mixed_answer(ruleset: RuleSet, table: str, dense: str, framework: str = "torch") -> Recommendation:
    """The answer for a sparse bag-of-words table beside a dense layer whose gradients drift."""
    table_grads = zipf_bag_of_words(48, VOCABULARY * WIDTH, words_per_step=20)
    dense_grads = drifting_scale(48, WIDTH, decades=2.0) * 1e-2
    report = profile(
        {table: make_sample(table, table_grads), dense: make_sample(dense, dense_grads)},
        training_steps=10_000,
    )
    request = RecommendationRequest.model_validate(
        {"profile": {"training_steps": 10_000, "tuning_budget": 4}, "framework": framework}
    )
    answer = recommend(request, ruleset, report)
    assert answer.advice_scope == "per_group", answer.advice_scope_reason
    assert answer.groups is not None
    assert len({group.method for group in answer.groups}) == 2
    return answer


def _streams(names: Sequence[str], shapes: Mapping[str, tuple[int, ...]]) -> dict[str, Array]:
    rng = np.random.default_rng(11)
    streams = {}
    for name in names:
        values = rng.standard_normal((STEPS, *shapes[name])) * 1e-2
        if "table" in name or "embedding" in name:
            values[rng.random(values.shape) < 0.9] = 0.0  # rarely active rows
        streams[name] = values
    return streams


def _torch_args(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    return {name: tuple(value) if isinstance(value, list) else value for name, value in kwargs.items()}


def _reference(
    answer: Recommendation,
    framework: str,
    initial: Mapping[str, Array],
    gradients: Mapping[str, Array],
) -> dict[str, Array]:
    """Each group stepped by `optimizers.create` with its method and kwargs; the rest by the whole-model
    method."""
    assert answer.groups is not None
    tensors = {name: torch.tensor(value, dtype=torch.float64) for name, value in initial.items()}
    created = []
    named: set[str] = set()
    for group in answer.groups:
        kwargs = getattr(group.configs, framework).kwargs
        params = [tensors[name] for name in group.parameters]
        named.update(group.parameters)
        created.append(optimizers.create(group.method, params, framework=framework, **_torch_args(kwargs)))
    rest = [tensor for name, tensor in tensors.items() if name not in named]
    if rest:
        kwargs = getattr(answer.configs, framework).kwargs
        created.append(optimizers.create(answer.method, rest, framework=framework, **_torch_args(kwargs)))
    trajectory: dict[str, list[Array]] = {name: [] for name in tensors}
    for step in range(STEPS):
        for name, tensor in tensors.items():
            tensor.grad = torch.tensor(gradients[name][step], dtype=torch.float64)
        for optimizer in created:
            optimizer.step()
        for name, tensor in tensors.items():
            trajectory[name].append(tensor.detach().numpy().copy())
    return {name: np.array(values) for name, values in trajectory.items()}


def _assert_follows(
    ours: Mapping[str, Array], reference: Mapping[str, Array], initial: Mapping[str, Array]
) -> None:
    for name, values in reference.items():
        assert np.abs(values[-1] - initial[name]).max() > 100 * TOLERANCE, name  # it did train
        gap = float(np.abs(ours[name] - values).max())
        assert gap <= TOLERANCE, (name, gap)


class TwoGroupModel(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embedding = torch.nn.EmbeddingBag(VOCABULARY, WIDTH, mode="sum")
        self.fc = torch.nn.Linear(WIDTH, 1)

    def forward(self, words: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.fc(self.embedding(words, offsets))
        return out


def _train_torch(model: TwoGroupModel, optimizer: Any) -> dict[str, Array]:
    rng = np.random.default_rng(5)
    trajectory: dict[str, list[Array]] = {name: [] for name, _ in model.named_parameters()}
    for _ in range(STEPS):
        words = torch.tensor(rng.integers(0, 8, 24) ** 2 % VOCABULARY)  # a few frequent, most rare
        offsets = torch.arange(0, 24, 3)
        target = torch.tensor(rng.standard_normal((8, 1)))
        loss = torch.mean((model(words, offsets) - target) ** 2)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        for name, parameter in model.named_parameters():
            trajectory[name].append(parameter.detach().numpy().copy())
    return {name: np.array(values) for name, values in trajectory.items()}


def _torch_reference_optimizer(answer: Recommendation, model: TwoGroupModel) -> Any:
    assert answer.groups is not None
    named = dict(model.named_parameters())
    created = []
    for group in answer.groups:
        kwargs = _torch_args(group.configs.torch.kwargs)
        created.append(optimizers.create(group.method, [named[n] for n in group.parameters], **kwargs))
    listed = {name for group in answer.groups for name in group.parameters}
    rest = [p for name, p in named.items() if name not in listed]
    created.append(optimizers.create(answer.method, rest, **_torch_args(answer.configs.torch.kwargs)))

    class Both:
        def zero_grad(self) -> None:
            for optimizer in created:
                optimizer.zero_grad()

        def step(self) -> None:
            for optimizer in created:
                optimizer.step()

    return Both()


def test_torch_snippet_trains_each_group_as_optimizers_create_does(ruleset: RuleSet) -> None:
    answer = mixed_answer(ruleset, "embedding.weight", "fc.weight")
    code = answer.configs.torch.code
    assert code != answer.configs.torch.single_method_code
    assert answer.configs.torch.single_method_code is not None
    assert answer.configs.torch.single_method_code.startswith(
        f"{answer.configs.torch.class_}(model.parameters(), "
    )
    torch.manual_seed(0)
    model = TwoGroupModel().double()
    twin = TwoGroupModel().double()
    twin.load_state_dict(model.state_dict())
    initial = {name: p.detach().numpy().copy() for name, p in model.named_parameters()}
    scope: dict[str, Any] = {"model": model}
    exec(code, scope)
    ours = _train_torch(model, scope["optimizer"])
    reference = _train_torch(twin, _torch_reference_optimizer(answer, twin))
    _assert_follows(ours, reference, initial)  # fc.bias, named by no group, takes the whole-model method
    saved = scope["optimizer"].state_dict()
    scope["optimizer"].load_state_dict(saved)


def test_torch_snippet_with_one_method_is_one_optimizer_with_parameter_groups() -> None:
    groups = [
        CodeGroup(["embedding.weight"], "adam", {"lr": 0.01, "betas": [0.9, 0.999]}),
        CodeGroup(["fc.weight"], "adam", {"lr": 0.001, "betas": [0.5, 0.999]}),
    ]
    code = torch_code(groups, CodeGroup((), "adam", {"lr": 0.003}))
    model = TwoGroupModel()
    scope: dict[str, Any] = {"model": model}
    exec(code, scope)
    optimizer = scope["optimizer"]
    assert isinstance(optimizer, torch.optim.Adam)
    settings = [(group["lr"], group["betas"]) for group in optimizer.param_groups]
    assert settings == [(0.01, (0.9, 0.999)), (0.001, (0.5, 0.999)), (0.003, (0.9, 0.999))]
    assert optimizer.param_groups[2]["params"][0] is model.fc.bias


def test_keras_snippet_is_a_multi_optimizer_following_create_per_group(ruleset: RuleSet) -> None:
    import keras

    answer = mixed_answer(ruleset, "table", "dense", framework="keras")
    code = answer.configs.keras.code
    assert "keras.optimizers.MultiOptimizer" in code
    shapes = {"table": (VOCABULARY, WIDTH), "dense": (WIDTH,), "bias": (1,)}
    rng = np.random.default_rng(2)
    initial = {name: rng.standard_normal(shape) for name, shape in shapes.items()}
    gradients = _streams(list(shapes), shapes)
    variables = [keras.Variable(initial[name].astype(np.float32), name=name) for name in shapes]
    assert [variable.path for variable in variables] == list(shapes)
    scope: dict[str, Any] = {}
    exec(code, scope)
    optimizer = scope["optimizer"]
    assert isinstance(optimizer, keras.optimizers.Optimizer)
    trajectory: dict[str, list[Array]] = {name: [] for name in shapes}
    for step in range(STEPS):
        grads = [keras.ops.convert_to_tensor(gradients[v.path][step].astype(np.float32)) for v in variables]
        optimizer.apply_gradients(zip(grads, variables, strict=True))
        for variable in variables:
            trajectory[variable.path].append(keras.ops.convert_to_numpy(variable).astype(np.float64))
    ours = {name: np.array(values) for name, values in trajectory.items()}
    _assert_follows(ours, _reference(answer, "keras", initial, gradients), initial)


def test_optax_snippet_partitions_a_params_dict_following_create_per_group(ruleset: RuleSet) -> None:
    import jax.numpy as jnp
    import optax

    answer = mixed_answer(ruleset, "embedding.weight", "fc.weight", framework="optax")
    code = answer.configs.optax.code
    shapes = {"embedding.weight": (VOCABULARY, WIDTH), "fc.weight": (WIDTH,), "fc.bias": (1,)}
    rng = np.random.default_rng(3)
    initial = {name: rng.standard_normal(shape) for name, shape in shapes.items()}
    gradients = _streams(list(shapes), shapes)
    params = {name: jnp.asarray(value, dtype=jnp.float32) for name, value in initial.items()}
    scope: dict[str, Any] = {"params": params}
    exec(code, scope)
    optimizer = scope["optimizer"]
    assert isinstance(optimizer, optax.GradientTransformation)
    state = optimizer.init(params)
    trajectory: dict[str, list[Array]] = {name: [] for name in shapes}
    for step in range(STEPS):
        grads = {name: jnp.asarray(gradients[name][step], dtype=jnp.float32) for name in shapes}
        updates, state = optimizer.update(grads, state, params)
        params = optax.apply_updates(params, updates)
        for name in shapes:
            trajectory[name].append(np.asarray(params[name], dtype=np.float64))
    ours = {name: np.array(values) for name, values in trajectory.items()}
    _assert_follows(ours, _reference(answer, "optax", initial, gradients), initial)
    # Nested params whose keys join to the same names are labelled alike.
    nested = {"embedding": {"weight": params["embedding.weight"]}, "fc": {"weight": params["fc.weight"]}}
    labels = scope["label_params"](nested)
    assert labels == {"embedding": {"weight": "group_0"}, "fc": {"weight": "group_1"}}
