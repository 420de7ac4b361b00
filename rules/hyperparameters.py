"""Hyperparameters from the measurements where there are any, torch's defaults (said as such) otherwise.

- Target step: a run of T steps whose updates point in noisy directions moves a parameter about
  step x sqrt(T); for it to be able to cover `run_travel` parameter RMS, the target step is
  run_travel x parameter RMS / sqrt(training_steps). Short runs therefore get larger steps than long ones.
  The parameter RMS is the typical one, of the tensor holding the median parameter: one global lr moves
  every tensor by about the same amount per step, so an RMS pooled over all parameters would let a few
  large-scale tensors (N(0, 1) embedding tables) set steps that are large for all the others.
- lr = target step / (the method's RMS step per unit lr over the run), each from its update rule with
  gradients of mean mu and spread sigma per coordinate (rho = mu / sigma, measured):
  Adam/AdamW sqrt((rho² + (1-b1)/(1+b1)) / (1 + rho²)) (momentum averages noise away, bias correction
  keeps early steps in scale); RMSprop the run's mean of 1/sqrt(1 - alpha^t) (no bias correction: its
  second moment starts at zero, so early steps are larger), up to sqrt(1 + rho²) times more when centered
  (it divides by sigma, not the RMS); Adagrad sqrt(H_T / T) (steps shrink like 1/sqrt(t), H_T the
  harmonic number); Adadelta with torch's eps: its step grows from sqrt(eps) as E[dx²] fills, and levels
  off where the damping of large gradients balances the growth (`rules.step_sizes`); SGD the gradient
  RMS.
  tests/rules/test_step_size_estimates.py replays gradients through the optimizers to check each model.
  The framework default is the floor: the parameter RMS measured at capture understates the scale weights
  must reach when they start at or near zero (zero-initialised linear models, embeddings), where a
  smaller lr only stalls. A rule may raise the floor for its regime (`lr_floors`) to a published
  operating point; unlike the default it is a centre, searched in both directions.
- RMSprop alpha: memory 1/(1-alpha) matched to the measured drift timescale, clipped to a sane range.
- Adam/AdamW beta1: momentum is an EMA of past gradients, so when the measured direction drifts, part of
  what it adds is where the gradient was; beta1 is lowered from torch's 0.9 until the EMA keeps
  `momentum_signal_kept` of a direction drifting over the measured timescale (never below
  `adam_beta1_lowest`). It is set before the lr, whose step-per-lr model depends on it.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from optadvisor.rules.canonical import Setting, torch_defaults
from optadvisor.rules.features import Features
from optadvisor.rules.recommendation import RationaleItem
from optadvisor.rules.request import Method
from optadvisor.rules.ruleset import Estimators
from optadvisor.rules.step_sizes import (
    adadelta_step_rms,
    adagrad_step_rms,
    adam_step_per_lr,
    rmsprop_step_rms,
    target_step,
)


def significant(value: float, digits: int = 3) -> float:
    """`value` rounded to `digits` significant digits, so configs read like hand-written ones."""
    return float(f"{value:.{digits}g}")


@dataclass(frozen=True)
class LrFloor:
    """A learning-rate floor a fired rule sets for one method."""

    lr: float
    rule: str


@dataclass
class Estimate:
    """Chosen torch-form hyperparameters, the reasons for them, and what was defaulted."""

    settings: dict[str, Setting]
    reasons: list[RationaleItem] = field(default_factory=list)
    defaulted: list[str] = field(default_factory=list)
    lr_is_floor: bool = False  # the measurements asked for less than the floor: the lr is a lower bound

    def choose(self, name: str, value: Setting, text: str, evidence: Mapping[str, float | None]) -> None:
        self.settings[name] = value
        self.reasons.append(RationaleItem(rule=f"estimate.{name}", text=text, evidence=dict(evidence)))

    def default(self, method: Method, name: str, why: str) -> None:
        value = self.settings[name]
        self.defaulted.append(f"{method} {name}={value:g}: torch default ({why})")


def run_target_step(features: Features, run_travel: float) -> float | None:
    """The target step for the typical parameter RMS and the planned run, or None without both."""
    parameter_rms = features.number("typical_parameter_rms")
    training_steps = features.number("training_steps")
    if parameter_rms is None or parameter_rms <= 0.0 or training_steps is None or training_steps < 1:
        return None
    return target_step(parameter_rms, training_steps, run_travel)


def _step_per_lr(
    method: Method, settings: Mapping[str, Setting], features: Features, steps: int
) -> tuple[float, str] | None:
    """RMS step per unit lr over a run of `steps`, and how it follows from the update; None when unknown."""
    rho = features.number("mean_to_spread_ratio")
    signal = rho if rho is not None else 0.0
    signal_text = f"mean/spread {rho:.2g}" if rho is not None else "noise-dominated gradients assumed"
    if method in ("adam", "adamw"):
        size = adam_step_per_lr(float(settings["beta1"]), signal)
        return size, f"Adam's steps are {size:.2g} x lr ({signal_text}: momentum averages the noise away)"
    if method == "rmsprop":
        centered = bool(settings["centered"])
        size = rmsprop_step_rms(float(settings["alpha"]), steps, signal if centered else None)
        kind = f"centered ({signal_text}; it divides by the spread, not the RMS)" if centered else "plain"
        return size, f"torch's RMSprop steps, {kind}, average {size:.2g} x lr over {steps} steps"
    if method == "adagrad":
        size = adagrad_step_rms(steps)
        return size, (
            f"Adagrad's steps shrink like lr/sqrt(t): over {steps} steps they walk as far as steps of "
            f"{size:.2g} x lr"
        )
    if method == "adadelta":
        eps, decay = float(settings["eps"]), float(settings["rho"])
        size = adadelta_step_rms(eps, decay, signal, steps)
        return size, (
            f"Adadelta's steps (lr=1, eps={eps:g}) grow from sqrt(eps) as its E[dx²] fills, averaging "
            f"{size:.2g} over {steps} steps"
        )
    gradient_rms = features.number("gradient_rms")
    if gradient_rms is None or gradient_rms <= 0.0:
        return None
    return gradient_rms, f"an SGD step is lr·|g|, with gradient RMS {gradient_rms:.3g}"


def _floor_or_default(method: Method, estimate: Estimate, floor: LrFloor | None, why: str) -> None:
    if floor is None or floor.lr <= float(estimate.settings["lr"]):
        estimate.default(method, "lr", why)
        return
    estimate.choose(
        "lr",
        floor.lr,
        f"lr={floor.lr:g}: the floor rule {floor.rule} sets for this regime ({why})",
        {"lr_floor": floor.lr},
    )


def _learning_rate(
    method: Method, features: Features, constants: Estimators, estimate: Estimate, floor: LrFloor | None
) -> None:
    step = run_target_step(features, constants.run_travel)
    if step is None:
        _floor_or_default(method, estimate, floor, "no parameter scale measured or no training length known")
        return
    steps = int(features.values["training_steps"])
    per_lr = _step_per_lr(method, estimate.settings, features, steps)
    if per_lr is None:
        _floor_or_default(method, estimate, floor, "no gradient scale measured")
        return
    size, how = per_lr
    default = float(estimate.settings["lr"])
    lowest = default if floor is None else max(default, floor.lr)
    raw = step / size
    ceiling = default * constants.lr_ceiling_over_default
    lr = significant(min(max(raw, lowest), ceiling))
    bound = ""
    if raw < lowest and floor is not None and lowest > default:
        bound = f"; raised to {lowest:g}, the floor rule {floor.rule} sets for this regime"
    elif raw < lowest:
        bound = f"; raised to the framework default {default:g}, the floor, above which a plan searches"
        estimate.lr_is_floor = True
    elif raw > ceiling:
        bound = f"; capped at {constants.lr_ceiling_over_default:g}x the framework default"
    estimate.choose(
        "lr",
        lr,
        f"lr={lr:g}: a run of {steps} steps can cover the typical parameter RMS "
        f"{features.number('typical_parameter_rms'):.3g} (that of the tensor holding the median parameter) "
        f"with steps of {step:.3g}, and {how}{bound}",
        {
            "typical_parameter_rms": features.number("typical_parameter_rms"),
            "training_steps": steps,
            "target_step": step,
            "step_per_lr": size,
            "mean_to_spread_ratio": features.number("mean_to_spread_ratio"),
        },
    )


def _rmsprop_alpha(features: Features, constants: Estimators, estimate: Estimate) -> None:
    matched = features.number("rmsprop_matched_alpha")
    drift = features.number("drift_timescale_steps")
    if matched is None:
        estimate.default("rmsprop", "alpha", _no_drift(features))
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


def momentum_signal_kept(beta1: float, drift_timescale: float) -> float:
    """Share of a drifting gradient's direction that an EMA with decay `beta1` keeps.

    The profiler's drift timescale is twice the lag at which windows' similarity falls to 1/e, so the
    direction `k` steps back is correlated exp(-2k / timescale) with today's; the EMA weighs it by
    (1 - beta1) beta1^k, and the sum is (1 - beta1) / (1 - beta1 exp(-2 / timescale)).
    """
    return (1.0 - beta1) / (1.0 - beta1 * math.exp(-2.0 / drift_timescale))


def _beta1_keeping(kept: float, drift_timescale: float) -> float:
    """The beta1 whose EMA keeps exactly `kept` of the signal (`momentum_signal_kept` solved for beta1)."""
    return (1.0 - kept) / (1.0 - kept * math.exp(-2.0 / drift_timescale))


def _adam_beta1(method: Method, features: Features, constants: Estimators, estimate: Estimate) -> None:
    drift = features.number("drift_timescale_steps")
    default = float(estimate.settings["beta1"])
    if drift is None:
        estimate.default(method, "beta1", _no_drift(features))
        return
    at_default = momentum_signal_kept(default, drift)
    wanted = _beta1_keeping(constants.momentum_signal_kept, drift)
    if wanted >= default:
        estimate.default(
            method, "beta1", f"it keeps {at_default:.0%} of a direction drifting over {drift:.0f} steps"
        )
        return
    lowest = constants.adam_beta1_lowest
    beta1 = significant(max(wanted, lowest), 2)
    estimate.choose(
        "beta1",
        beta1,
        f"beta1={beta1:g}: the measured gradient direction drifts over {drift:.0f} steps; momentum at "
        f"{beta1:g} keeps {momentum_signal_kept(beta1, drift):.0%} of it, at torch's {default:g} (an average "
        f"lagging {default / (1.0 - default):.0f} steps behind) {at_default:.0%}"
        + ("" if wanted >= lowest else f"; raised to the lowest beta1, {lowest:g}"),
        {"drift_timescale_steps": drift, "momentum_signal_kept": momentum_signal_kept(beta1, drift)},
    )


def _no_drift(features: Features) -> str:
    return "the measured stream shows no drift" if features.origins.get("steps") else "no drift measured"


def estimate_hyperparameters(
    method: Method,
    features: Features,
    constants: Estimators,
    fixed: dict[str, Setting],
    floor: LrFloor | None = None,
) -> Estimate:
    """Torch-form hyperparameters for `method`; `fixed` (from rules' settings) is kept as it is, and an
    estimated lr is never below `floor` (from rules' lr_floors)."""
    estimate = Estimate(settings={**torch_defaults(method), **fixed})
    if method == "rmsprop" and "alpha" not in fixed:
        _rmsprop_alpha(features, constants, estimate)
    if method in ("adam", "adamw") and "beta1" not in fixed:
        _adam_beta1(method, features, constants, estimate)
    if "lr" not in fixed:
        _learning_rate(method, features, constants, estimate, floor)
    return estimate
