"""The advice-quality problems are real training tasks: they learn, and a seed fixes their outcome."""

import math
from functools import partial

import pytest
import torch

from benchmarks.quality.problems import PROBLEMS
from benchmarks.quality.problems.sparse_logreg import SPARSE_LOGREG_SHORT
from benchmarks.quality.search_space import Config, build_optimizer

# A learning rate each problem is known to learn with, and a run length that shows it quickly.
LEARNING_SETTINGS = {
    "sparse_logreg_short": (Config.of("adagrad", {"lr": 0.3}), None),
    "sparse_logreg_long": (Config.of("adagrad", {"lr": 0.3}), 120),
    "char_gru": (Config.of("adam", {"lr": 1e-2}), 60),
    "drifting_regression": (Config.of("adam", {"lr": 1e-2}), None),
    "cartpole_reinforce": (Config.of("adam", {"lr": 1e-2}), None),
    "digits_mlp": (Config.of("adam", {"lr": 1e-2}), None),
    "digits_cnn": (Config.of("adam", {"lr": 1e-2}), 60),
}
FROZEN = Config.of("sgd", {"lr": 0.0})


@pytest.fixture(autouse=True)
def single_thread() -> None:
    torch.set_num_threads(1)


def test_there_are_seven_problems_with_distinct_names() -> None:
    assert len(PROBLEMS) >= 7
    assert set(LEARNING_SETTINGS) == set(PROBLEMS)


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_training_improves_the_metric_over_a_frozen_model(name: str) -> None:
    problem = PROBLEMS[name]
    config, steps = LEARNING_SETTINGS[name]
    trained = problem.train(partial(build_optimizer, config), seed=0, steps=steps)
    frozen = problem.train(partial(build_optimizer, FROZEN), seed=0, steps=steps)
    assert not trained.diverged
    assert len(trained.curve) == (steps or problem.steps)
    assert trained.final_metric < 0.9 * frozen.final_metric


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_a_seed_fixes_the_run_and_another_seed_changes_it(name: str) -> None:
    problem = PROBLEMS[name]
    factory = partial(build_optimizer, Config.of("rmsprop", {"lr": 1e-3}))
    first = problem.train(factory, seed=3, steps=8)
    again = problem.train(factory, seed=3, steps=8)
    other = problem.train(factory, seed=4, steps=8)
    assert first.curve == again.curve
    assert first.final_metric == again.final_metric
    assert first.curve != other.curve


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_the_declared_profile_is_a_valid_request_profile(name: str) -> None:
    profile = PROBLEMS[name].profile
    assert set(profile) == {"model_family", "training_steps", "convex"}
    assert profile["model_family"] in {
        "linear",
        "mlp",
        "cnn",
        "rnn",
        "transformer",
        "embedding",
        "rl",
        "other",
    }
    assert profile["training_steps"] == PROBLEMS[name].steps


def test_the_long_sparse_problem_is_twenty_times_the_short_one() -> None:
    assert PROBLEMS["sparse_logreg_long"].steps == 20 * PROBLEMS["sparse_logreg_short"].steps


def test_a_diverging_optimizer_scores_inf() -> None:
    result = PROBLEMS["drifting_regression"].train(
        partial(build_optimizer, Config.of("sgd", {"lr": 1e6})), seed=0, steps=50
    )
    assert result.diverged
    assert math.isinf(result.final_metric)


def test_the_sparse_problem_has_mostly_zero_embedding_gradients() -> None:
    model, data = SPARSE_LOGREG_SHORT.build(seed=0)
    logits = model(data.train_tokens[:64])
    torch.autograd.backward(
        torch.nn.functional.binary_cross_entropy_with_logits(logits, data.train_labels[:64])
    )
    gradient = model.weights.weight.grad
    assert gradient is not None
    assert int(torch.count_nonzero(gradient)) < 0.2 * gradient.numel()
