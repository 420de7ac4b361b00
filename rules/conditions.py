"""A small structured condition language over features, evaluated in three-valued logic.

A condition is a comparison `{feature, op, value}` or a combination `{all: [...]}`, `{any: [...]}`,
`{not: ...}`. A comparison on a feature with no value is unknown, and unknown propagates (Kleene logic):
a rule applies only when its condition is definitely true. Nothing here is ever evaluated as code.
"""

import operator
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Discriminator, Field, Tag

from optadvisor.rules.errors import RuleSetError
from optadvisor.rules.features import FEATURES, Features, FeatureSpec, FeatureValue

Operator = Literal["<", "<=", ">", ">=", "==", "!=", "in", "present", "absent"]
Scalar = float | int | str | bool

_ORDER: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_ORDERING = tuple(_ORDER)
_PRESENCE = ("present", "absent")


class Comparison(BaseModel):
    """`feature op value`; `present`/`absent` take no value, `in` takes a list."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    feature: str
    op: Operator
    value: Scalar | list[Scalar] | None = None


class AllOf(BaseModel):
    """True when every part is true."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    all: list["Condition"] = Field(min_length=1)


class AnyOf(BaseModel):
    """True when some part is true."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    any: list["Condition"] = Field(min_length=1)


class NotOf(BaseModel):
    """True when the part is false."""

    model_config = ConfigDict(extra="forbid", frozen=True, serialize_by_alias=True)

    negated: "Condition" = Field(validation_alias=AliasChoices("not", "negated"), serialization_alias="not")


def _condition_tag(raw: Any) -> str:
    if isinstance(raw, dict):
        return next((tag for tag in ("all", "any", "not") if tag in raw), "comparison")
    for model, tag in ((AllOf, "all"), (AnyOf, "any"), (NotOf, "not")):
        if isinstance(raw, model):
            return tag
    return "comparison"


Condition = Annotated[
    Annotated[Comparison, Tag("comparison")]
    | Annotated[AllOf, Tag("all")]
    | Annotated[AnyOf, Tag("any")]
    | Annotated[NotOf, Tag("not")],
    Discriminator(_condition_tag),
]

AllOf.model_rebuild()
AnyOf.model_rebuild()
NotOf.model_rebuild()


def _value_fits(spec: FeatureSpec, value: Scalar) -> bool:
    if spec.kind in ("number", "integer"):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if spec.kind == "boolean":
        return isinstance(value, bool)
    return isinstance(value, str) and value in spec.choices


def check_condition(condition: Condition, rule: str, field: str = "condition") -> None:
    """Raise RuleSetError naming the rule and the field when a condition cannot be evaluated."""
    if isinstance(condition, AllOf | AnyOf):
        parts = condition.all if isinstance(condition, AllOf) else condition.any
        key = "all" if isinstance(condition, AllOf) else "any"
        for index, part in enumerate(parts):
            check_condition(part, rule, f"{field}.{key}[{index}]")
        return
    if isinstance(condition, NotOf):
        check_condition(condition.negated, rule, f"{field}.not")
        return
    _check_comparison(condition, rule, field)


def _comparison_values(condition: Comparison, rule: str, field: str) -> list[Scalar]:
    """The values a comparison's operator takes: a non-empty list for `in`, else exactly one."""
    op, value = condition.op, condition.value
    if op == "in":
        if not isinstance(value, list) or not value:
            raise RuleSetError(f"operator {op!r} needs a non-empty list", rule=rule, field=f"{field}.value")
        return value
    if value is None or isinstance(value, list):
        raise RuleSetError(f"operator {op!r} needs a single value", rule=rule, field=f"{field}.value")
    return [value]


def _check_comparison(condition: Comparison, rule: str, field: str) -> None:
    spec = FEATURES.get(condition.feature)
    if spec is None:
        raise RuleSetError(f"unknown feature {condition.feature!r}", rule=rule, field=f"{field}.feature")
    op = condition.op
    if op in _PRESENCE:
        if condition.value is not None:
            raise RuleSetError(f"operator {op!r} takes no value", rule=rule, field=f"{field}.value")
        return
    if op in _ORDERING and spec.kind not in ("number", "integer"):
        raise RuleSetError(
            f"operator {op!r} needs a numeric feature; {condition.feature!r} is {spec.kind}",
            rule=rule,
            field=f"{field}.op",
        )
    for item in _comparison_values(condition, rule, field):
        if not _value_fits(spec, item):
            allowed = f" (one of {', '.join(spec.choices)})" if spec.choices else ""
            raise RuleSetError(
                f"{item!r} is not a {spec.kind} value for {condition.feature!r}{allowed}",
                rule=rule,
                field=f"{field}.value",
            )


def _compare(op: Operator, actual: FeatureValue, expected: Scalar | list[Scalar] | None) -> bool:
    if op == "in":
        return isinstance(expected, list) and actual in expected
    if op in ("==", "!="):
        return (actual == expected) is (op == "==")
    if not isinstance(actual, int | float) or not isinstance(expected, int | float):
        return False
    return _ORDER[op](actual, expected)


def evaluate(condition: Condition, features: Features) -> bool | None:
    """True, False, or None when the answer depends on a feature that is not known."""
    if isinstance(condition, Comparison):
        actual = features.get(condition.feature)
        if condition.op == "present":
            return actual is not None
        if condition.op == "absent":
            return actual is None
        return None if actual is None else _compare(condition.op, actual, condition.value)
    if isinstance(condition, NotOf):
        inner = evaluate(condition.negated, features)
        return None if inner is None else not inner
    combine_all = isinstance(condition, AllOf)
    parts = condition.all if isinstance(condition, AllOf) else condition.any
    unknown = False
    for part in parts:
        outcome = evaluate(part, features)
        if outcome is None:
            unknown = True
        elif outcome is not combine_all:
            return outcome
    return None if unknown else combine_all


def referenced_features(condition: Condition) -> Iterator[str]:
    """Feature names a condition reads, in order of appearance."""
    if isinstance(condition, Comparison):
        yield condition.feature
    elif isinstance(condition, NotOf):
        yield from referenced_features(condition.negated)
    else:
        for part in condition.all if isinstance(condition, AllOf) else condition.any:
            yield from referenced_features(part)
