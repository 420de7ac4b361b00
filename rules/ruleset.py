"""The rule set as a validated model, and its loader.

A rule file holds priors (each method's score before any rule applies), the tie-break order, the
constants the hyperparameter estimates use, and the rules. `RuleSet.version` is a short content hash.
"""

import hashlib
import json
import os
from functools import cached_property
from importlib import resources
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, computed_field, model_validator

from optadvisor.rules.canonical import check_setting, torch_defaults
from optadvisor.rules.conditions import Condition, check_condition
from optadvisor.rules.errors import RuleSetError
from optadvisor.rules.features import FEATURES
from optadvisor.rules.request import METHODS
from optadvisor.rules.templates import check_template

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
_CONDITION_TAGS = {"comparison", "all", "any", "not"}


def _unknown_methods(names: list[str], rule: str | None, field: str) -> None:
    for name in names:
        if name not in METHODS:
            raise RuleSetError(
                f"unknown method (known: {', '.join(METHODS)})", rule=rule, field=f"{field}.{name}"
            )


class Rule(BaseModel):
    """A condition, its effect on each method's score, a rationale template and where it comes from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]*$", max_length=64, description="Stable rule identifier.")
    condition: Condition = Field(description="When the rule applies (all / any / not of comparisons).")
    effects: dict[str, FiniteFloat] = Field(
        default_factory=dict, description="Score added to each named method when the rule applies."
    )
    settings: dict[str, dict[str, float | bool]] = Field(
        default_factory=dict,
        description="Hyperparameters (torch names) the rule fixes for a method when it applies.",
    )
    lr_floors: dict[str, FiniteFloat] = Field(
        default_factory=dict,
        description="Smallest learning rate (torch form) a method's estimate may take when the rule applies: "
        "a published operating point for a regime whose measurements cannot set the scale. A measured "
        "estimate above it is kept.",
    )
    rationale: str = Field(max_length=500, description="Sentence with {feature:spec} placeholders.")
    source: str = Field(min_length=1, max_length=1000, description="Where the guidance comes from.")

    @model_validator(mode="after")
    def _check(self) -> "Rule":
        check_condition(self.condition, self.id)
        _unknown_methods(list(self.effects), self.id, "effects")
        _unknown_methods(list(self.settings), self.id, "settings")
        _unknown_methods(list(self.lr_floors), self.id, "lr_floors")
        for method, floor in self.lr_floors.items():
            problem = check_setting(method, "lr", floor)  # type: ignore[arg-type]
            if problem is not None or floor <= 0.0:
                why = problem or f"{floor!r} is not positive"
                raise RuleSetError(why, rule=self.id, field=f"lr_floors.{method}")
        for method, values in self.settings.items():
            for name, value in values.items():
                problem = check_setting(method, name, value)  # type: ignore[arg-type]
                if problem is not None:
                    raise RuleSetError(problem, rule=self.id, field=f"settings.{method}.{name}")
        check_template(self.rationale, self.id)
        return self


class SecondHyperparameter(BaseModel):
    """The hyperparameter a tuning plan varies after the learning rate, and the values it tries."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    values: list[float | bool] = Field(min_length=1, max_length=4)


class Estimators(BaseModel):
    """Constants behind the hyperparameter estimates and the tuning plan."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str = Field(
        min_length=1, description="Where the constants come from, and which results changed them and why."
    )
    assumed_tuning_budget: int = Field(ge=1, description="Budget assumed when none is declared.")
    assumed_gradient_rms: FiniteFloat = Field(
        gt=0, description="Gradient scale the equivalence notes assume when none is measured."
    )
    dense_adagrad_dying_step: FiniteFloat = Field(
        gt=0, description="Step at which Adagrad's rate is down to 1% on dense stationary gradients."
    )
    run_travel: FiniteFloat = Field(
        gt=0,
        le=100,
        description="Distance, in parameter RMS, that a run's steps should be able to cover as a random "
        "walk: the target step is run_travel x parameter RMS / sqrt(training_steps). Sets lr when measured, "
        "and Adadelta's first step (eps).",
    )
    lr_ceiling_over_default: FiniteFloat = Field(
        ge=1, description="Largest estimated lr, as a multiple of the framework's default lr."
    )
    rmsprop_alpha_range: tuple[FiniteFloat, FiniteFloat] = Field(
        description="Range the drift-matched RMSprop alpha is clipped to."
    )
    momentum_signal_kept: FiniteFloat = Field(
        gt=0,
        lt=1,
        description="Share of a drifting gradient direction Adam's momentum must keep: beta1 is lowered from "
        "the default until its EMA keeps this much of a direction drifting over the measured timescale.",
    )
    adam_beta1_lowest: FiniteFloat = Field(
        ge=0, lt=1, description="Lowest beta1 the drift-matched estimate may set for Adam and AdamW."
    )
    lr_sweep_decades: list[Annotated[FiniteFloat, Field(gt=0, le=2)]] = Field(
        max_length=6,
        description="Distances of each planned method's coarse lr sweep from its estimate, in decades, in "
        "the order a plan spends its runs on them; each is tried below, then above the estimate.",
    )
    lr_fill_decades: list[Annotated[FiniteFloat, Field(gt=0, le=2)]] = Field(
        default_factory=list,
        max_length=6,
        description="Distances of the recommendation's fine lr sweep, tried once every planned method has "
        "had its coarse sweep.",
    )
    plan_methods: int = Field(
        default=3,
        ge=1,
        le=6,
        description="Most methods a tuning plan tries: the recommendation, then the best-ranked others whose "
        "runs would not repeat one already planned.",
    )
    negligible_decay_over_run: FiniteFloat = Field(
        gt=0,
        lt=1,
        description="AdamW's lr x weight_decay x training_steps below which its run repeats Adam's, so a "
        "plan takes the next method as its alternative instead.",
    )
    equivalence_tolerance: FiniteFloat = Field(
        gt=0, description="Largest relative first-step difference still called equivalent."
    )
    second_hyperparameter: dict[str, SecondHyperparameter] = Field(
        description="Per method: the hyperparameter a plan varies after lr."
    )

    @model_validator(mode="after")
    def _check(self) -> "Estimators":
        low, high = self.rmsprop_alpha_range
        if not 0.0 < low <= high < 1.0:
            raise RuleSetError("needs 0 < low <= high < 1", field="estimators.rmsprop_alpha_range")
        _unknown_methods(list(self.second_hyperparameter), None, "estimators.second_hyperparameter")
        for method, second in self.second_hyperparameter.items():
            for value in second.values:
                problem = check_setting(method, second.name, value)  # type: ignore[arg-type]
                if problem is not None:
                    raise RuleSetError(problem, field=f"estimators.second_hyperparameter.{method}")
        return self


class TieBreak(BaseModel):
    """Order that decides between equal scores, and why."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    order: list[str]
    source: str = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> "TieBreak":
        _unknown_methods(self.order, None, "tie_break.order")
        if sorted(self.order) != sorted(METHODS):
            raise RuleSetError(f"must list each of {', '.join(METHODS)} once", field="tie_break.order")
        return self


