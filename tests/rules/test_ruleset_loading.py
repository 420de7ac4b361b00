"""Loading rule files: the default set, its version, and broken files naming the rule and field."""

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from optadvisor.rules import RuleSet, RuleSetError, load_ruleset, parse_ruleset

DEFAULT_FILE = Path(__file__).parents[2] / "rules" / "default.yaml"


@pytest.fixture
def raw() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(DEFAULT_FILE.read_text(encoding="utf-8"))
    return copy.deepcopy(data)


def _rule(raw: dict[str, Any], rule_id: str) -> dict[str, Any]:
    return next(rule for rule in raw["rules"] if rule["id"] == rule_id)


def test_default_loads_from_package_and_from_path(ruleset: RuleSet) -> None:
    assert load_ruleset(DEFAULT_FILE) == ruleset
    assert len(ruleset.rules) >= 15
    assert len(ruleset.version) == 12


def test_ruleset_is_json_serialisable_with_its_version(ruleset: RuleSet) -> None:
    served = json.loads(ruleset.model_dump_json())
    assert served["version"] == ruleset.version
    assert {rule["id"] for rule in served["rules"]} == {rule.id for rule in ruleset.rules}
    assert served["features"]["model_family"]["choices"][0] == "linear"
    assert served["rules"][0]["condition"]["all"][0] == {"feature": "sparsity", "op": "absent", "value": None}


def test_version_changes_with_content_only(raw: dict[str, Any], ruleset: RuleSet) -> None:
    assert parse_ruleset(copy.deepcopy(raw)).version == ruleset.version
    raw["priors"]["sgd"] = 0.11
    assert parse_ruleset(raw).version != ruleset.version


def test_served_rule_set_loads_back_to_the_same_version(ruleset: RuleSet) -> None:
    served = json.loads(ruleset.model_dump_json())
    del served["version"], served["features"]
    assert parse_ruleset(served).version == ruleset.version


def test_every_rule_names_a_source_and_tie_breaks_give_a_reason(ruleset: RuleSet) -> None:
    assert all(rule.source.strip() for rule in ruleset.rules)
    assert sum("Tie-break" in rule.source for rule in ruleset.rules) >= 2
    assert ruleset.tie_break.source


def _break_condition_feature(raw: dict[str, Any]) -> None:
    _rule(raw, "adagrad-sparse")["condition"]["feature"] = "sparsty"


def _break_effect_method(raw: dict[str, Any]) -> None:
    _rule(raw, "adagrad-sparse")["effects"]["adagrd"] = 0.1


def _break_operator(raw: dict[str, Any]) -> None:
    _rule(raw, "adagrad-sparse")["condition"]["op"] = "=~"


def _break_ordering_on_category(raw: dict[str, Any]) -> None:
    _rule(raw, "rmsprop-recurrent")["condition"]["op"] = "<"


def _break_category_value(raw: dict[str, Any]) -> None:
    _rule(raw, "rmsprop-recurrent")["condition"]["value"] = "lstm"


def _break_nested_feature(raw: dict[str, Any]) -> None:
    _rule(raw, "adam-dense-deep-learning")["condition"]["all"][1]["any"][0]["feature"] = "sparseness"


def _break_template_placeholder(raw: dict[str, Any]) -> None:
    _rule(raw, "adagrad-sparse")["rationale"] = "{sparsity.__class__} zeros"


def _break_template_unknown_feature(raw: dict[str, Any]) -> None:
    _rule(raw, "adagrad-sparse")["rationale"] = "{password} zeros"


def _break_template_index(raw: dict[str, Any]) -> None:
    _rule(raw, "adagrad-sparse")["rationale"] = "{sparsity[0]} zeros"


def _break_template_spec(raw: dict[str, Any]) -> None:
    _rule(raw, "adagrad-sparse")["rationale"] = "{sparsity:>999999999} zeros"


def _break_template_type(raw: dict[str, Any]) -> None:
    _rule(raw, "adagrad-sparse")["rationale"] = "{sparsity:d} zeros"


def _duplicate_id(raw: dict[str, Any]) -> None:
    _rule(raw, "rmsprop-recurrent")["id"] = "adagrad-sparse"


def _break_setting(raw: dict[str, Any]) -> None:
    _rule(raw, "rmsprop-recurrent")["settings"]["rmsprop"] = {"centred": True}


