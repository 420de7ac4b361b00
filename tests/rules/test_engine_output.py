"""What a recommendation says: numbers in the rationale, estimates from measurements, assumptions."""

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import yaml

from optadvisor.profiler.report import ProfileReport
from optadvisor.rules import RecommendationRequest, RuleSet, parse_ruleset, recommend
from optadvisor.rules.hyperparameters import momentum_signal_kept


def _recommend(ruleset: RuleSet, report: ProfileReport | None = None, **fields: Any) -> Any:
    return recommend(RecommendationRequest.model_validate(fields), ruleset, report)


def _rationale(answer: Any, rule: str) -> str:
    return str(next(item.text for item in answer.rationale if item.rule == rule))


def test_same_request_gives_identical_json(
    ruleset: RuleSet, make_report: Callable[..., ProfileReport]
) -> None:
    fields = {"profile": {"gradient_sparsity": 0.95, "tuning_budget": 6}, "framework": "optax"}
    report = make_report(parameter_rms=0.05, nonstationarity=0.7, drift_timescale_steps=40.0)
    first = recommend(RecommendationRequest.model_validate(fields), ruleset, report).model_dump_json()
    second = recommend(RecommendationRequest.model_validate(fields), ruleset, report).model_dump_json()
    assert first == second


def test_disagreement_is_quoted_with_numbers(
    ruleset: RuleSet, make_report: Callable[..., ProfileReport]
) -> None:
    answer = _recommend(ruleset, make_report(), profile={"gradient_sparsity": 0.95})
    assert _rationale(answer, "measured-sparsity-disagrees") == (
        "declared sparsity 0.95; measured 0.00 over 240 steps: the measurement is used"
    )
    evidence = next(item.evidence for item in answer.rationale if item.rule == "measured-sparsity-disagrees")
    assert evidence["sparsity"] == 0.0
    assert evidence["sparsity.origin"] == "measured"
    assert evidence["declared_sparsity"] == 0.95


def test_measured_figures_are_returned(ruleset: RuleSet, make_report: Callable[..., ProfileReport]) -> None:
    report = make_report(gradient_rms=0.02)
    answer = _recommend(ruleset, report)
    assert answer.measured == report.overall
    assert _recommend(ruleset).measured is None


def test_empty_request_lists_its_assumptions(ruleset: RuleSet) -> None:
    answer = _recommend(ruleset)
    assert "no tuning_budget given; assumed 4" in answer.assumptions
    assert any("lr=0.001: torch default" in line for line in answer.assumptions)
    assert len(answer.tuning_plan) == 4
    assert answer.rules_version == ruleset.version


def _adagrad_lr(parameter_rms: float, steps: int) -> float:
    # Adagrad's steps shrink like lr/sqrt(t); over T steps they walk as far as constant steps of
    # lr x sqrt(H_T / T), so the lr that walks like the target step parameter_rms / sqrt(T) is this:
    harmonic = sum(1.0 / t for t in range(1, steps + 1))
    return parameter_rms / math.sqrt(steps) / math.sqrt(harmonic / steps)


@pytest.mark.parametrize(
    ("parameter_rms", "training_steps", "lr", "bound"),
    [
        (0.1, 100, _adagrad_lr(0.1, 100), ""),
        # a longer run takes smaller steps
        (0.1, 2_500, _adagrad_lr(0.1, 2_500), ""),
        # 0.01 / sqrt(10^4) x 32 = 3.2e-3 is below Adagrad's default 0.01: the default is the floor
        (0.01, 10_000, 0.01, "floor"),
        # far above 30x the default: capped at 0.3
        (100.0, 4, 0.3, "capped"),
    ],
)
def test_adagrad_lr_from_parameter_scale_and_run_length(
    ruleset: RuleSet,
    make_report: Callable[..., ProfileReport],
    parameter_rms: float,
    training_steps: int,
    lr: float,
    bound: str,
) -> None:
    report = make_report(
        sparsity=0.99, rare_coordinate_fraction=0.4, parameter_rms=parameter_rms, adagrad_dying_step=1e9
    )
    answer = _recommend(ruleset, report, profile={"training_steps": training_steps})
    assert answer.method == "adagrad"
    assert answer.hyperparameters["lr"] == pytest.approx(lr, rel=0.01)
    text = _rationale(answer, "estimate.lr")
    assert f"{parameter_rms:.3g}" in text
    assert f"{training_steps} steps" in text
    assert (bound in text) if bound else ("floor" not in text and "capped" not in text)
    assert not any(line.startswith("adagrad lr=") for line in answer.assumptions)


def test_the_lr_aims_at_the_typical_parameter_not_the_pooled_rms(
    ruleset: RuleSet, make_report: Callable[..., ProfileReport]
) -> None:
    # A large-scale embedding table lifts the pooled RMS to 1.0; most parameters sit at 0.1.
    figures = {"sparsity": 0.99, "rare_coordinate_fraction": 0.4, "adagrad_dying_step": 1e9}
    mixed = make_report(parameter_rms=1.0, typical_parameter_rms=0.1, **figures)
    answer = _recommend(ruleset, mixed, profile={"training_steps": 100})
    assert answer.hyperparameters["lr"] == pytest.approx(_adagrad_lr(0.1, 100), rel=0.01)
    assert "typical parameter RMS 0.1 " in _rationale(answer, "estimate.lr")


