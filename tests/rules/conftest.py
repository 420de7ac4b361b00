from collections.abc import Callable
from typing import Any

import pytest

from optadvisor.profiler.figures import Figures
from optadvisor.profiler.report import ProfileReport
from optadvisor.rules import RuleSet, load_ruleset

# A dense, stationary, well-behaved stream: the figures a profile of i.i.d. N(0, 0.01²) gradients gives.
DENSE_STATIONARY: dict[str, Any] = {
    "steps": 240,
    "window_steps": 240,
    "coordinates": 4096,
    "sparsity": 0.0,
    "nonzero_frequency_p10": 1.0,
    "nonzero_frequency_median": 1.0,
    "nonzero_frequency_p90": 1.0,
    "silent_coordinate_fraction": 0.0,
    "rare_coordinate_fraction": 0.0,
    "intermittent_coordinate_fraction": 0.0,
    "nonstationarity": 0.05,
    "drift_timescale_steps": None,
    "scale_spread_decades": 0.1,
    "gsnr_median": 0.01,
    "gsnr_p90": 0.05,
    "gradient_rms": 0.01,
    "mean_to_spread_ratio": 0.05,
    "parameter_rms": None,
    "typical_parameter_rms": None,
    "adagrad_dying_step": 1.0e4,
    "adagrad_rate_ratio_at_training_steps": None,
    "rmsprop_alpha": 0.99,
    "rmsprop_half_life_steps": 68.97,
    "rmsprop_matched_alpha": None,
    "adadelta_first_step": 3.16e-3,
    "adadelta_first_step_to_parameter_rms": None,
}


def _report(
    training_steps: int = 10_000, assumptions: list[str] | None = None, **figures: Any
) -> ProfileReport:
    # One tensor unless a test says otherwise: its typical parameter RMS is its parameter RMS.
    figures.setdefault("typical_parameter_rms", figures.get("parameter_rms"))
    return ProfileReport(
        framework="torch",
        training_steps=training_steps,
        overall=Figures(**{**DENSE_STATIONARY, **figures}),
        groups={},
        assumptions=assumptions or [],
        estimates=[],
    )


@pytest.fixture
def make_report() -> Callable[..., ProfileReport]:
    """Builds a profiler report whose overall figures are a dense stationary stream changed by keywords."""
    return _report


@pytest.fixture(scope="session")
def ruleset() -> RuleSet:
    return load_ruleset()
