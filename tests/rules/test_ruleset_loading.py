"""Loading rule files: the default set with its evidence, its version, and broken files naming the rule
and field."""

import copy
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from optadvisor.rules import RuleSet, RuleSetError, load_ruleset, parse_ruleset
from tests.rules import evidence_fixture

RULES_DIR = Path(__file__).parents[2] / "rules"
DEFAULT_FILE = RULES_DIR / "default.yaml"


@pytest.fixture
def raw() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(DEFAULT_FILE.read_text(encoding="utf-8"))
    return copy.deepcopy(data)


def _item(raw: dict[str, Any], item_id: str) -> dict[str, Any]:
    return next(item for item in (*raw["guardrails"], *raw["explanations"]) if item["id"] == item_id)


def test_default_loads_from_package_and_from_path(ruleset: RuleSet) -> None:
    assert load_ruleset(DEFAULT_FILE) == ruleset
    assert ruleset.guardrails and len(ruleset.explanations) >= 8
    assert len(ruleset.evidence.tasks) >= 48
    assert len({task.family for task in ruleset.evidence.tasks}) >= 12
    assert len(ruleset.version) == 12


def test_ruleset_is_json_serialisable_with_its_version_and_evidence(ruleset: RuleSet) -> None:
    served = json.loads(ruleset.model_dump_json())
    assert served["version"] == ruleset.version
    assert {item["id"] for item in served["explanations"]} == {item.id for item in ruleset.explanations}
    assert served["features"]["model_family"]["choices"][0] == "linear"
    assert served["evidence"]["provenance"]["command"] == "python -m benchmarks.evidence fit"
    assert len(served["evidence"]["tasks"][0]["regret"]) == len(served["evidence"]["grid"])


def test_version_changes_with_content_and_evidence_only(raw: dict[str, Any], ruleset: RuleSet) -> None:
    assert parse_ruleset(copy.deepcopy(raw), ruleset.evidence).version == ruleset.version
    changed = copy.deepcopy(raw)
    changed["constants"]["max_plan_runs"] = 15
    assert parse_ruleset(changed, ruleset.evidence).version != ruleset.version
    assert parse_ruleset(raw, evidence_fixture.evidence()).version != ruleset.version


def test_every_guardrail_and_explanation_names_a_source(ruleset: RuleSet) -> None:
    assert all(item.source.strip() for item in (*ruleset.guardrails, *ruleset.explanations))


# What a user must not read: a path into the code, or a note on how the rules were designed.
_INTERNAL = re.compile(r"\b[\w/]+\.py\b|tie-?break|chosen here|design note", re.IGNORECASE)


def test_no_rule_text_speaks_of_the_code_or_its_design(ruleset: RuleSet) -> None:
    texts = [
        text
        for item in (*ruleset.guardrails, *ruleset.explanations)
        for text in (item.rationale, item.source)
    ]
    assert texts
    assert [text for text in texts if _INTERNAL.search(text)] == []


def _break_condition_feature(raw: dict[str, Any]) -> None:
    _item(raw, "adagrad-rare-features")["condition"]["all"][0]["feature"] = "sparsty"


def _break_operator(raw: dict[str, Any]) -> None:
    _item(raw, "rmsprop-recurrent")["condition"]["op"] = "=~"


def _break_ordering_on_category(raw: dict[str, Any]) -> None:
    _item(raw, "rmsprop-recurrent")["condition"]["op"] = "<"


def _break_category_value(raw: dict[str, Any]) -> None:
    _item(raw, "rmsprop-recurrent")["condition"]["value"] = "lstm"


def _break_template_placeholder(raw: dict[str, Any]) -> None:
    _item(raw, "rmsprop-recurrent")["rationale"] = "{sparsity.__class__} zeros"


def _break_template_unknown_feature(raw: dict[str, Any]) -> None:
    _item(raw, "rmsprop-recurrent")["rationale"] = "{password} zeros"


def _break_template_index(raw: dict[str, Any]) -> None:
    _item(raw, "rmsprop-recurrent")["rationale"] = "{sparsity[0]} zeros"


def _break_template_spec(raw: dict[str, Any]) -> None:
    _item(raw, "rmsprop-recurrent")["rationale"] = "{sparsity:>999999999} zeros"


