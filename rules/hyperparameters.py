"""Hyperparameters from the measurements where there are any, torch's defaults (said as such) otherwise.

- Target step: a run of T steps whose updates point in noisy directions moves a parameter about
  step x sqrt(T); for it to be able to cover `run_travel` parameter RMS, the target step is
  run_travel x parameter RMS / sqrt(training_steps). Short runs therefore get larger steps than long ones.
- Adagrad, RMSprop, Adam/AdamW lr: these methods' steps are about lr in size whatever the gradient scale,
  so lr is the target step. SGD's step is lr·|g|, so its lr also divides by the gradient RMS. The framework
  default is the floor: the parameter RMS measured at capture understates the scale weights must reach when
  they start at or near zero (zero-initialised linear models, embeddings), where a smaller lr only stalls.
- RMSprop alpha: memory 1/(1-alpha) matched to the measured drift timescale, clipped to a sane range.
- Adadelta eps: its first steps sqrt(eps/(1-rho)) are the target step, never smaller than with torch's
  default eps (its steps grow out of that first size only slowly); lr = 1.0, the pure method.
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


def target_step(features: Features, constants: Estimators) -> float | None:
    """run_travel x parameter RMS / sqrt(training_steps), or None without both figures."""
    parameter_rms = features.number("parameter_rms")
    training_steps = features.number("training_steps")
    if parameter_rms is None or parameter_rms <= 0.0 or training_steps is None or training_steps < 1:
        return None
    return constants.run_travel * parameter_rms / math.sqrt(training_steps)


def _learning_rate(method: Method, features: Features, constants: Estimators, estimate: Estimate) -> None:
    step = target_step(features, constants)
    gradient_rms = features.number("gradient_rms")
    if step is None:
        estimate.default(method, "lr", "no parameter scale measured or no training length known")
        return
    default = float(estimate.settings["lr"])
    evidence: dict[str, float | None] = {
        "parameter_rms": features.number("parameter_rms"),
        "training_steps": features.number("training_steps"),
        "target_step": step,
    }
    if method in _LR_BY_STEP_SIZE:
        raw, how = step, f"{method}'s steps are about lr in size whatever the gradient scale"
    elif method == "sgd" and gradient_rms is not None and gradient_rms > 0.0:
        raw, how = step / gradient_rms, f"an SGD step is lr·|g|, with gradient RMS {gradient_rms:.3g}"
        evidence["gradient_rms"] = gradient_rms
    else:
        estimate.default(method, "lr", "no gradient scale measured")
        return
    ceiling = default * constants.lr_ceiling_over_default
    lr = significant(min(max(raw, default), ceiling))
    bound = ""
    if raw < default:
        bound = f"; raised to the framework default {default:g}, the floor"
    elif raw > ceiling:
        bound = f"; capped at {constants.lr_ceiling_over_default:g}x the framework default"
    estimate.choose(
        "lr",
        lr,
        f"lr={lr:g}: {how}, and a run of {features.number('training_steps'):.0f} steps can cover the "
        f"measured parameter RMS {features.number('parameter_rms'):.3g} with steps of {step:.3g}{bound}",
        evidence,
    )


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
    default_eps = float(estimate.settings["eps"])
    default_first_step = math.sqrt(default_eps / (1.0 - rho))
    step = target_step(features, constants)
    if step is None:
        estimate.default(
            "adadelta",
            "eps",
            f"no parameter scale measured or no training length known; first steps ~{default_first_step:.2g}",
        )
        return
    eps = significant(max((1.0 - rho) * step**2, default_eps))
    first_step = math.sqrt(eps / (1.0 - rho))
    text = f"eps={eps:.3g}: Adadelta's first steps sqrt(eps/(1-rho)) = {first_step:.3g}"
    if eps > default_eps:
        text += f" match the target step {step:.3g} for this run's length and parameter scale"
    else:
        text += (
            f": the target step {step:.3g} is smaller than the first step torch's default eps gives, and "
            "Adadelta's steps grow out of their first size only slowly, so the default stays"
        )
    gradient_rms = features.number("gradient_rms")
    if gradient_rms is not None and gradient_rms < first_step:
        # Until E[g²] outgrows eps/(1-rho) the update is about g itself, not sqrt(eps/(1-rho)).
        text += (
            f"; the measured gradient RMS {gradient_rms:.2g} is smaller than that step, so the first "
            "updates are about the gradient itself"
        )
    estimate.choose(
        "eps",
        eps,
        text,
        {"parameter_rms": features.number("parameter_rms"), "target_step": step, "rho": rho},
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