class RuleSet(BaseModel):
    """Priors, tie-break, estimator constants and rules; `version` is a hash of all of them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = Field(default="", max_length=2000)
    priors: dict[str, FiniteFloat] = Field(description="Each method's score before any rule applies.")
    tie_break: TieBreak
    estimators: Estimators
    rules: list[Rule]

    @model_validator(mode="after")
    def _check(self) -> "RuleSet":
        _unknown_methods(list(self.priors), None, "priors")
        missing = [method for method in METHODS if method not in self.priors]
        if missing:
            raise RuleSetError(f"missing methods: {', '.join(missing)}", field="priors")
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise RuleSetError("duplicate id", rule=rule.id, field="id")
            seen.add(rule.id)
            for method, floor in rule.lr_floors.items():
                ceiling = float(torch_defaults(method)["lr"]) * self.estimators.lr_ceiling_over_default
                if floor > ceiling:
                    raise RuleSetError(
                        f"{floor!r} is above the estimates' ceiling {ceiling:g} (lr_ceiling_over_default)",
                        rule=rule.id,
                        field=f"lr_floors.{method}",
                    )
        return self

    @computed_field  # type: ignore[prop-decorator]
    @cached_property
    def version(self) -> str:
        """First 12 hex digits of the sha256 of the canonical JSON of the rule set."""
        content = self.model_dump(mode="json", exclude={"version", "features"}, by_alias=True)
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


def _rule_id_at(raw: Any, index: object) -> str | None:
    if isinstance(raw, dict) and isinstance(index, int):
        rules = raw.get("rules")
        if isinstance(rules, list) and index < len(rules) and isinstance(rules[index], dict):
            rule_id = rules[index].get("id")
            return str(rule_id) if rule_id is not None else f"#{index}"
    return None


def _as_rule_set_error(error: ValidationError, raw: Any) -> RuleSetError:
    first = error.errors()[0]
    original = first.get("ctx", {}).get("error")
    if isinstance(original, RuleSetError):
        return original
    loc = list(first["loc"])
    rule: str | None = None
    if len(loc) >= 2 and loc[0] == "rules":
        rule = _rule_id_at(raw, loc[1])
        loc = loc[2:]
    parts: list[str] = []
    for part in loc:
        # Union tags of the condition language sit between a key and its content; drop them.
        if part == "comparison" or (parts and part == parts[-1] and part in _CONDITION_TAGS):
            continue
        parts.append(f"[{part}]" if isinstance(part, int) else str(part))
    field = ".".join(parts).replace(".[", "[") or None
    return RuleSetError(first["msg"], rule=rule, field=field)


def parse_ruleset(raw: Any) -> RuleSet:
    """Validate already-parsed rule data; raise RuleSetError naming the rule and field."""
    if not isinstance(raw, dict):
        raise RuleSetError("a rule file must hold a mapping at the top level")
    try:
        return RuleSet.model_validate(raw)
    except ValidationError as error:
        raise _as_rule_set_error(error, raw) from None


def load_ruleset(path: str | os.PathLike[str] | None = None) -> RuleSet:
    """Load and validate a YAML rule file; None loads the packaged default.yaml."""
    try:
        if path is None:
            text = resources.files("optadvisor.rules").joinpath("default.yaml").read_text(encoding="utf-8")
        else:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
    except OSError as error:
        raise RuleSetError(f"cannot read rule file {path}: {error.strerror or error}") from error
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise RuleSetError(f"rule file {path or 'default.yaml'} is not valid YAML: {error}") from error
    return parse_ruleset(raw)
