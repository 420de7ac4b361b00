"""How alike two training problems are, from what a request declares and what its gradients show.

A problem is described by a handful of numbers that bear on optimizer choice: what the user declares
(model family, run length, convexity, known non-stationarity) and what the profiler measures (sparsity and
how it is spread over coordinates, drift within the window, noise, scale spread, gradient scale relative to
the parameters). A request fills what it can; the distance to a problem of the evidence base counts only
the descriptors the request has, each in units of its spread over the evidence base.

Every descriptor here is framework-independent: the same gradients describe the same problem whichever
framework the answer is for.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from optadvisor.profiler.figures import Figures
from optadvisor.profiler.thresholds import INTERMITTENT_AT_MOST, as_share
from optadvisor.rules.request import DeclaredProfile

Descriptor = float | str
Descriptors = dict[str, Descriptor]
DescriptorKind = Literal["number", "category"]


@dataclass(frozen=True)
class DescriptorSpec:
    kind: DescriptorKind
    description: str
    # What a problem that does not state it counts as, when the request does: a problem not declared
    # convex (or non-stationary) is compared as not convex (stationary). None: skipped instead.
    unstated: float | None = None


DESCRIPTORS: Mapping[str, DescriptorSpec] = {
    "model_family": DescriptorSpec("category", "Declared model family."),
    "log_training_steps": DescriptorSpec("number", "log10 of the declared run length in steps."),
    "convex": DescriptorSpec("number", "1 when the objective is declared convex, 0 when declared not.", 0.0),
    "declared_nonstationarity": DescriptorSpec(
        "number", "Declared non-stationarity: 1 non_stationary, 0 stationary, or the declared score.", 0.0
    ),
    "sparsity": DescriptorSpec("number", "Fraction of zero gradient entries: measured, else declared."),
    "intermittent_fraction": DescriptorSpec(
        "number",
        "Fraction of coordinates active in at least one and at most "
        f"{as_share(INTERMITTENT_AT_MOST)} of the steps (measured).",
    ),
    "silent_fraction": DescriptorSpec(
        "number", "Fraction of coordinates zero in every step of the sample (measured)."
    ),
    "nonstationarity": DescriptorSpec("number", "Drift measured within the sample's window."),
    "log_gsnr": DescriptorSpec("number", "log10 of the median gradient signal-to-noise ratio (measured)."),
    "scale_spread_decades": DescriptorSpec(
        "number", "Decades between the 10th and 90th percentile of per-coordinate gradient RMS (measured)."
    ),
    "log_gradient_to_parameter": DescriptorSpec(
        "number", "log10 of gradient RMS over typical parameter RMS (measured, with parameters sent)."
    ),
}
# A category that differs counts as this many spreads apart.
CATEGORY_MISMATCH = 1.0
_SMALLEST_LOG_ARGUMENT = 1e-12


def _log10(value: float | None) -> float | None:
    return None if value is None else math.log10(max(value, _SMALLEST_LOG_ARGUMENT))


def _declared_nonstationarity(profile: DeclaredProfile) -> float | None:
    stationarity = profile.stationarity
    if stationarity is None:
        return None
    if isinstance(stationarity, str):
        return 1.0 if stationarity == "non_stationary" else 0.0
    return float(stationarity)


def describe(profile: DeclaredProfile, measured: Figures | None) -> Descriptors:
    """The descriptors a request provides; ``measured`` is None without (usable) gradients."""
    found: dict[str, Descriptor | None] = {
        "model_family": profile.model_family,
        "log_training_steps": _log10(
            None if profile.training_steps is None else float(profile.training_steps)
        ),
        "convex": None if profile.convex is None else float(profile.convex),
        "declared_nonstationarity": _declared_nonstationarity(profile),
        "sparsity": profile.gradient_sparsity,
    }
    if measured is not None:
        ratio = (
            measured.gradient_rms / measured.typical_parameter_rms if measured.typical_parameter_rms else None
        )
        found |= {
            "sparsity": measured.sparsity,
            "intermittent_fraction": measured.intermittent_coordinate_fraction,
            "silent_fraction": measured.silent_coordinate_fraction,
            "nonstationarity": measured.nonstationarity,
            "log_gsnr": _log10(measured.gsnr_median),
            "scale_spread_decades": measured.scale_spread_decades,
            "log_gradient_to_parameter": _log10(ratio),
        }
    return {name: value for name, value in found.items() if value is not None}


class DescriptorTable:
    """Many problems' descriptors as arrays, so a request's distance to all of them is a few array ops.

    The distance is the root mean square of the per-descriptor differences, in spreads, over the request's
    descriptors that the other problem has (or states by default: ``DescriptorSpec.unstated``); a category
    that differs counts ``CATEGORY_MISMATCH``. Zero when the two share no descriptor: nothing tells them
    apart.
    """

    def __init__(self, problems: Sequence[Descriptors], spreads: Mapping[str, float]) -> None:
        self._numbers: dict[str, tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]] = {}
        self._categories: dict[str, list[str | None]] = {}
        for name, spec in DESCRIPTORS.items():
            values = [problem.get(name, spec.unstated) for problem in problems]
            if spec.kind == "category":
                self._categories[name] = [None if value is None else str(value) for value in values]
                continue
            known = np.array([value is not None for value in values])
            scaled = np.array([0.0 if v is None else float(v) for v in values]) / spreads.get(name, 1.0)
            self._numbers[name] = (scaled, known)
        self._spreads = {name: spreads.get(name, 1.0) for name in DESCRIPTORS}
        self._size = len(problems)

    def distances(self, query: Descriptors) -> npt.NDArray[np.float64]:
        """The distance from `query` to each problem, in the order they were given."""
        total = np.zeros(self._size)
        count = np.zeros(self._size)
        for name, value in query.items():
            if isinstance(value, str):
                column = self._categories[name]
                known = np.array([other is not None for other in column])
                gap = np.array([0.0 if other == value else CATEGORY_MISMATCH for other in column])
            else:
                scaled, known = self._numbers[name]
                gap = float(value) / self._spreads[name] - scaled
            total += np.where(known, gap * gap, 0.0)
            count += known
        result: npt.NDArray[np.float64] = np.sqrt(
            np.divide(total, count, out=np.zeros(self._size), where=count > 0)
        )
        return result
