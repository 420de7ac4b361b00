"""The features guardrail and explanation conditions and rationale templates may refer to, and how a
declared and a measured profile fill them.

A measurement only overrules what its window could see. Sparsity is measured over the sample's own
entries, so a measured value replaces a declared one. Drift is different: a sample spanning W training
steps can show drift on timescales shorter than W, never refute drift on longer ones. So a declared
non-stationarity stays unless the measurement shows more, and the answer says what the window could not
see. Gradients that are exactly zero everywhere carry no signal (typically `record()` called after
`zero_grad()`): their figures are not used at all. Every value records where it came from.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from optadvisor.profiler.figures import Figures
from optadvisor.profiler.thresholds import INTERMITTENT_AT_MOST, RARE_BELOW, as_share
from optadvisor.rules.request import MODEL_FAMILIES, DeclaredProfile

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
    "window_steps": FeatureSpec("integer", "Training steps the measured sample spans."),
    "rare_coordinate_fraction": FeatureSpec(
        "number",
        f"Fraction of coordinates active in at least one and at most {as_share(RARE_BELOW)} of the steps "
        "(measured).",
    ),
    "intermittent_coordinate_fraction": FeatureSpec(
        "number",
        "Fraction of coordinates active in at least one and at most "
        f"{as_share(INTERMITTENT_AT_MOST)} of the steps (measured).",
    ),
    "silent_coordinate_fraction": FeatureSpec(
        "number", "Fraction of coordinates zero in every step of the sample (measured)."
    ),
    "drift_timescale_steps": FeatureSpec(
        "number", "Training steps over which the gradient stream changes (measured)."
    ),
    "scale_spread_decades": FeatureSpec(
        "number", "Decades between the 10th and 90th percentile of per-coordinate gradient RMS (measured)."
    ),
    "gsnr_median": FeatureSpec("number", "Median gradient signal-to-noise ratio (measured)."),
    "gradient_rms": FeatureSpec("number", "Root mean square of all gradient entries (measured)."),
    "parameter_rms": FeatureSpec("number", "Root mean square of the parameter values (measured)."),
    "rmsprop_matched_alpha": FeatureSpec(
        "number", "RMSprop alpha whose memory matches the measured drift timescale."
    ),
}

FEATURES: Mapping[str, FeatureSpec] = {
    "sparsity": FeatureSpec("number", "Fraction of zero gradient entries: measured, else declared."),
    "nonstationarity": FeatureSpec(
        "number",
        "Non-stationarity in [0, 1]: the larger of the declared value (stationary = 0, non_stationary = 1) "
        "and the one measured within the sample's window.",
    ),
    "tuning_budget": FeatureSpec("integer", "Training runs affordable for tuning: declared, else assumed."),
    "training_steps": FeatureSpec("integer", "Planned training length in steps (declared)."),
    "model_family": FeatureSpec(
        "category",
        "Kind of model (declared).",
        MODEL_FAMILIES,
    ),
    "convex": FeatureSpec("boolean", "Whether the objective is convex (declared)."),
    **_MEASURED_ONLY,
    "declared_sparsity": FeatureSpec("number", "Sparsity as declared, kept when a measurement overrides it."),
    "declared_nonstationarity": FeatureSpec("number", "Non-stationarity as declared."),
    "measured_nonstationarity": FeatureSpec(
        "number", "Non-stationarity measured within the sample's window."
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
class Features:
    """Feature values (absent when unknown), where each came from, and what was assumed or noticed."""

    values: Mapping[str, FeatureValue]
    origins: Mapping[str, Origin]
    assumptions: tuple[str, ...]
    measured: Figures | None  # the figures used, or None (no gradients, or gradients without signal)

    def get(self, name: str) -> FeatureValue | None:
        return self.values.get(name)

    def number(self, name: str) -> float | None:
        value = self.values.get(name)
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


_DECLARED_STATIONARITY = {"stationary": 0.0, "non_stationary": 1.0}


def declared_nonstationarity(profile: DeclaredProfile) -> float | None:
    if profile.stationarity is None:
        return None
    if isinstance(profile.stationarity, str):
        return _DECLARED_STATIONARITY[profile.stationarity]
    return float(profile.stationarity)


def without_signal(figures: Figures) -> bool:
    """Every recorded gradient entry is exactly zero."""
    return figures.silent_coordinate_fraction >= 1.0


def build_features(
    profile: DeclaredProfile, measured: MeasuredProfile | None, assumed_tuning_budget: int
) -> Features:
    """Merge declared and measured figures into feature values (see the module docstring)."""
    values: dict[str, FeatureValue] = {}
    origins: dict[str, Origin] = {}
    assumptions: list[str] = []

    def put(name: str, value: FeatureValue | None, origin: Origin) -> None:
        if value is not None:
            values[name] = value
            origins[name] = origin

    declared_drift = declared_nonstationarity(profile)
    put("declared_sparsity", profile.gradient_sparsity, "declared")
    put("declared_nonstationarity", declared_drift, "declared")
    put("sparsity", profile.gradient_sparsity, "declared")
    put("nonstationarity", declared_drift, "declared")
    put("model_family", profile.model_family, "declared")
    put("convex", profile.convex, "declared")
    put("training_steps", profile.training_steps, "declared")

    figures = measured.overall if measured is not None else None
    if figures is not None and without_signal(figures):
        assumptions.append(
            f"every gradient entry of the {figures.steps} recorded steps is exactly zero, so the sample "
            "says nothing about the problem and its figures are not used: record() was probably called "
            "after zero_grad() (call it after loss.backward(), before optimizer.step())"
        )
        figures = None
    if figures is not None:
        put("sparsity", figures.sparsity, "measured")
        put("measured_nonstationarity", figures.nonstationarity, "measured")
        for name in _MEASURED_ONLY:
            put(name, getattr(figures, name), "measured")
        if declared_drift is None or figures.nonstationarity > declared_drift:
            put("nonstationarity", figures.nonstationarity, "measured")
        elif figures.nonstationarity < declared_drift:
            assumptions.append(
                f"non-stationarity declared {declared_drift:.2f}, measured {figures.nonstationarity:.2f} "
                f"within the {figures.window_steps}-step window: a window can only show drift faster than "
                "itself, so the declared value stands"
            )
    if profile.training_steps is None and measured is not None:
        # The profiler's projections ran with this length; it was given to the profiler or assumed there.
        put("training_steps", measured.training_steps, "assumed")
        assumptions.extend(f"profiler: {assumption}" for assumption in measured.assumptions)
    elif profile.training_steps is None:
        assumptions.append("no training_steps given; similar tasks were matched without the run length")
    if profile.model_family is None:
        assumptions.append("no model_family given; similar tasks were matched without it")

    if profile.tuning_budget is None:
        put("tuning_budget", assumed_tuning_budget, "assumed")
        assumptions.append(f"no tuning_budget given; assumed {assumed_tuning_budget}")
    else:
        put("tuning_budget", profile.tuning_budget, "declared")
    return Features(values=values, origins=origins, assumptions=tuple(assumptions), measured=figures)
