"""The features rule conditions and rationale templates may refer to, and how a profile fills them.

Measured figures take precedence over declared ones. Every value records where it came from, so a
rationale can say whether a number was measured, declared, estimated or assumed.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from optadvisor.profiler.figures import Figures
from optadvisor.rules.canonical import torch_defaults
from optadvisor.rules.request import DeclaredProfile
from optadvisor.rules.step_sizes import adadelta_step_rms, target_step

FeatureKind = Literal["number", "integer", "category", "boolean"]
Origin = Literal["declared", "measured", "estimated", "assumed"]
FeatureValue = float | int | str | bool


@dataclass(frozen=True)
class FeatureSpec:
    """One feature: its kind, what it means, and the values a category may take."""

    kind: FeatureKind
    description: str
    choices: tuple[str, ...] = ()


_MEASURED_ONLY: dict[str, FeatureSpec] = {
    "steps": FeatureSpec("integer", "Steps in the measured gradient sample."),
    "rare_coordinate_fraction": FeatureSpec(
        "number", "Fraction of coordinates nonzero in fewer than 1% of steps (measured)."
    ),
    "drift_timescale_steps": FeatureSpec(
        "number", "Steps over which the gradient stream changes (measured)."
    ),
    "scale_spread_decades": FeatureSpec(
        "number", "Decades between the 10th and 90th percentile of per-coordinate gradient RMS (measured)."
    ),
    "gsnr_median": FeatureSpec("number", "Median gradient signal-to-noise ratio (measured)."),
    "gradient_rms": FeatureSpec("number", "Root mean square of all gradient entries (measured)."),
    "mean_to_spread_ratio": FeatureSpec(
        "number", "Median |mean| / standard deviation of the gradient over steps (measured)."
    ),
    "parameter_rms": FeatureSpec("number", "Root mean square of the parameter values (measured)."),
    "typical_parameter_rms": FeatureSpec(
        "number",
        "Parameter RMS of the tensor holding the median parameter (measured): the scale lr estimates aim at.",
    ),
    "adagrad_rate_ratio_at_training_steps": FeatureSpec(
        "number", "Adagrad's projected effective rate at training_steps relative to its first (measured)."
    ),
    "rmsprop_matched_alpha": FeatureSpec(
        "number", "RMSprop alpha whose memory matches the measured drift timescale."
    ),
    "adadelta_first_step_to_parameter_rms": FeatureSpec(
        "number", "Adadelta's first-step size at the profiled eps, relative to parameter RMS (measured)."
    ),
}

FEATURES: Mapping[str, FeatureSpec] = {
    "sparsity": FeatureSpec("number", "Fraction of zero gradient entries: measured, else declared."),
    "nonstationarity": FeatureSpec(
        "number",
        "Non-stationarity in [0, 1]: measured, else declared (stationary = 0, non_stationary = 1).",
    ),
    "tuning_budget": FeatureSpec("integer", "Training runs affordable for tuning: declared, else assumed."),
    "training_steps": FeatureSpec("integer", "Planned training length in steps (declared)."),
    "model_family": FeatureSpec(
        "category",
        "Kind of model (declared).",
        ("linear", "mlp", "cnn", "rnn", "transformer", "embedding", "rl", "other"),
    ),
    "convex": FeatureSpec("boolean", "Whether the objective is convex (declared)."),
    **_MEASURED_ONLY,
    "adagrad_dying_step": FeatureSpec(
        "number",
        "Step at which Adagrad's effective rate falls to 1% of its start: measured, else estimated as "
        "the dense-gradient figure divided by (1 - sparsity).",
    ),
    "adagrad_life_fraction": FeatureSpec(
        "number", "training_steps / adagrad_dying_step: above 1, Adagrad stops learning before the end."
    ),
    "adadelta_lr_needed": FeatureSpec(
        "number",
        "The lr Adadelta (torch's eps and rho) needs for its steps to average the target step over the "
        "planned run: at most 1, the pure method suffices; far above, its steps stay too small for the run "
        "without a learning rate (measured parameter scale).",
    ),
    "declared_sparsity": FeatureSpec("number", "Sparsity as declared, kept when a measurement overrides it."),
    "declared_nonstationarity": FeatureSpec(
        "number", "Non-stationarity as declared, kept when a measurement overrides it."
    ),
    "sparsity_disagreement": FeatureSpec("number", "|declared - measured| sparsity, when both are known."),
    "nonstationarity_disagreement": FeatureSpec(
        "number", "|declared - measured| non-stationarity, when both are known."
    ),
}


class MeasuredProfile(Protocol):
    """What the engine reads from a profiler report (`profiler.ProfileReport` satisfies it)."""

    @property
    def overall(self) -> Figures: ...

    @property
    def training_steps(self) -> int | None: ...

    @property
    def assumptions(self) -> Sequence[str]: ...


@dataclass(frozen=True)
class FeatureConstants:
    """Numbers the feature builder needs from the rule set."""

    assumed_tuning_budget: int
    dense_adagrad_dying_step: float
    run_travel: float


@dataclass(frozen=True)
class Features:
    """Feature values (absent when unknown), where each came from, and what was assumed."""

    values: Mapping[str, FeatureValue]
    origins: Mapping[str, Origin]
    assumptions: tuple[str, ...]

    def get(self, name: str) -> FeatureValue | None:
        return self.values.get(name)

    def number(self, name: str) -> float | None:
        value = self.values.get(name)
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


_DECLARED_STATIONARITY = {"stationary": 0.0, "non_stationary": 1.0}


def _declared_nonstationarity(profile: DeclaredProfile) -> float | None:
    if profile.stationarity is None:
        return None
    if isinstance(profile.stationarity, str):
        return _DECLARED_STATIONARITY[profile.stationarity]
    return float(profile.stationarity)


def build_features(
    profile: DeclaredProfile, measured: MeasuredProfile | None, constants: FeatureConstants
) -> Features:
    """Merge declared and measured figures into feature values; measured ones win."""
    values: dict[str, FeatureValue] = {}
    origins: dict[str, Origin] = {}
    assumptions: list[str] = []

    def put(name: str, value: FeatureValue | None, origin: Origin) -> None:
        if value is not None:
            values[name] = value
            origins[name] = origin

    declared_sparsity = profile.gradient_sparsity
    declared_nonstationarity = _declared_nonstationarity(profile)
    put("declared_sparsity", declared_sparsity, "declared")
    put("declared_nonstationarity", declared_nonstationarity, "declared")
    put("sparsity", declared_sparsity, "declared")
    put("nonstationarity", declared_nonstationarity, "declared")
    put("model_family", profile.model_family, "declared")
    put("convex", profile.convex, "declared")

    if measured is not None:
        figures = measured.overall
        put("sparsity", figures.sparsity, "measured")
        put("nonstationarity", figures.nonstationarity, "measured")
        for name in _MEASURED_ONLY:
            put(name, getattr(figures, name), "measured")
        put("adagrad_dying_step", figures.adagrad_dying_step, "measured")
        if declared_sparsity is not None:
            put("sparsity_disagreement", abs(declared_sparsity - figures.sparsity), "measured")
        if declared_nonstationarity is not None:
            put(
                "nonstationarity_disagreement",
                abs(declared_nonstationarity - figures.nonstationarity),
                "measured",
            )

    training_steps = profile.training_steps
    put("training_steps", training_steps, "declared")
    if training_steps is None and measured is not None:
        # The profiler's projections ran with this length; it was given to the profiler or assumed there.
        training_steps = measured.training_steps
        put("training_steps", training_steps, "assumed")
        assumptions.extend(f"profiler: {assumption}" for assumption in measured.assumptions)

    if profile.tuning_budget is None:
        put("tuning_budget", constants.assumed_tuning_budget, "assumed")
        assumptions.append(f"no tuning_budget given; assumed {constants.assumed_tuning_budget}")
    else:
        put("tuning_budget", profile.tuning_budget, "declared")

    if measured is None:
        _estimate_adagrad_dying_step(values, origins, assumptions, constants)

    _estimate_adadelta_lr_needed(values, origins, constants)

    dying_step = values.get("adagrad_dying_step")
    if training_steps is not None and isinstance(dying_step, float) and dying_step > 0.0:
        put("adagrad_life_fraction", training_steps / dying_step, origins["adagrad_dying_step"])

    for name, wording in (
        ("sparsity", "gradient sparsity"),
        ("nonstationarity", "stationarity"),
        ("model_family", "model_family"),
        ("training_steps", "training_steps"),
    ):
        if name not in values:
            assumptions.append(f"no {wording} given or measured; rules that need it did not apply")
    return Features(values=values, origins=origins, assumptions=tuple(assumptions))


def _estimate_adadelta_lr_needed(
    values: dict[str, FeatureValue], origins: dict[str, Origin], constants: FeatureConstants
) -> None:
    parameter_rms, steps = values.get("typical_parameter_rms"), values.get("training_steps")
    if not isinstance(parameter_rms, float) or not isinstance(steps, int):
        return
    if parameter_rms <= 0.0 or steps < 1:
        return
    signal = values.get("mean_to_spread_ratio")
    defaults = torch_defaults("adadelta")
    reach = adadelta_step_rms(
        float(defaults["eps"]), float(defaults["rho"]), signal if isinstance(signal, float) else 0.0, steps
    )
    values["adadelta_lr_needed"] = target_step(parameter_rms, steps, constants.run_travel) / reach
    origins["adadelta_lr_needed"] = "measured"


def _estimate_adagrad_dying_step(
    values: dict[str, FeatureValue],
    origins: dict[str, Origin],
    assumptions: list[str],
    constants: FeatureConstants,
) -> None:
    # A coordinate active a fraction p of the steps accumulates p times as fast, so it dies 1/p later.
    sparsity = values.get("sparsity")
    if isinstance(sparsity, float):
        if sparsity < 1.0:
            values["adagrad_dying_step"] = constants.dense_adagrad_dying_step / (1.0 - sparsity)
            origins["adagrad_dying_step"] = "estimated"
        return
    values["adagrad_dying_step"] = constants.dense_adagrad_dying_step
    origins["adagrad_dying_step"] = "estimated"
    if "training_steps" in values:
        assumptions.append(
            "no sparsity given or measured; Adagrad's lifetime estimated for dense gradients "
            f"(~{constants.dense_adagrad_dying_step:.0f} steps)"
        )
