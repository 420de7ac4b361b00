"""The rule set as a validated model, and its loader.

A rule file holds the engine's constants, the guardrails (hard limits from published guidance), the
explanations (published guidance quoted where it applies) and the name of the fitted evidence file
beside it. `RuleSet.version` is a short content hash of all of it, the evidence included.
"""

import hashlib
import json
import os
from functools import cached_property
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, computed_field, model_validator

from optadvisor.optimizers.catalogue.names import FRAMEWORKS, METHODS
from optadvisor.profiler.thresholds import QUOTED
from optadvisor.rules.conditions import Condition, check_condition
from optadvisor.rules.errors import RuleSetError
from optadvisor.rules.evidence import Evidence
from optadvisor.rules.features import FEATURES
from optadvisor.rules.templates import check_template

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
_CONDITION_TAGS = {"comparison", "all", "any", "not"}
# Served with the rule set but declared below it (features, names, thresholds): not part of its version.
_SERVED_NOT_HASHED = {"version", "features", "thresholds", "methods", "frameworks"}


def _unknown_methods(names: list[str], rule: str | None, field: str) -> None:
    for name in names:
        if name not in METHODS:
            raise RuleSetError(
                f"unknown method (known: {', '.join(METHODS)})", rule=rule, field=f"{field}.{name}"
            )


class _Guidance(BaseModel):
    """A condition on features, the sentence it adds when it holds, and where the guidance comes from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]*$", max_length=64, description="Stable identifier.")
    condition: Condition = Field(description="When it holds (all / any / not of comparisons).")
    rationale: str = Field(max_length=500, description="Sentence with {feature:spec} placeholders.")
    source: str = Field(min_length=1, max_length=1000, description="Where the guidance comes from.")

    def _check_guidance(self) -> None:
        check_condition(self.condition, self.id)
        check_template(self.rationale, self.id)


class Guardrail(_Guidance):
    """A hard limit the evidence may not cross: when the condition holds, these methods are not advised."""

    excludes: list[str] = Field(min_length=1, description="Methods never recommended or planned then.")

    @model_validator(mode="after")
    def _check(self) -> "Guardrail":
        self._check_guidance()
        _unknown_methods(self.excludes, self.id, "excludes")
        return self


class Explanation(_Guidance):
    """Published guidance that explains a method's case when its condition holds. It never changes what
    is recommended (the evidence does); it is quoted under the method it argues for."""

    argues_for: str = Field(description="The method this guidance speaks for.")

    @model_validator(mode="after")
    def _check(self) -> "Explanation":
        self._check_guidance()
        _unknown_methods([self.argues_for], self.id, "argues_for")
        return self


class Constants(BaseModel):
    """Numbers the engine uses beside the evidence."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    assumed_tuning_budget: int = Field(ge=1, description="Budget assumed when none is declared.")
    assumed_gradient_rms: FiniteFloat = Field(
        gt=0, description="Gradient scale the equivalence notes assume when none is measured."
    )
    equivalence_tolerance: FiniteFloat = Field(
        gt=0, description="Largest relative first-step difference still called equivalent."
    )
    departure_support: FiniteFloat = Field(
        gt=0,
        le=1,
        description="A learning rate more than 3x from its default is recommended only when it beat that "
        "method's default on at least this share of the similar tasks.",
    )
    max_plan_runs: int = Field(ge=1, le=64, description="Most runs a tuning plan lists, whatever the budget.")


