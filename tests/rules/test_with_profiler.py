"""The engine on the real profiler's reports of synthetic streams with known ground truth."""

import numpy as np
import numpy.typing as npt
import pytest

from profiler import profile, synthetic
from profiler.sample import make_sample
from rules import RecommendationRequest, RuleSet, recommend
from rules.recommendation import Recommendation


def _recommend(stream: npt.NDArray[np.float32], training_steps: int, ruleset: RuleSet) -> Recommendation:
    report = profile({"layer.weight": make_sample("layer.weight", stream)}, training_steps=training_steps)
    return recommend(RecommendationRequest(), ruleset, report)


def test_zipf_bag_of_words_gets_adagrad(ruleset: RuleSet) -> None:
    answer = _recommend(synthetic.zipf_bag_of_words(300, 2000, seed=1), 20_000, ruleset)
    assert answer.method == "adagrad"
    assert {"adagrad-sparse", "adagrad-rare-features"} <= {item.rule for item in answer.rationale}
    assert answer.measured is not None and answer.measured.sparsity > 0.9


def test_regime_switches_get_rmsprop_with_memory_matched_to_the_drift(ruleset: RuleSet) -> None:
    answer = _recommend(synthetic.regime_switches(400, 256, period=40, seed=2), 100_000, ruleset)
    assert answer.method == "rmsprop"
    assert answer.measured is not None and answer.measured.rmsprop_matched_alpha is not None
    low, high = ruleset.estimators.rmsprop_alpha_range
    expected = min(max(answer.measured.rmsprop_matched_alpha, low), high)
    assert answer.hyperparameters["alpha"] == pytest.approx(expected, rel=1e-3)


def test_dense_stationary_long_run_rules_out_adagrad(ruleset: RuleSet) -> None:
    answer = _recommend(synthetic.stationary_gaussian(300, 256, scale=0.01, seed=3), 100_000, ruleset)
    assert "adagrad-dies-before-end" in {item.rule for item in answer.rationale}
    assert answer.method != "adagrad"
