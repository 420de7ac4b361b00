"""Rule templates quote the profiler's and the catalogue's thresholds by name, never as restated numbers."""

from importlib import resources
from typing import Any

import pytest
import yaml

from optadvisor.profiler.figures import Figures
from optadvisor.profiler.thresholds import QUOTED, RARE_BELOW, STATIONARY_BELOW, as_share
from optadvisor.rules import RecommendationRequest, RuleSetError, recommend
from optadvisor.rules.features import FEATURES
from optadvisor.rules.ruleset import parse_ruleset
from optadvisor.rules.templates import render
from tests.rules import evidence_fixture


def _raw() -> dict[str, Any]:
    text = resources.files("optadvisor.rules").joinpath("default.yaml").read_text(encoding="utf-8")
    raw: dict[str, Any] = yaml.safe_load(text)
    return raw


def test_a_rationale_may_name_a_threshold_and_renders_its_value() -> None:
    raw = _raw()
    guardrail = raw["guardrails"][0]
    guardrail["rationale"] = "rare means at most {rare_below:.0%} of steps; {default_training_steps:,d} steps"
    ruleset = parse_ruleset(raw, evidence_fixture.evidence())
    answer = recommend(
        RecommendationRequest.model_validate({"profile": {"stationarity": "non_stationary"}}), ruleset
    )
    item = next(item for item in answer.rationale if item.rule == guardrail["id"])
    assert item.text == f"rare means at most {RARE_BELOW:.0%} of steps; 100,000 steps"


def test_a_threshold_placeholder_is_checked_like_a_feature() -> None:
    raw = _raw()
    raw["guardrails"][0]["rationale"] = "{rare_below:d}"
    with pytest.raises(RuleSetError, match="rare_below"):
        parse_ruleset(raw, evidence_fixture.evidence())
    raw["guardrails"][0]["rationale"] = "{rare_belo}"
    with pytest.raises(RuleSetError, match="unknown feature"):
        parse_ruleset(raw, evidence_fixture.evidence())


def test_a_feature_value_wins_over_a_threshold_of_no_such_feature() -> None:
    assert not set(QUOTED) & set(FEATURES)
    assert render("{stationary_below}", {}) == str(STATIONARY_BELOW)


def test_the_rule_set_serves_each_threshold_with_its_home() -> None:
    served = evidence_fixture.ruleset().model_dump(mode="json")["thresholds"]
    assert {name: (item["value"], item["home"]) for name, item in served.items()} == {
        name: (quoted.value, quoted.home) for name, quoted in QUOTED.items()
    }


def test_descriptions_are_written_from_the_thresholds() -> None:
    rare = Figures.model_fields["rare_coordinate_fraction"].description or ""
    assert f"at most {as_share(RARE_BELOW)} of the steps" in rare
    assert f"nonstationarity < {STATIONARY_BELOW:g}" in (
        Figures.model_fields["drift_timescale_steps"].description or ""
    )
    assert as_share(RARE_BELOW) in FEATURES["rare_coordinate_fraction"].description
