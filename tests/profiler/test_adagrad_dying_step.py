"""The projected Adagrad dying step agrees with a direct long replay of the same stream."""

import numpy as np
import pytest
import torch

from optadvisor import optimizers
from optadvisor.profiler import GradientSample, profile, synthetic
from optadvisor.profiler.replay_engine import single_threaded_torch

PROFILED_STEPS = 1000


def replayed_dying_step(stream: np.ndarray) -> float:
    """Median over coordinates of the first step whose rate is 1% of that after the first update."""
    parameter = torch.zeros(stream.shape[1])
    optimizer = optimizers.create("adagrad", [parameter])
    rates = np.empty(stream.shape, np.float32)
    with single_threaded_torch():
        for step, row in enumerate(stream):
            parameter.grad = torch.from_numpy(row)
            optimizer.step()
            rates[step] = optimizer.effective_step_size(parameter).numpy()
    first = np.argmax(stream != 0, axis=0)
    columns = np.arange(stream.shape[1])
    dead = rates <= 0.01 * rates[first, columns]
    dead[np.arange(stream.shape[0])[:, None] < first[None, :]] = False
    dying = np.where(dead.any(axis=0), np.argmax(dead, axis=0) + 1.0, np.inf)
    return float(np.median(dying))


def projected(stream: np.ndarray) -> float:
    figures = profile({"g": GradientSample(stream[:PROFILED_STEPS])}).groups["g"].figures
    assert figures.adagrad_dying_step is not None
    return figures.adagrad_dying_step


@pytest.mark.slow
@pytest.mark.parametrize(("activity", "steps"), [(1.0, 8000), (0.25, 30000)])
def test_projection_matches_a_direct_replay(activity: float, steps: int) -> None:
    stream = synthetic.intermittent_gaussian(steps, 200, activity=activity, scale=0.01, seed=11)
    assert projected(stream) == pytest.approx(replayed_dying_step(stream), rel=0.1)


def test_dense_streams_die_near_ten_thousand_steps_whatever_the_scale() -> None:
    dying = [
        projected(synthetic.stationary_gaussian(PROFILED_STEPS, 400, scale=s, seed=3)) for s in (1e-4, 1e2)
    ]
    assert dying[0] == pytest.approx(dying[1], rel=1e-3)
    assert 2e3 < dying[0] < 2e4  # 1e4 x the median of g1^2 / E[g^2] for Gaussian gradients


def test_coordinates_active_a_fraction_p_of_the_time_die_about_1_over_p_later() -> None:
    dense = projected(synthetic.intermittent_gaussian(PROFILED_STEPS, 2000, activity=1.0, seed=4))
    rare = projected(synthetic.intermittent_gaussian(PROFILED_STEPS, 2000, activity=0.1, seed=4))
    assert rare / dense == pytest.approx(10, rel=0.25)


def test_rate_ratio_at_training_steps_and_never_dying_streams() -> None:
    stream = synthetic.stationary_gaussian(200, 100, seed=1)
    short = profile({"g": GradientSample(stream)}, training_steps=10).groups["g"].figures
    long = profile({"g": GradientSample(stream)}, training_steps=10**6).groups["g"].figures
    assert short.adagrad_rate_ratio_at_training_steps is not None
    assert long.adagrad_rate_ratio_at_training_steps is not None
    assert 0.1 < short.adagrad_rate_ratio_at_training_steps <= 1.0
    assert long.adagrad_rate_ratio_at_training_steps < 0.01
    # Keras' accumulator starts at 0.1: gradients of 1e-6 never move it enough to kill the rate.
    tiny = profile({"g": GradientSample(stream * np.float32(1e-6))}, framework="keras").groups["g"].figures
    assert tiny.adagrad_dying_step is None
