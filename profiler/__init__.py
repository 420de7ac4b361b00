"""Gradient profiler: measure sample gradients and replay them through the built-in optimizers.

Pure domain code: no HTTP, no environment, deterministic for the same input. The HTTP layer builds
:class:`Limits` from its settings, loads samples with :func:`samples_from_json` or
:func:`samples_from_file`, and calls :func:`profile` or :func:`replay`.
"""

from optadvisor.profiler import errors, schema, synthetic
from optadvisor.profiler.errors import (
    GradientError,
    GradientLimitExceeded,
    InvalidGradients,
    InvalidReplay,
    UnsupportedGradientFormat,
)
from optadvisor.profiler.figures import Figures
from optadvisor.profiler.json_input import samples_from_json
from optadvisor.profiler.limits import Limits
from optadvisor.profiler.loaders import samples_from_file
from optadvisor.profiler.profile import profile
from optadvisor.profiler.replay import replay
from optadvisor.profiler.report import (
    GroupProfile,
    GroupReplay,
    ProfileReport,
    ReplayReport,
    ReplayTrajectory,
    RunReplay,
    StateTrace,
)
from optadvisor.profiler.runs import ReplayRun
from optadvisor.profiler.sample import GradientSample
from optadvisor.profiler.schema import CooSampleJSON, DenseSampleJSON, GradientSampleJSON

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
