"""Every figure recovers the ground truth of the synthetic streams."""

import numpy as np
import pytest

from optadvisor.profiler import Figures, GradientSample, profile, synthetic


def figures(values: np.ndarray, **context: object) -> Figures:
    return profile({"g": GradientSample(values, **context)}, training_steps=1000).groups["g"].figures  # type: ignore[arg-type]


def test_sparsity_and_nonzero_frequency_are_exact() -> None:
    stream = synthetic.zipf_bag_of_words(300, 2000, words_per_step=16, seed=3)
    result = figures(stream)
    active_steps = np.count_nonzero(stream, axis=0)
    frequency = active_steps / 300
    assert result.sparsity == 1 - np.count_nonzero(stream) / stream.size
    assert result.nonzero_frequency_median == np.median(frequency)
    # Rare: active in 1 to 3 of the 300 steps; silent: in none; intermittent: in 1 to 150.
    assert result.rare_coordinate_fraction == np.mean((active_steps >= 1) & (active_steps <= 3))
    assert result.silent_coordinate_fraction == np.mean(active_steps == 0)
    assert result.intermittent_coordinate_fraction == np.mean((active_steps >= 1) & (active_steps <= 150))
    assert 0 < result.rare_coordinate_fraction < result.intermittent_coordinate_fraction


def test_dead_columns_are_silent_not_rare_and_all_zero_gradients_are_all_silent() -> None:
    """Columns zero in every step (dead units, the README's `g[:, ::2] = 0`) are no rare features."""
    stream = np.random.default_rng(0).normal(0, 0.01, (64, 256))
    stream[:, ::2] = 0.0
    result = figures(stream)
    assert result.sparsity == 0.5
    assert result.silent_coordinate_fraction == 0.5
    assert result.rare_coordinate_fraction == 0.0
    assert result.intermittent_coordinate_fraction == 0.0
    zeros = figures(np.zeros((30, 100)))
    assert zeros.silent_coordinate_fraction == 1.0
    assert zeros.rare_coordinate_fraction == 0.0


def test_zipf_activity_matches_its_ground_truth() -> None:
    stream = synthetic.zipf_bag_of_words(1000, 500, words_per_step=16, seed=1)
    truth = synthetic.zipf_activity(500, words_per_step=16)
    measured = np.count_nonzero(stream, axis=0) / 1000
    assert np.abs(measured - truth).max() < 0.06
    assert figures(stream).nonzero_frequency_median == pytest.approx(np.median(truth), abs=0.01)


@pytest.mark.parametrize("steps", [100, 200, 300])
@pytest.mark.parametrize("coordinates", [1, 16, 512])
@pytest.mark.parametrize("seed", [0, 1])
def test_stationary_streams_score_low(steps: int, coordinates: int, seed: int) -> None:
    result = figures(synthetic.stationary_gaussian(steps, coordinates, scale=3.0, mean=0.5, seed=seed))
    assert result.nonstationarity < 0.25


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sparse_stationary_streams_score_low(seed: int) -> None:
    assert figures(synthetic.zipf_bag_of_words(300, 3000, seed=seed)).nonstationarity < 0.25
    assert figures(synthetic.intermittent_gaussian(300, 64, activity=0.05, seed=seed)).nonstationarity < 0.25


@pytest.mark.parametrize(
    ("steps", "period"), [(100, 10), (300, 10), (300, 40), (200, 5), (1200, 25), (1200, 100)]
)
def test_regime_switches_score_high_with_their_timescale(steps: int, period: int) -> None:
    result = figures(synthetic.regime_switches(steps, 64, period=period, seed=period))
    assert result.nonstationarity > 0.5
    assert result.drift_timescale_steps is not None
    assert period / 2 <= result.drift_timescale_steps <= period * 2


def test_a_drift_of_one_decade_is_seen_with_its_timescale() -> None:
    small, decade, two = (figures(synthetic.drifting_scale(300, 64, decades=d)) for d in (0.3, 1.0, 2.0))
    assert small.nonstationarity < decade.nonstationarity < two.nonstationarity
    assert decade.nonstationarity > 0.4
    assert decade.drift_timescale_steps is not None
    assert 150 <= decade.drift_timescale_steps <= 600  # one decade per 300 steps


def test_direction_changes_are_seen_even_at_constant_scale() -> None:
    rng = np.random.default_rng(5)
    directions = rng.standard_normal((6, 128))
    stream = np.repeat(directions, 50, axis=0) + 0.3 * rng.standard_normal((300, 128))
    result = figures(stream.astype(np.float32))
    assert result.nonstationarity > 0.5
    assert result.drift_timescale_steps is not None
    assert 25 <= result.drift_timescale_steps <= 100


def test_scale_spread_and_signal_to_noise() -> None:
    rng = np.random.default_rng(0)
    scales = 10.0 ** np.linspace(0, 2, 1000)  # per-coordinate RMS spread over 2 decades
    stream = (rng.standard_normal((400, 1000)) * scales).astype(np.float32)
    result = figures(stream)
    assert result.scale_spread_decades == pytest.approx(1.6, abs=0.05)  # p10..p90 of a uniform log grid
    assert result.gsnr_median is not None and result.gsnr_median < 0.01
    biased = figures(synthetic.stationary_gaussian(400, 200, mean=2.0, scale=1.0))
    assert biased.gsnr_median == pytest.approx(4.0, rel=0.2)
    assert biased.mean_to_spread_ratio == pytest.approx(2.0, rel=0.1)


def test_rmsprop_and_adadelta_figures_follow_the_requested_framework() -> None:
    stream = synthetic.regime_switches(300, 32, period=20)
    torch_figures = figures(stream, parameter_rms=0.05)
    assert torch_figures.rmsprop_alpha == 0.99
    assert torch_figures.rmsprop_half_life_steps == pytest.approx(np.log(0.5) / np.log(0.99))
    assert torch_figures.drift_timescale_steps is not None
    assert torch_figures.rmsprop_matched_alpha == pytest.approx(1 - 1 / torch_figures.drift_timescale_steps)
    assert torch_figures.adadelta_first_step == pytest.approx(np.sqrt(1e-6 / 0.1))
    assert torch_figures.adadelta_first_step_to_parameter_rms == pytest.approx(np.sqrt(1e-6 / 0.1) / 0.05)
    keras = profile({"g": GradientSample(stream)}, framework="keras").groups["g"].figures
    assert keras.rmsprop_alpha == 0.9
    assert keras.adadelta_first_step == pytest.approx(1e-3 * np.sqrt(1e-7 / 0.05))
    assert keras.adadelta_first_step_to_parameter_rms is None


def test_subset_aggregates_give_exact_whole_tensor_figures() -> None:
    stream = synthetic.zipf_bag_of_words(200, 1000, seed=4)
    subset = stream[:, ::10].copy()
    report = profile(
        {
            "g": GradientSample(
                subset,
                total_coordinates=1000,
                step_norms=np.linalg.norm(stream.astype(np.float64), axis=1),
                step_nonzeros=np.count_nonzero(stream, axis=1),
            )
        }
    )
    result = report.groups["g"].figures
    assert result.sparsity == pytest.approx(1 - np.count_nonzero(stream) / stream.size, abs=1e-12)
    assert result.gradient_rms == pytest.approx(np.sqrt(np.mean(np.square(stream, dtype=np.float64))))
    assert any("100 of 1000 coordinates" in note and "sparsity" in note for note in report.estimates)
