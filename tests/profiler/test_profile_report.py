import sys

import numpy as np
import pytest

from optadvisor.profiler import GradientSample, InvalidGradients, InvalidReplay, Limits, profile, synthetic

METHODS = {"adagrad", "rmsprop", "adadelta", "adam", "adamw", "sgd"}


@pytest.fixture(scope="module")
def two_groups() -> dict[str, GradientSample]:
    return {
        "dense": GradientSample(synthetic.stationary_gaussian(250, 40, scale=0.1, seed=1)),
        "sparse": GradientSample(synthetic.zipf_bag_of_words(250, 120, words_per_step=4, seed=2)),
    }


def test_report_holds_every_group_and_method(two_groups: dict[str, GradientSample]) -> None:
    report = profile(two_groups)
    assert set(report.groups) == {"dense", "sparse"}
    assert report.training_steps == 100_000
    assert "training_steps not given; assumed 100000" in report.assumptions
    for group in report.groups.values():
        assert set(group.replay) == METHODS
        for trajectory in group.replay.values():
            assert len(trajectory.steps) == 200
            assert trajectory.steps[0] == 1 and trajectory.steps[-1] == 250
            lengths = {
                len(series)
                for series in (
                    trajectory.effective_step_p10,
                    trajectory.effective_step_p50,
                    trajectory.effective_step_p90,
                    trajectory.update_rms,
                )
            }
            assert lengths == {200}


def test_overall_weights_groups_by_coordinates(two_groups: dict[str, GradientSample]) -> None:
    report = profile(two_groups, training_steps=500)
    dense, sparse = report.groups["dense"].figures, report.groups["sparse"].figures
    assert report.overall.coordinates == 160
    assert report.overall.sparsity == pytest.approx((40 * dense.sparsity + 120 * sparse.sparsity) / 160)
    stacked = np.concatenate([s.values for s in two_groups.values()], axis=1).astype(np.float64)
    assert report.overall.gradient_rms == pytest.approx(np.sqrt(np.mean(np.square(stacked))))


def test_overall_quantiles_pool_the_coordinates_of_all_groups(two_groups: dict[str, GradientSample]) -> None:
    overall = profile(two_groups).overall
    frequency = np.concatenate([np.count_nonzero(s.values, axis=0) / s.steps for s in two_groups.values()])
    active = np.concatenate([np.count_nonzero(s.values, axis=0) for s in two_groups.values()])
    # Each group's own window sets its rare threshold (1% of its steps, at least one step).
    rare_at_most = np.concatenate(
        [np.full(s.coordinates, max(0.01 * s.steps, 1)) for s in two_groups.values()]
    )
    assert overall.nonzero_frequency_median == pytest.approx(np.median(frequency))
    assert overall.nonzero_frequency_p90 == pytest.approx(np.quantile(frequency, 0.9))
    assert overall.silent_coordinate_fraction == pytest.approx(np.mean(active == 0))
    assert overall.rare_coordinate_fraction == pytest.approx(
        np.mean((active >= 1) & (active <= rare_at_most))
    )


def test_replay_trajectories_follow_the_optimizers(two_groups: dict[str, GradientSample]) -> None:
    report = profile(two_groups, hyperparameters={"sgd": {"lr": 0.5}})
    sgd = report.groups["dense"].replay["sgd"]
    first_rows = two_groups["dense"].values[0].astype(np.float64)
    assert sgd.effective_step_p50 == pytest.approx([0.5] * 200)
    assert sgd.update_rms[0] == pytest.approx(0.5 * np.sqrt(np.mean(first_rows**2)), rel=1e-5)
    adagrad = report.groups["dense"].replay["adagrad"]
    medians = [v for v in adagrad.effective_step_p50 if v is not None]
    assert medians == sorted(medians, reverse=True)  # Adagrad's rates only shrink


def test_rarely_active_coordinates_are_excluded_until_they_are_seen() -> None:
    stream = np.zeros((10, 3), np.float32)
    stream[5:, 0] = 1.0
    trajectory = profile({"g": GradientSample(stream)}).groups["g"].replay["adagrad"]
    assert trajectory.effective_step_p50[:5] == [None] * 5
    assert trajectory.effective_step_p50[5] == pytest.approx(0.01, rel=1e-6)


