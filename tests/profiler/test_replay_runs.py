import json

import numpy as np
import pytest
import torch

from optadvisor import optimizers
from optadvisor.optimizers.factory import framework_hyperparameters
from optadvisor.profiler import GradientSample, InvalidReplay, ReplayRun, replay, synthetic


@pytest.fixture(scope="module")
def samples() -> dict[str, GradientSample]:
    return {
        "a": GradientSample(synthetic.regime_switches(40, 30, period=8, seed=1)),
        "b": GradientSample(synthetic.stationary_gaussian(25, 12, seed=2)),
    }


def direct_state(values: np.ndarray, run: ReplayRun, coordinate: int) -> dict[str, list[float]]:
    """State of one coordinate after every step, from a plain replay with the optimizer itself."""
    parameter = torch.zeros(values.shape[1])
    optimizer = optimizers.create(run.method, [parameter], framework=run.framework, **run.hyperparameters)
    history: dict[str, list[float]] = {}
    for row in values:
        parameter.grad = torch.from_numpy(row.copy())
        optimizer.step()
        for name, tensor in optimizer.state_trace(parameter).items():
            history.setdefault(name, []).append(float(tensor.reshape(-1)[coordinate]))
    return history


@pytest.mark.parametrize(
    "run",
    [
        ReplayRun(method="adagrad"),
        ReplayRun(method="rmsprop", framework="keras", hyperparameters={"centered": True}),
        ReplayRun(method="adadelta", hyperparameters={"rho": 0.95}),
    ],
)
def test_traces_match_the_optimizer_state(samples: dict[str, GradientSample], run: ReplayRun) -> None:
    report = replay(samples, [run], trace_coordinates={"a": [29, 3, 3]})
    trace = report.runs[0].groups["a"].trace
    assert trace is not None and report.runs[0].groups["b"].trace is None
    assert trace.coordinates == [3, 29]
    assert trace.steps == list(range(1, 41))
    expected = direct_state(samples["a"].values, run, 29)
    assert set(trace.state) == set(expected)
    for name, series in expected.items():
        assert [row[1] for row in trace.state[name]] == pytest.approx(series, rel=1e-6, abs=1e-12)


def test_runs_are_reported_in_order_with_groups_of_different_lengths(
    samples: dict[str, GradientSample],
) -> None:
    runs = [ReplayRun(method="sgd", hyperparameters={"lr": 0.1}), ReplayRun(method="adam", framework="keras")]
    report = replay(samples, runs)
    assert [(r.run.method, r.run.framework) for r in report.runs] == [("sgd", "torch"), ("adam", "keras")]
    assert report.runs[0].groups["b"].trajectory.steps == list(range(1, 26))
    assert report.runs[0].groups["a"].trajectory.effective_step_p50 == pytest.approx([0.1] * 40)


def test_invalid_replays(samples: dict[str, GradientSample]) -> None:
    with pytest.raises(InvalidReplay, match="runs"):
        replay(samples, [])
    with pytest.raises(InvalidReplay, match="rho"):
        replay(samples, [ReplayRun(method="adadelta", hyperparameters={"rho": 2.0})])
    with pytest.raises(InvalidReplay) as caught:
        replay(samples, [ReplayRun(method="sgd")], trace_coordinates={"a": list(range(9))})
    assert caught.value.group == "a"
    with pytest.raises(InvalidReplay, match="0, 12"):
        replay(samples, [ReplayRun(method="sgd")], trace_coordinates={"b": [12]})
    with pytest.raises(InvalidReplay, match="not sent"):
        replay(samples, [ReplayRun(method="sgd")], trace_coordinates={"c": [0]})


def test_replay_run_model_refuses_unknown_methods() -> None:
    with pytest.raises(ValueError, match="method"):
        ReplayRun.model_validate({"method": "lbfgs"})
    with pytest.raises(ValueError, match="framework"):
        ReplayRun.model_validate({"method": "sgd", "framework": "mxnet"})