def test_adagrad_lr_is_the_default_said_as_such_without_parameters(ruleset: RuleSet) -> None:
    answer = _recommend(ruleset, profile={"gradient_sparsity": 0.97, "convex": True})
    assert answer.hyperparameters["lr"] == 0.01
    assert any(
        line.startswith("adagrad lr=0.01: torch default (no parameter scale") for line in answer.assumptions
    )


@pytest.mark.parametrize(
    ("matched", "alpha", "clipped"),
    [(0.98, 0.98, False), (0.5, 0.9, True), (0.99995, 0.999, True)],
)
def test_rmsprop_alpha_fits_the_drift(
    matched: float, alpha: float, clipped: bool, ruleset: RuleSet, make_report: Callable[..., ProfileReport]
) -> None:
    drift = 1.0 / (1.0 - matched)
    report = make_report(nonstationarity=0.8, drift_timescale_steps=drift, rmsprop_matched_alpha=matched)
    answer = _recommend(ruleset, report, framework="keras")
    assert answer.method == "rmsprop"
    assert answer.hyperparameters["rho"] == alpha
    assert answer.configs.torch.kwargs["alpha"] == alpha
    assert answer.configs.optax.kwargs["decay"] == alpha
    assert ("clipped" in _rationale(answer, "estimate.alpha")) is clipped


@pytest.mark.parametrize(
    ("parameter_rms", "training_steps", "above_one"),
    [
        # target step 0.03 / sqrt(100) = 3e-3, a little more than Adadelta's steps average over 100 steps
        (0.03, 100, True),
        # target 1e-3 over 10^4 steps is less than they reach: lr 1, the pure method and the floor
        (0.1, 10_000, False),
    ],
)
def test_adadelta_keeps_torch_eps_and_scales_its_lr(
    ruleset: RuleSet,
    make_report: Callable[..., ProfileReport],
    parameter_rms: float,
    training_steps: int,
    above_one: bool,
) -> None:
    answer = _recommend(
        ruleset,
        make_report(parameter_rms=parameter_rms),
        profile={"tuning_budget": 1, "training_steps": training_steps},
    )
    assert answer.method == "adadelta"
    assert answer.hyperparameters["eps"] == 1e-6
    lr = answer.hyperparameters["lr"]
    assert 1.0 < lr <= 2.0 if above_one else lr == 1.0
    assert ("the floor" in _rationale(answer, "estimate.lr")) is not above_one
    assert answer.configs.keras.kwargs["learning_rate"] == lr
    assert answer.configs.optax.kwargs["learning_rate"] == lr
    assert len(answer.tuning_plan) == 1


def test_small_budget_does_not_pick_adadelta_when_its_steps_stay_too_small(
    ruleset: RuleSet, make_report: Callable[..., ProfileReport]
) -> None:
    # Target 0.01 per step over 100 steps: Adadelta would need lr ~5, no longer the tuning-free method.
    answer = _recommend(
        ruleset, make_report(parameter_rms=0.1), profile={"tuning_budget": 1, "training_steps": 100}
    )
    assert answer.method != "adadelta"
    assert "adadelta-small-budget" not in {item.rule for item in answer.rationale}
    declared_only = _recommend(ruleset, profile={"tuning_budget": 1, "training_steps": 100})
    assert declared_only.method == "adadelta"


def test_adam_for_dense_deep_learning_says_so(ruleset: RuleSet) -> None:
    answer = _recommend(ruleset, profile={"model_family": "cnn"})
    assert "Adam and AdamW have largely superseded" in _rationale(answer, "adam-dense-deep-learning")


def test_alternatives_are_ranked_and_explained(ruleset: RuleSet) -> None:
    answer = _recommend(ruleset, profile={"gradient_sparsity": 0.97, "training_steps": 2_000_000})
    scores = [alternative.score for alternative in answer.alternatives]
    assert scores == sorted(scores, reverse=True)
    adagrad = next(alternative for alternative in answer.alternatives if alternative.method == "adagrad")
    assert "before the planned 2000000 steps" in adagrad.reason
    assert {alternative.method for alternative in answer.alternatives} | {answer.method} == {
        "adagrad",
        "rmsprop",
        "adadelta",
        "adam",
        "adamw",
        "sgd",
    }


def test_hyperparameters_use_the_requested_framework_names(ruleset: RuleSet) -> None:
    answer = _recommend(ruleset, profile={"model_family": "transformer"}, framework="optax")
    assert answer.method == "adamw"
    assert set(answer.hyperparameters) == {"learning_rate", "b1", "b2", "eps", "weight_decay"}
    torch_answer = _recommend(ruleset, profile={"model_family": "transformer"})
    assert torch_answer.hyperparameters["betas_1"] == 0.999
    assert torch_answer.configs.torch.code.startswith(
        "torch.optim.AdamW(model.parameters(), lr=0.001, betas=("
    )
    assert torch_answer.model_dump(mode="json")["configs"]["torch"]["class"] == "torch.optim.AdamW"


