"""Rationale templates: text with `{feature}` or `{feature:spec}` placeholders, checked at load time.

A placeholder names a feature or one of the thresholds the profiler and the catalogue declare
(`profiler.thresholds.QUOTED`, e.g. `{rare_below:.0%}`), so a rule's text never restates such a number.

Only bare feature names are allowed (no attribute or index access, no conversions), and format specs are
limited to a short fill/align/sign/width/precision/type form, so an operator's rule file cannot reach
into objects or ask for megabytes of padding.
"""

import re
from collections.abc import Mapping
from string import Formatter

from optadvisor.profiler.thresholds import QUOTED
from optadvisor.rules.errors import RuleSetError
from optadvisor.rules.features import FEATURES, FeatureValue

_SPEC = re.compile(r"[<>=^]?[+\- ]?#?0?\d{0,2}[,_]?(?:\.\d{1,2})?[eEfFgGd%s]?")
_SAMPLES: dict[str, FeatureValue] = {"number": 0.5, "integer": 3, "category": "rnn", "boolean": True}
_FORMATTER = Formatter()
MISSING = "n/a"
_THRESHOLDS: dict[str, FeatureValue] = {name: quoted.value for name, quoted in QUOTED.items()}


def placeholders(template: str) -> list[tuple[str, str]]:
    """(feature, format spec) pairs, in order; raises ValueError on malformed braces."""
    return [(name, spec or "") for _, name, spec, _ in _FORMATTER.parse(template) if name is not None]


def check_template(template: str, rule: str, field: str = "rationale") -> None:
    """Raise RuleSetError naming the rule and field if a placeholder is unknown, unsafe or mis-typed."""
    try:
        parsed = list(_FORMATTER.parse(template))
    except ValueError as error:
        raise RuleSetError(f"malformed template: {error}", rule=rule, field=field) from error
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if conversion is not None:
            raise RuleSetError(f"placeholder {{{name}}}: conversions are not allowed", rule=rule, field=field)
        if name in QUOTED and name not in FEATURES:
            kind = "integer" if isinstance(QUOTED[name].value, int) else "number"
        elif name in FEATURES:
            kind = FEATURES[name].kind
        else:
            raise RuleSetError(f"placeholder {{{name}}}: unknown feature", rule=rule, field=field)
        if not _SPEC.fullmatch(spec or ""):
            raise RuleSetError(
                f"placeholder {{{name}:{spec}}}: format spec not allowed", rule=rule, field=field
            )
        try:
            format(_SAMPLES[kind], spec or "")
        except ValueError as error:
            raise RuleSetError(
                f"placeholder {{{name}:{spec}}}: {error} ({kind} feature)",
                rule=rule,
                field=field,
            ) from error


def render(template: str, values: Mapping[str, FeatureValue | None]) -> str:
    """Fill a checked template from feature `values` and the quoted thresholds; an unknown value reads as
    "n/a"."""
    pieces: list[str] = []
    for literal, name, spec, _ in _FORMATTER.parse(template):
        pieces.append(literal)
        if name is not None:
            value = values.get(name, _THRESHOLDS.get(name))
            pieces.append(MISSING if value is None else format(value, spec or ""))
    return "".join(pieces)
