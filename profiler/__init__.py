"""Gradient profiler: measure sample gradients and replay them through the built-in optimizers.

Pure domain code: no HTTP, no environment, deterministic for the same input. The HTTP layer builds
:class:`Limits` from its settings, loads samples with :func:`samples_from_json` or
:func:`samples_from_file`, and calls :func:`profile` or :func:`replay`.
"""

from profiler import errors, schema, synthetic
from profiler.errors import (
    GradientError,
    GradientLimitExceeded,
    InvalidGradients,
    InvalidReplay,
    UnsupportedGradientFormat,
)
from profiler.figures import Figures
from profiler.json_input import samples_from_json
from profiler.limits import Limits
from profiler.loaders import samples_from_file
from profiler.profile import profile
from profiler.replay import replay
from profiler.report import (
    GroupProfile,
    GroupReplay,
    ProfileReport,
    ReplayReport,
    ReplayTrajectory,
    RunReplay,
    StateTrace,
)
from profiler.runs import ReplayRun
from profiler.sample import GradientSample
from profiler.schema import CooSampleJSON, DenseSampleJSON, GradientSampleJSON

__all__ = [
    "CooSampleJSON",
    "DenseSampleJSON",
    "Figures",
    "GradientError",
    "GradientLimitExceeded",
    "GradientSample",
    "GradientSampleJSON",
    "GroupProfile",
    "GroupReplay",
    "InvalidGradients",
    "InvalidReplay",
    "Limits",
    "ProfileReport",
    "ReplayReport",
    "ReplayRun",
    "ReplayTrajectory",
    "RunReplay",
    "StateTrace",
    "UnsupportedGradientFormat",
    "errors",
    "profile",
    "replay",
    "samples_from_file",
    "samples_from_json",
    "schema",
    "synthetic",
]