@pytest.mark.parametrize("framework", ["torch", "optax"])
def test_a_step_that_overflows_float32_is_refused_naming_the_run_and_step(
    samples: dict[str, GradientSample], framework: str
) -> None:
    # lr / (1 - beta1) = 1e39 at step 1: torch's own Adam raises the same overflow on float32 parameters.
    name = "lr" if framework == "torch" else "learning_rate"
    runs = [
        ReplayRun(method="sgd"),
        ReplayRun(method="adam", framework=framework, hyperparameters={name: 1e38}),
    ]
    with pytest.raises(InvalidReplay, match=f"{framework} adam: step 1 cannot be taken in float32"):
        replay(samples, runs)
    reference = torch.nn.Parameter(torch.zeros(3))
    reference.grad = torch.ones(3)
    with pytest.raises(RuntimeError, match="overflow"):
        torch.optim.Adam([reference], lr=1e38).step()


LARGEST_FLOAT32 = float(np.finfo(np.float32).max)
EXTREMES = (0.0, 1e-45, 1e-8, 0.5, 1 - 1e-7, 1.0, 10.0, 1e38, LARGEST_FLOAT32)


def _extreme_runs() -> list[ReplayRun]:
    """One run per admitted extreme value of each real hyperparameter, of every method in every framework."""
    runs = []
    for method in optimizers.METHODS:
        for framework in optimizers.FRAMEWORKS:
            for name, (_, spec) in framework_hyperparameters(method, framework).items():
                if spec.type not in ("float", "float | None", "tuple[float, float]"):
                    continue
                for value in (v for v in EXTREMES if spec.admits(v)):
                    setting: object = value
                    if spec.type == "tuple[float, float]":
                        setting = [value, spec.default[1]]  # type: ignore[index]
                    runs.append(
                        ReplayRun(method=method, framework=framework, hyperparameters={name: setting})
                    )
    return runs


def test_every_admitted_extreme_hyperparameter_gives_a_report_or_a_clear_refusal() -> None:
    # Gradients at float32's edges too: whatever overflows must come back as null or InvalidReplay, never
    # as another exception (a 500) or a NaN in the JSON.
    rng = np.random.default_rng(0)
    samples = {
        "moderate": GradientSample(rng.standard_normal((6, 4))),
        "edges": GradientSample(
            np.array([[LARGEST_FLOAT32, -1e-45, 0.0], [-LARGEST_FLOAT32, 1e-45, 1.0]] * 3)
        ),
    }
    runs = _extreme_runs()
    assert len(runs) > 300
    refused = 0
    for run in runs:
        try:
            report = replay(samples, [run], trace_coordinates={"edges": [0]})
        except InvalidReplay as error:
            assert f"{run.framework} {run.method}" in str(error)
            refused += 1
            continue
        json.loads(report.model_dump_json(), parse_constant=pytest.fail)
    assert 0 < refused < len(runs) / 4


def test_each_run_reports_every_hyperparameter_it_was_replayed_with(
    samples: dict[str, GradientSample],
) -> None:
    """Defaults included: a run sent with no hyperparameters does not come back with `{}`."""
    report = replay(
        samples, [ReplayRun(method="rmsprop"), ReplayRun(method="adam", hyperparameters={"lr": 0.01})]
    )
    assert report.runs[0].run.hyperparameters == {
        name: list(value) if isinstance(value, tuple) else value
        for name, value in optimizers.defaults("rmsprop", "torch").items()
    }
    assert report.runs[1].run.hyperparameters["lr"] == 0.01
    assert report.runs[1].run.hyperparameters["betas"] == [0.9, 0.999]
    optax = replay(samples, [ReplayRun(method="adagrad", framework="optax")]).runs[0].run
    assert optax.hyperparameters["learning_rate"] == optimizers.defaults("adagrad", "torch")["lr"]
