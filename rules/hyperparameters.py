"""Hyperparameters from the measurements where there are any, torch's defaults (said as such) otherwise.

- Adagrad, RMSprop, Adam/AdamW lr: a typical step is `target_step_fraction` of the parameter RMS.
  These methods' steps are about lr in size whatever the gradient scale (Adagrad's first step on a
  coordinate is exactly lr·g/|g| with the accumulator starting at 0). SGD's step is lr·|g|, so its lr
  also divides by the gradient RMS.
- RMSprop alpha: memory 1/(1-alpha) matched to the measured drift timescale, clipped to a sane range.
- Adadelta eps: first steps sqrt(eps/(1-rho)) are `adadelta_first_step_fraction` of the parameter RMS;
  lr = 1.0, the pure method.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from rules.canonical import Setting, torch_defaults
from rules.features import Features
from rules.recommendation import RationaleItem
from rules.request import Method
from rules.ruleset import Estimators

_LR_BY_STEP_SIZE = ("adagrad", "rmsprop", "adam", "adamw")


def significant(value: float, digits: int = 3) -> float:
    """`value` rounded to `digits` significant digits, so configs read like hand-written ones."""
    return float(f"{value:.{digits}g}")


@dataclass
class Estimate:
    """Chosen torch-form hyperparameters, the reasons for them, and what was defaulted."""

    settings: dict[str, Setting]
    reasons: list[RationaleItem] = field(default_factory=list)
    defaulted: list[str] = field(default_factory=list)

    def choose(self, name: str, value: Setting, text: str, evidence: Mapping[str, float | None]) -> None:
        self.settings[name] = value
        self.reasons.append(RationaleItem(rule=f"estimate.{name}", text=text, evidence=dict(evidence)))

    def default(self, method: Method, name: str, why: str) -> None:
        value = self.settings[name]
        self.defaulted.append(f"{method} {name}={value:g}: torch default ({why})")


def _learning_rate(method: Method, features: Features, constants: Estimators, estimate: Estimate) -> None:
    parameter_rms = features.number("parameter_rms")
    gradient_rms = features.number("gradient_rms")
    fraction = constants.target_step_fraction
    if parameter_rms is None or parameter_rms <= 0.0:
        estimate.default(method, "lr", "no parameter scale measured")
        return
    evidence: dict[str, float | None] = {"parameter_rms": parameter_rms, "target_step_fraction": fraction}
    if method in _LR_BY_STEP_SIZE:
        lr = significant(fraction * parameter_rms)
        estimate.choose(
            "lr",
            lr,
            f"lr={lr:g}: {method}'s steps are about lr in size whatever the gradient scale, so lr is "
            f"{fraction:.0%} of the measured parameter RMS {parameter_rms:.3g}",
            evidence,
        )
    elif method == "sgd" and gradient_rms is not None and gradient_rms > 0.0:
        lr = significant(fraction * parameter_rms / gradient_rms)
        estimate.choose(
            "lr",
            lr,
            f"lr={lr:g}: an SGD step is lr·|g|, so lr = {fraction:.0%} of the parameter RMS "
            f"{parameter_rms:.3g} / gradient RMS {gradient_rms:.3g}",
            {**evidence, "gradient_rms": gradient_rms},
        )
    elif method == "sgd":
        estimate.default(method, "lr", "no gradient scale measured")


def _rmsprop_alpha(features: Features, constants: Estimators, estimate: Estimate) -> None:
    matched = features.number("rmsprop_matched_alpha")
    drift = features.number("drift_timescale_steps")
    if matched is None:
        reason = (
            "the measured stream shows no drift" if features.origins.get("steps") else "no drift measured"
        )
        estimate.default("rmsprop", "alpha", reason)
        return
    low, high = constants.rmsprop_alpha_range
    alpha = significant(min(max(matched, low), high), 4)
    clipped = (
        "" if low <= matched <= high else f" (drift-matched {matched:.4g} clipped to [{low:g}, {high:g}])"
    )
    half_life = math.log(0.5) / math.log(alpha)
    estimate.choose(
        "alpha",
        alpha,
        f"alpha={alpha:g}: memory 1/(1-alpha) = {1.0 / (1.0 - alpha):.0f} steps fits the measured drift "
        f"timescale of {drift or 0.0:.0f} steps (half-life {half_life:.0f} steps){clipped}",
        {"drift_timescale_steps": drift, "rmsprop_matched_alpha": matched},
    )


def _adadelta_eps(features: Features, constants: Estimators, estimate: Estimate) -> None:
    rho = float(estimate.settings["rho"])
    parameter_rms = features.number("parameter_rms")
    default_first_step = math.sqrt(float(estimate.settings["eps"]) / (1.0 - rho))
    if parameter_rms is None or parameter_rms <= 0.0:
        estimate.default(
            "adadelta", "eps", f"no parameter scale measured; first steps ~{default_first_step:.2g}"
        )
        return
    fraction = constants.adadelta_first_step_fraction
    eps = significant((1.0 - rho) * (fraction * parameter_rms) ** 2)
    first_step = math.sqrt(eps / (1.0 - rho))
    text = (
        f"eps={eps:.3g}: Adadelta's first steps sqrt(eps/(1-rho)) = {first_step:.3g} are {fraction:.1%} of "
        f"the measured parameter RMS {parameter_rms:.3g} (torch's default eps would take first steps of "
        f"{default_first_step:.2g})"
    )
    gradient_rms = features.number("gradient_rms")
    if gradient_rms is not None and gradient_rms < first_step:
        # Until E[g²] outgrows eps/(1-rho) the update is about g itself, not sqrt(eps/(1-rho)).
        text += (
            f"; but the measured gradient RMS {gradient_rms:.2g} is smaller than that step, so the first "
            "updates are about the gradient itself"
        )
    estimate.choose(
        "eps",
        eps,
        text,
        {"parameter_rms": parameter_rms, "adadelta_first_step_fraction": fraction, "rho": rho},
    )


def estimate_hyperparameters(
    method: Method, features: Features, constants: Estimators, fixed: dict[str, Setting]
) -> Estimate:
    """Torch-form hyperparameters for `method`; `fixed` (from rules' settings) overrides estimates."""
    estimate = Estimate(settings=dict(torch_defaults(method)))
    if method == "adadelta":
        estimate.reasons.append(
            RationaleItem(
                rule="estimate.lr",
                text="lr=1.0: the pure Adadelta update, with nothing to tune; stated explicitly in every "
                "framework (Keras defaults to 0.001, Optax's learning_rate=None ascends)",
                evidence={},
            )
        )
        _adadelta_eps(features, constants, estimate)
    else:
        _learning_rate(method, features, constants, estimate)
    if method == "rmsprop":
        _rmsprop_alpha(features, constants, estimate)
    estimate.settings.update(fixed)
    return estimate
