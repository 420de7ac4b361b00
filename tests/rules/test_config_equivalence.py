"""The torch, Keras and Optax configs of one recommendation follow the same trajectory, or say they don't.

Each recommendation is made for a measured profile of the very gradients replayed here, so its claims
(equivalent or not, and by how much) refer to these gradients. Both the optimizers package's flavours
and the frameworks themselves run the configs: 200 steps on one shared gradient stream.
"""

import os
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import torch

from optadvisor import optimizers
from optadvisor.profiler.report import ProfileReport
from optadvisor.rules import METHODS, RecommendationRequest, RuleSet, recommend
from optadvisor.rules.recommendation import Recommendation

os.environ.setdefault("KERAS_BACKEND", "torch")

# Keras' torch backend converts variables with a numpy-2 deprecated __array__ signature.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

STEPS, COORDINATES, TOLERANCE = 200, 48, 1e-4
Array = npt.NDArray[np.float64]
Runner = Callable[[str, str, Mapping[str, Any], Array, Array], Array]


def _stream(scale: float, seed: int = 7) -> Array:
    rng = np.random.default_rng(seed)
    gradients = scale * (0.3 + rng.standard_normal((STEPS, COORDINATES)))
    gradients[rng.random((STEPS, COORDINATES)) < 0.2] = 0.0
    return gradients


def _initial(seed: int = 3) -> Array:
    return np.random.default_rng(seed).standard_normal(COORDINATES)


def _torch_kwargs(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    return {name: tuple(value) if isinstance(value, list) else value for name, value in kwargs.items()}


def _run_optimizers_package(
    method: str, framework: str, kwargs: Mapping[str, Any], start: Array, grads: Array
) -> Array:
    parameter = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    optimizer = optimizers.create(method, [parameter], framework=framework, **_torch_kwargs(kwargs))
    trajectory = []
    for gradient in grads:
        parameter.grad = torch.tensor(gradient, dtype=torch.float64)
        optimizer.step()
        trajectory.append(parameter.detach().numpy().copy())
    return np.array(trajectory)


def _run_torch(class_path: str, kwargs: Mapping[str, Any], start: Array, grads: Array) -> Array:
    parameter = torch.tensor(start, dtype=torch.float32, requires_grad=True)
    optimizer = getattr(torch.optim, class_path.rsplit(".", 1)[1])([parameter], **_torch_kwargs(kwargs))
    trajectory = []
    for gradient in grads:
        parameter.grad = torch.tensor(gradient, dtype=torch.float32)
        optimizer.step()
        trajectory.append(parameter.detach().numpy().astype(np.float64))
    return np.array(trajectory)


def _run_keras(class_path: str, kwargs: Mapping[str, Any], start: Array, grads: Array) -> Array:
    import keras

    variable = keras.Variable(start.astype(np.float32))
    optimizer = getattr(keras.optimizers, class_path.rsplit(".", 1)[1])(**kwargs)
    trajectory = []
    for gradient in grads:
        optimizer.apply_gradients([(keras.ops.convert_to_tensor(gradient.astype(np.float32)), variable)])
        trajectory.append(keras.ops.convert_to_numpy(variable).astype(np.float64))
    return np.array(trajectory)


def _run_optax(function_path: str, kwargs: Mapping[str, Any], start: Array, grads: Array) -> Array:
    import jax
    import jax.numpy as jnp
    import optax

    transformation = getattr(optax, function_path.rsplit(".", 1)[1])(**kwargs)
    parameters = jnp.asarray(start, dtype=jnp.float32)
    state = transformation.init(parameters)
    update = jax.jit(transformation.update)
    trajectory = []
    for gradient in grads:
        updates, state = update(jnp.asarray(gradient, dtype=jnp.float32), state, parameters)
        parameters = optax.apply_updates(parameters, updates)
        trajectory.append(np.asarray(parameters, dtype=np.float64))
    return np.array(trajectory)


def _run_frameworks(answer: Recommendation, framework: str, start: Array, grads: Array) -> Array:
    config = getattr(answer.configs, framework)
    if framework == "torch":
        return _run_torch(config.class_, config.kwargs, start, grads)
    if framework == "keras":
        return _run_keras(config.class_, config.kwargs, start, grads)
    return _run_optax(config.function, config.kwargs, start, grads)


def _recommendation(
    method: str, grads: Array, start: Array, ruleset: RuleSet, make_report: Any
) -> Recommendation:
    report: ProfileReport = make_report(
        steps=STEPS,
        coordinates=COORDINATES,
        sparsity=float(np.mean(grads == 0.0)),
        gradient_rms=float(np.sqrt(np.mean(grads**2))),
        parameter_rms=float(np.sqrt(np.mean(start**2))),
    )
    return recommend(RecommendationRequest(candidates=[method]), ruleset, report)  # type: ignore[list-item]


SCALES = {"typical gradients": 1e-2, "gradients far below eps": 1e-9}


@pytest.mark.parametrize("scale_name", list(SCALES))
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("runner", ["optimizers package", "frameworks"])
def test_configs_match_torch_or_say_they_do_not(
    runner: str, method: str, scale_name: str, ruleset: RuleSet, make_report: Any
) -> None:
    grads, start = _stream(SCALES[scale_name]), _initial()
    answer = _recommendation(method, grads, start, ruleset, make_report)
    assert answer.method == method

    def trajectory(framework: str) -> Array:
        if runner == "frameworks":
            return _run_frameworks(answer, framework, start, grads)
        config = getattr(answer.configs, framework)
        return _run_optimizers_package(method, framework, config.kwargs, start, grads)

    reference = trajectory("torch")
    if scale_name == "typical gradients":
        assert np.abs(reference[-1] - start).max() > 100 * TOLERANCE  # the parameters did move
    for framework in ("keras", "optax"):
        config = getattr(answer.configs, framework)
        gap = float(np.abs(trajectory(framework) - reference).max())
        if config.equivalent:
            assert gap <= TOLERANCE, (framework, gap, config.notes)
        else:
            assert config.notes, framework
            assert gap > TOLERANCE, (framework, gap, config.notes)


@pytest.mark.parametrize(
    ("method", "framework", "equivalent_at_typical_scale"),
    [
        ("rmsprop", "keras", True),
        ("rmsprop", "optax", True),
        ("adagrad", "keras", True),
        ("adagrad", "optax", True),
        ("adam", "keras", True),
        ("adadelta", "keras", True),
    ],
)
def test_tiny_gradients_break_eps_placement_equivalence_and_notes_quantify_it(
    method: str, framework: str, equivalent_at_typical_scale: bool, ruleset: RuleSet, make_report: Any
) -> None:
    start = _initial()
    typical = getattr(_recommendation(method, _stream(1e-2), start, ruleset, make_report).configs, framework)
    tiny = getattr(_recommendation(method, _stream(1e-9), start, ruleset, make_report).configs, framework)
    assert typical.equivalent is equivalent_at_typical_scale
    # ε inside vs outside the root cannot be compensated: Keras RMSprop/Adagrad/Adam and Optax Adagrad;
    # Optax RMSprop (eps_in_sqrt=False) and Adadelta (ε inside in every framework) stay exact.
    compensable = (method, framework) in {("rmsprop", "optax"), ("adadelta", "keras")}
    assert tiny.equivalent is compensable
    if not compensable:
        assert any("NOT negligible" in note for note in tiny.notes)
