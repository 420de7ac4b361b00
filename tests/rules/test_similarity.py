"""Problem descriptors and distances: what a request provides, and how it is compared."""

from collections.abc import Callable

import pytest

from optadvisor.profiler.report import ProfileReport
from optadvisor.rules.request import DeclaredProfile
from optadvisor.rules.similarity import DESCRIPTORS, Descriptors, DescriptorTable, describe

SPREADS = {name: 1.0 for name, spec in DESCRIPTORS.items() if spec.kind == "number"}


def distance(query: Descriptors, other: Descriptors) -> float:
    return float(DescriptorTable([other], SPREADS).distances(query)[0])


def test_a_declared_profile_gives_only_declared_descriptors() -> None:
    profile = DeclaredProfile(model_family="rnn", training_steps=10_000, stationarity="non_stationary")
    assert describe(profile, None) == {
        "model_family": "rnn",
        "log_training_steps": pytest.approx(4.0),
        "declared_nonstationarity": 1.0,
    }
    assert describe(DeclaredProfile(), None) == {}


def test_measured_sparsity_replaces_the_declared_one_and_measured_descriptors_appear(
    make_report: Callable[..., ProfileReport],
) -> None:
    report = make_report(sparsity=0.9, gsnr_median=0.01, parameter_rms=0.1, gradient_rms=0.001)
    described = describe(DeclaredProfile(gradient_sparsity=0.2), report.overall)
    assert described["sparsity"] == 0.9
    assert described["log_gsnr"] == pytest.approx(-2.0)
    assert described["log_gradient_to_parameter"] == pytest.approx(-2.0)
    assert {"intermittent_fraction", "silent_fraction", "nonstationarity", "scale_spread_decades"} <= set(
        described
    )


def test_nothing_framework_specific_is_a_descriptor(make_report: Callable[..., ProfileReport]) -> None:
    """Replays and projections depend on the framework's defaults; descriptors must not."""
    torch_report = make_report(rmsprop_alpha=0.99, adagrad_dying_step=1e4, adadelta_first_step=3e-3)
    keras_report = make_report(rmsprop_alpha=0.9, adagrad_dying_step=4e5, adadelta_first_step=7e-3)
    profile = DeclaredProfile(model_family="mlp")
    assert describe(profile, torch_report.overall) == describe(profile, keras_report.overall)


def test_distance_is_zero_for_the_same_problem_symmetric_and_counts_category_mismatches() -> None:
    a = {"model_family": "rnn", "sparsity": 0.1, "log_training_steps": 3.0}
    b = {"model_family": "mlp", "sparsity": 0.5, "log_training_steps": 3.0}
    assert distance(a, a) == 0.0
    assert distance(a, b) == pytest.approx(distance(b, a))
    # family differs (1 spread), sparsity 0.4 spreads, steps 0: root mean square over three.
    assert distance(a, b) == pytest.approx(((1.0 + 0.16 + 0.0) / 3) ** 0.5)


def test_only_what_the_request_says_is_compared() -> None:
    task = {"model_family": "rnn", "sparsity": 0.9, "log_training_steps": 5.0}
    assert distance({"model_family": "rnn"}, task) == 0.0
    assert distance({}, task) == 0.0
    # A flag the request states and the task does not counts as the task's unstated default.
    assert distance({"convex": 1.0}, task) == pytest.approx(1.0)


def test_the_table_measures_many_problems_at_once_each_with_what_it_has() -> None:
    problems: list[Descriptors] = [{"model_family": "rnn", "sparsity": 0.1}, {"sparsity": 0.5}, {}]
    table = DescriptorTable(problems, SPREADS)
    query: Descriptors = {"model_family": "mlp", "sparsity": 0.3}
    assert table.distances(query).tolist() == pytest.approx([distance(query, p) for p in problems])
    # mismatched family and 0.2 apart; only 0.2 apart; nothing in common.
    assert table.distances(query).tolist() == pytest.approx([((1.0 + 0.04) / 2) ** 0.5, 0.2, 0.0])