def _break_floor_method(raw: dict[str, Any]) -> None:
    _rule(raw, "adagrad-sparse-linear-rate")["lr_floors"] = {"adagrd": 0.1}


def _break_floor_value(raw: dict[str, Any]) -> None:
    _rule(raw, "adagrad-sparse-linear-rate")["lr_floors"]["adagrad"] = 0.0


def _floor_above_ceiling(raw: dict[str, Any]) -> None:
    _rule(raw, "adagrad-sparse-linear-rate")["lr_floors"]["adagrad"] = 0.5  # 30 x Adagrad's 0.01 is 0.3


def _break_effect_value(raw: dict[str, Any]) -> None:
    _rule(raw, "adagrad-sparse")["effects"]["adagrad"] = "a lot"


def _drop_rationale(raw: dict[str, Any]) -> None:
    del _rule(raw, "adagrad-sparse")["rationale"]


@pytest.mark.parametrize(
    ("breakage", "rule", "field"),
    [
        (_break_condition_feature, "adagrad-sparse", "condition.feature"),
        (_break_effect_method, "adagrad-sparse", "effects.adagrd"),
        (_break_operator, "adagrad-sparse", "condition.op"),
        (_break_ordering_on_category, "rmsprop-recurrent", "condition.op"),
        (_break_category_value, "rmsprop-recurrent", "condition.value"),
        (_break_nested_feature, "adam-dense-deep-learning", "condition.all[1].any[0].feature"),
        (_break_template_placeholder, "adagrad-sparse", "rationale"),
        (_break_template_unknown_feature, "adagrad-sparse", "rationale"),
        (_break_template_index, "adagrad-sparse", "rationale"),
        (_break_template_spec, "adagrad-sparse", "rationale"),
        (_break_template_type, "adagrad-sparse", "rationale"),
        (_duplicate_id, "adagrad-sparse", "id"),
        (_break_setting, "rmsprop-recurrent", "settings.rmsprop.centred"),
        (_break_effect_value, "adagrad-sparse", "effects.adagrad"),
        (_break_floor_method, "adagrad-sparse-linear-rate", "lr_floors.adagrd"),
        (_break_floor_value, "adagrad-sparse-linear-rate", "lr_floors.adagrad"),
        (_floor_above_ceiling, "adagrad-sparse-linear-rate", "lr_floors.adagrad"),
        (_drop_rationale, "adagrad-sparse", "rationale"),
    ],
)
def test_broken_rule_names_rule_and_field(breakage: Any, rule: str, field: str, raw: dict[str, Any]) -> None:
    breakage(raw)
    with pytest.raises(RuleSetError) as caught:
        parse_ruleset(raw)
    assert caught.value.rule == rule
    assert caught.value.field == field
    assert str(caught.value).startswith(f"rule {rule!r}: {field}: ")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda raw: raw["priors"].pop("sgd"), "priors"),
        (lambda raw: raw["tie_break"]["order"].pop(), "tie_break.order"),
        (
            lambda raw: raw["estimators"].update(rmsprop_alpha_range=[0.99, 1.5]),
            "estimators.rmsprop_alpha_range",
        ),
        (
            lambda raw: raw["estimators"].update(momentum_signal_kept=1.0),
            "estimators.momentum_signal_kept",
        ),
        (lambda raw: raw.update(version="abc"), "version"),
    ],
)
def test_broken_top_level_names_field(change: Any, field: str, raw: dict[str, Any]) -> None:
    change(raw)
    with pytest.raises(RuleSetError) as caught:
        parse_ruleset(raw)
    assert caught.value.field == field


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    with pytest.raises(RuleSetError, match=f"cannot read rule file {re.escape(str(missing))}: "):
        load_ruleset(missing)
    broken = tmp_path / "broken.yaml"
    broken.write_text("rules: [", encoding="utf-8")
    with pytest.raises(RuleSetError, match=f"rule file {re.escape(str(broken))} is not valid YAML"):
        load_ruleset(broken)
    broken.write_text("- just a list", encoding="utf-8")
    with pytest.raises(RuleSetError, match="mapping"):
        load_ruleset(broken)


def test_yaml_tags_that_construct_objects_are_refused(tmp_path: Path) -> None:
    hostile = tmp_path / "hostile.yaml"
    hostile.write_text("priors: !!python/object/apply:os.system ['true']\n", encoding="utf-8")
    with pytest.raises(RuleSetError, match="YAML"):
        load_ruleset(hostile)
