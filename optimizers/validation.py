"""Constructor checks with torch.optim-style messages that name the offending value."""

from __future__ import annotations

import math


def check_non_negative(label: str, value: float) -> None:
    """``ValueError("Invalid <label>: <value>")`` unless ``value`` is a finite number ≥ 0."""
    if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
        raise ValueError(f"Invalid {label}: {value}")


def check_unit_interval(label: str, value: float, *, include_one: bool) -> None:
    """``ValueError`` unless ``0 ≤ value < 1`` (or ``≤ 1`` when ``include_one``)."""
    check_non_negative(label, value)
    if value > 1 or (value == 1 and not include_one):
        raise ValueError(f"Invalid {label}: {value}")