def test_framework_semantics_and_required_learning_rates(two_groups: dict[str, GradientSample]) -> None:
    report = profile(two_groups, framework="optax")
    assert report.framework == "optax"
    assert any("optax adagrad requires learning_rate" in note for note in report.assumptions)
    assert report.overall.rmsprop_alpha == 0.9


def test_large_groups_are_replayed_on_a_marked_subset() -> None:
    report = profile({"wide": GradientSample(synthetic.stationary_gaussian(3, 5000, seed=0))})
    assert any("4096 of 5000" in note for note in report.estimates)


def test_invalid_requests() -> None:
    samples = {"g": GradientSample(synthetic.stationary_gaussian(5, 3))}
    with pytest.raises(InvalidReplay, match="framework"):
        profile(samples, framework="jax")
    with pytest.raises(InvalidReplay, match="method"):
        profile(samples, hyperparameters={"lbfgs": {}})
    with pytest.raises(InvalidReplay, match="momentum_decay"):
        profile(samples, hyperparameters={"rmsprop": {"momentum_decay": 0.5}})
    with pytest.raises(InvalidReplay, match="alpha"):
        profile(samples, hyperparameters={"rmsprop": {"alpha": -1.0}})
    with pytest.raises(InvalidGradients, match="training_steps"):
        profile(samples, training_steps=0)
    with pytest.raises(InvalidGradients):
        profile({})


def test_limits_validate_their_values() -> None:
    with pytest.raises(ValueError, match="max_elements"):
        Limits(max_elements=0)
    with pytest.raises(ValueError, match="max_compression_ratio"):
        Limits(max_compression_ratio=0.5)


def test_very_wide_groups_are_measured_on_a_bounded_subset(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in (
        "optadvisor.profiler.measure",
        "optadvisor.profiler.profile",
    ):  # `profiler.profile` is also a function name
        monkeypatch.setattr(sys.modules[module], "MEASURED_COORDINATES", 300)
    stream = synthetic.intermittent_gaussian(4, 1000, activity=0.5, seed=3)
    report = profile({"wide": GradientSample(stream)})
    figures = report.groups["wide"].figures
    assert figures.sparsity == 1 - np.count_nonzero(stream) / stream.size  # per-step sums stay exact
    assert figures.nonzero_frequency_median == pytest.approx(0.5, abs=0.25)
    assert any("300 of 1000" in note for note in report.estimates)


def test_typical_parameter_rms_is_the_scale_of_the_median_parameter() -> None:
    stream = synthetic.stationary_gaussian(20, 50, seed=4)
    groups = {
        # An N(0, 1) embedding table: few parameters, large scale.
        "embedding": GradientSample(stream, parameter_rms=1.0),
        # A sampled weight matrix: 50 coordinates sent of 10,000, which is the size that counts.
        "weights": GradientSample(stream, parameter_rms=0.08, total_coordinates=10_000),
        "bias": GradientSample(stream[:, :5].copy(), parameter_rms=0.0),
    }
    overall = profile(groups).overall
    assert overall.typical_parameter_rms == 0.08
    assert overall.parameter_rms is not None and overall.parameter_rms > 0.5  # pooled: the table dominates
    single = profile({"weights": GradientSample(stream, parameter_rms=0.3)}).overall
    assert single.typical_parameter_rms == single.parameter_rms == 0.3
    assert profile({"g": GradientSample(stream)}).overall.typical_parameter_rms is None


def test_a_profile_without_replays_has_the_same_figures(two_groups: dict[str, GradientSample]) -> None:
    full = profile(two_groups, training_steps=500)
    figures_only = profile(two_groups, training_steps=500, replays=False)
    assert figures_only.overall == full.overall
    assert all(group.replay == {} for group in figures_only.groups.values())
    assert {name: group.figures for name, group in figures_only.groups.items()} == {
        name: group.figures for name, group in full.groups.items()
    }
    assert not any("replay" in note for note in figures_only.estimates + figures_only.assumptions)