class RuleSet(BaseModel):
    """Constants, guardrails, explanations and the fitted evidence; `version` is a hash of all of them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = Field(default="", max_length=2000)
    constants: Constants
    guardrails: list[Guardrail]
    explanations: list[Explanation]
    evidence: Evidence

    @model_validator(mode="after")
    def _check(self) -> "RuleSet":
        seen: set[str] = set()
        for item in (*self.guardrails, *self.explanations):
            if item.id in seen:
                raise RuleSetError("duplicate id", rule=item.id, field="id")
            seen.add(item.id)
        return self

    @computed_field  # type: ignore[prop-decorator]
    @cached_property
    def version(self) -> str:
        """First 12 hex digits of the sha256 of the canonical JSON of the rule set and its evidence."""
        content = self.model_dump(mode="json", exclude=_SERVED_NOT_HASHED, by_alias=True)
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def features(self) -> dict[str, dict[str, str | list[str]]]:
        """The features conditions and templates may use: kind, meaning, and a category's values."""
        return {
            name: {"kind": spec.kind, "description": spec.description}
            | ({"choices": list(spec.choices)} if spec.choices else {})
            for name, spec in FEATURES.items()
        }

    @computed_field  # type: ignore[prop-decorator]
    @property
    def methods(self) -> list[str]:
        """The methods rules may name, from the optimizers catalogue."""
        return list(METHODS)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def frameworks(self) -> list[str]:
        """The frameworks whose names and semantics the answers use, from the optimizers catalogue."""
        return list(FRAMEWORKS)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def thresholds(self) -> dict[str, dict[str, float | int | str]]:
        """The numbers rationale templates may quote by name, from their one home below the rules
        (`profiler.thresholds.QUOTED`): value, meaning, and the constant that declares it."""
        return {
            name: {"value": quoted.value, "description": quoted.description, "home": quoted.home}
            for name, quoted in QUOTED.items()
        }


def _rule_id_at(raw: Any, section: object, index: object) -> str | None:
    if isinstance(raw, dict) and isinstance(section, str) and isinstance(index, int):
        items = raw.get(section)
        if isinstance(items, list) and index < len(items) and isinstance(items[index], dict):
            item_id = items[index].get("id")
            return str(item_id) if item_id is not None else f"#{index}"
    return None


def _as_rule_set_error(error: ValidationError, raw: Any) -> RuleSetError:
    first = error.errors()[0]
    original = first.get("ctx", {}).get("error")
    if isinstance(original, RuleSetError):
        return original
    loc = list(first["loc"])
    rule: str | None = None
    if len(loc) >= 2 and loc[0] in ("guardrails", "explanations"):
        rule = _rule_id_at(raw, loc[0], loc[1])
        loc = loc[2:]
    parts: list[str] = []
    for part in loc:
        # Union tags of the condition language sit between a key and its content; drop them.
        if part == "comparison" or (parts and part == parts[-1] and part in _CONDITION_TAGS):
            continue
        parts.append(f"[{part}]" if isinstance(part, int) else str(part))
    field = ".".join(parts).replace(".[", "[") or None
    return RuleSetError(first["msg"], rule=rule, field=field)


def parse_ruleset(raw: Any, evidence: Evidence) -> RuleSet:
    """Validate already-parsed rule data with its evidence; raise RuleSetError naming the rule and field."""
    if not isinstance(raw, dict):
        raise RuleSetError("a rule file must hold a mapping at the top level")
    data = {name: value for name, value in raw.items() if name != "evidence_file"}
    try:
        return RuleSet.model_validate({**data, "evidence": evidence})
    except ValidationError as error:
        raise _as_rule_set_error(error, raw) from None


def _read(path: Path | Traversable, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise RuleSetError(f"cannot read {what} {path}: {error.strerror or error}") from error


def load_ruleset(path: str | os.PathLike[str] | None = None) -> RuleSet:
    """Load and validate a YAML rule file and the evidence file it names (beside it); None loads the
    packaged default.yaml."""
    folder: Path | Traversable = resources.files("optadvisor.rules") if path is None else Path(path).parent
    rule_file = folder.joinpath("default.yaml") if path is None else Path(path)
    text = _read(rule_file, "rule file")
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise RuleSetError(f"rule file {path or 'default.yaml'} is not valid YAML: {error}") from error
    if not isinstance(raw, dict):
        raise RuleSetError(f"rule file {path or 'default.yaml'} must hold a mapping at the top level")
    name = raw.get("evidence_file")
    if not isinstance(name, str) or not name or "/" in name or "\\" in name or name.startswith("."):
        raise RuleSetError("needs the name of an evidence file beside it", field="evidence_file")
    evidence_text = _read(folder.joinpath(name), "evidence file")
    try:
        evidence = Evidence.model_validate_json(evidence_text)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise RuleSetError(f"evidence file {name}: {where}: {first['msg']}", field="evidence_file") from None
    return parse_ruleset(raw, evidence)