def _break_template_type(raw: dict[str, Any]) -> None:
    _item(raw, "rmsprop-recurrent")["rationale"] = "{sparsity:d} zeros"


def _duplicate_id(raw: dict[str, Any]) -> None:
    _item(raw, "rmsprop-recurrent")["id"] = "adagrad-convex"


def _break_argues_for(raw: dict[str, Any]) -> None:
    _item(raw, "rmsprop-recurrent")["argues_for"] = "rmsprob"


def _break_excludes(raw: dict[str, Any]) -> None:
    _item(raw, "no-adagrad-when-non-stationary")["excludes"] = ["adagrd"]


def _drop_rationale(raw: dict[str, Any]) -> None:
    del _item(raw, "rmsprop-recurrent")["rationale"]


@pytest.mark.parametrize(
    ("breakage", "rule", "field"),
    [
        (_break_condition_feature, "adagrad-rare-features", "condition.all[0].feature"),
        (_break_operator, "rmsprop-recurrent", "condition.op"),
        (_break_ordering_on_category, "rmsprop-recurrent", "condition.op"),
        (_break_category_value, "rmsprop-recurrent", "condition.value"),
        (_break_template_placeholder, "rmsprop-recurrent", "rationale"),
        (_break_template_unknown_feature, "rmsprop-recurrent", "rationale"),
        (_break_template_index, "rmsprop-recurrent", "rationale"),
        (_break_template_spec, "rmsprop-recurrent", "rationale"),
        (_break_template_type, "rmsprop-recurrent", "rationale"),
        (_duplicate_id, "adagrad-convex", "id"),
        (_break_argues_for, "rmsprop-recurrent", "argues_for.rmsprob"),
        (_break_excludes, "no-adagrad-when-non-stationary", "excludes.adagrd"),
        (_drop_rationale, "rmsprop-recurrent", "rationale"),
    ],
)
def test_broken_guidance_names_its_id_and_field(
    breakage: Any, rule: str, field: str, raw: dict[str, Any]
) -> None:
    breakage(raw)
    with pytest.raises(RuleSetError) as caught:
        parse_ruleset(raw, evidence_fixture.evidence())
    assert caught.value.rule == rule
    assert caught.value.field == field
    assert str(caught.value).startswith(f"rule {rule!r}: {field}: ")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda raw: raw["constants"].pop("max_plan_runs"), "constants.max_plan_runs"),
        (lambda raw: raw["constants"].update(departure_support=1.5), "constants.departure_support"),
        (lambda raw: raw.update(version="abc"), "version"),
    ],
)
def test_broken_top_level_names_field(change: Any, field: str, raw: dict[str, Any]) -> None:
    change(raw)
    with pytest.raises(RuleSetError) as caught:
        parse_ruleset(raw, evidence_fixture.evidence())
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


def test_the_evidence_file_is_read_beside_the_rule_file_and_checked(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    shutil.copy(DEFAULT_FILE, rules)
    with pytest.raises(RuleSetError, match="cannot read evidence file"):
        load_ruleset(rules)
    (tmp_path / "evidence.json").write_text('{"grid": []}', encoding="utf-8")
    with pytest.raises(RuleSetError, match=r"evidence file evidence\.json: "):
        load_ruleset(rules)
    (tmp_path / "evidence.json").write_text(evidence_fixture.evidence().model_dump_json(), encoding="utf-8")
    assert load_ruleset(rules).evidence == evidence_fixture.evidence()
    text = DEFAULT_FILE.read_text(encoding="utf-8").replace(
        "evidence_file: evidence.json", "evidence_file: ../x"
    )
    rules.write_text(text, encoding="utf-8")
    with pytest.raises(RuleSetError, match="evidence file beside it"):
        load_ruleset(rules)


def test_yaml_tags_that_construct_objects_are_refused(tmp_path: Path) -> None:
    hostile = tmp_path / "hostile.yaml"
    hostile.write_text("constants: !!python/object/apply:os.system ['true']\n", encoding="utf-8")
    with pytest.raises(RuleSetError, match="YAML"):
        load_ruleset(hostile)