def test_profiler_assumptions_carry_over(ruleset: RuleSet, make_report: Callable[..., ProfileReport]) -> None:
    report = make_report(training_steps=100_000, assumptions=["no training_steps given; assumed 100000"])
    answer = _recommend(ruleset, report)
    assert "profiler: no training_steps given; assumed 100000" in answer.assumptions


def test_tie_break_order_decides_equal_scores(ruleset: RuleSet) -> None:
    raw = yaml.safe_load(ruleset.model_dump_json(exclude={"version", "features"}))
    raw["priors"] = dict.fromkeys(raw["priors"], 0.0)
    raw["rules"] = []
    raw["tie_break"]["order"] = ["sgd", "adagrad", "rmsprop", "adadelta", "adam", "adamw"]
    flat = parse_ruleset(raw)
    answer = recommend(RecommendationRequest(candidates=["adam", "sgd", "rmsprop"]), flat)
    assert answer.method == "sgd"
    assert [alternative.method for alternative in answer.alternatives] == ["rmsprop", "adam"]
    assert answer.rationale[0].rule == "tie-break"
    assert "tie-break order puts sgd first" in answer.alternatives[0].reason


def test_momentum_signal_kept_is_what_an_ema_keeps_of_a_drifting_direction() -> None:
    # A direction whose values k steps apart correlate exp(-2k / timescale): an AR(1) process.
    timescale, beta1, steps = 20.0, 0.9, 200_000
    rng = np.random.default_rng(0)
    decay = math.exp(-2.0 / timescale)
    shocks = rng.normal(0.0, math.sqrt(1.0 - decay**2), steps)
    direction = np.empty(steps)
    average = np.empty(steps)
    direction[0], average[0] = rng.normal(), 0.0
    for t in range(1, steps):
        direction[t] = decay * direction[t - 1] + shocks[t]
        average[t] = beta1 * average[t - 1] + (1.0 - beta1) * direction[t]
    kept = float(np.mean(average * direction) / np.mean(direction * direction))
    assert momentum_signal_kept(beta1, timescale) == pytest.approx(kept, abs=0.02)


def _adam_answer(
    ruleset: RuleSet, make_report: Callable[..., ProfileReport], drift: float | None, **profile: Any
) -> Any:
    report = make_report(
        parameter_rms=0.05, mean_to_spread_ratio=0.3, nonstationarity=0.3, drift_timescale_steps=drift
    )
    answer = _recommend(
        ruleset, report, profile={"model_family": "mlp", "training_steps": 1000, **profile}, framework="keras"
    )
    assert answer.method == "adam"
    return answer


def test_adam_beta1_keeps_most_of_a_drifting_direction(
    ruleset: RuleSet, make_report: Callable[..., ProfileReport]
) -> None:
    answer = _adam_answer(ruleset, make_report, drift=40.0)
    beta1 = answer.hyperparameters["beta_1"]
    assert 0.5 < beta1 < 0.9
    assert momentum_signal_kept(beta1, 40.0) >= ruleset.estimators.momentum_signal_kept - 0.01
    assert answer.configs.torch.kwargs["betas"] == [beta1, 0.999]
    assert answer.configs.optax.kwargs["b1"] == beta1
    text = _rationale(answer, "estimate.beta1")
    assert "drifts over 40 steps" in text
    assert f"at torch's 0.9 (an average lagging 9 steps behind) {momentum_signal_kept(0.9, 40.0):.0%}" in text
    # Every plan entry of the method carries it.
    assert all(run.kwargs["beta_1"] == beta1 for run in answer.tuning_plan if run.method == "adam")


def test_a_lower_beta1_lowers_the_lr_that_gives_the_same_step(
    ruleset: RuleSet, make_report: Callable[..., ProfileReport]
) -> None:
    drifting = _adam_answer(ruleset, make_report, drift=40.0)
    steady = _adam_answer(ruleset, make_report, drift=None)
    assert steady.hyperparameters["beta_1"] == 0.9
    # Less momentum averages less noise away: each unit of lr moves further, so the lr is smaller.
    assert drifting.hyperparameters["learning_rate"] < steady.hyperparameters["learning_rate"]


@pytest.mark.parametrize(
    ("drift", "beta1", "said"),
    [
        (None, 0.9, "adam beta1=0.9: torch default (the measured stream shows no drift)"),
        (1000.0, 0.9, "adam beta1=0.9: torch default (it keeps 98% of a direction drifting over 1000 steps)"),
        (3.0, 0.5, None),
    ],
)
def test_beta1_stays_at_the_default_for_slow_drift_and_at_the_lowest_for_fast(
    drift: float | None,
    beta1: float,
    said: str | None,
    ruleset: RuleSet,
    make_report: Callable[..., ProfileReport],
) -> None:
    answer = _adam_answer(ruleset, make_report, drift=drift)
    assert answer.hyperparameters["beta_1"] == beta1
    if said is not None:
        assert said in answer.assumptions
    else:
        assert _rationale(answer, "estimate.beta1").endswith("; raised to the lowest beta1, 0.5")
