"""Translate torch-form hyperparameters into torch, Keras 3 and Optax configs, with honest notes.

Where a framework computes the update differently (ε inside the square root, ε before bias correction,
lr inside a momentum buffer, decoupled weight decay), the config either compensates exactly or says by
how much it differs at the given gradient scale.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from optadvisor.optimizers import catalogue
from optadvisor.optimizers.catalogue.names import Framework, Method
from optadvisor.rules.canonical import STATED, Setting, Settings, significant
from optadvisor.rules.recommendation import ClassConfig, Configs, FunctionConfig, Kwarg

_KERAS_DECAY_NOTE = (
    "Keras applies weight_decay decoupled (θ ← θ − lr·wd·θ before the step), torch adds wd·θ to the "
    "gradient for this method; none is set here, so add an L2 term to the loss if you need torch's form."
)
# Where the framework adds eps inside the square root and torch outside.
_EPS_INSIDE: frozenset[tuple[Method, Framework]] = frozenset(
    {("adagrad", "keras"), ("adagrad", "optax"), ("rmsprop", "keras")}
)


def _number(settings: Settings, name: str) -> float:
    return float(settings[name])


def framework_kwargs(method: Method, framework: Framework, settings: Settings) -> dict[str, Kwarg]:
    """`settings` (canonical names, torch semantics) in `framework`'s names and semantics."""
    names = catalogue.framework_names(method, framework)
    kwargs: dict[str, Kwarg] = {}
    for name in STATED[method]:
        value: Kwarg = settings[name]
        if framework == "torch" and name in ("beta1", "beta2"):
            kwargs["betas"] = [_number(settings, "beta1"), _number(settings, "beta2")]
            continue
        if name == "eps" and (method, framework) in _EPS_INSIDE:
            # sqrt(v + eps²) ≈ sqrt(v) + eps when sqrt(v) ≫ eps: the closest inside-the-root ε to torch's.
            value = significant(_number(settings, "eps") ** 2)
        if framework == "optax" and name == "momentum" and value == 0.0:
            continue  # Optax's momentum=None means no trace at all; 0.0 would add an idle one.
        kwargs[names[name]] = value
    if (method, framework) == ("rmsprop", "optax"):
        kwargs["eps_in_sqrt"] = False
    return kwargs


def constructor(method: Method, framework: Framework) -> str:
    """Fully qualified class or function that builds `method` in `framework`."""
    path = catalogue.entry(method).constructors.get(framework)
    if path is None:
        raise ValueError(f"the catalogue has no {framework} constructor for {method}")
    return path


@dataclass(frozen=True)
class GradientScale:
    """Typical magnitude of a nonzero gradient entry, and whether it was measured or assumed."""

    value: float
    measured: bool

    def describe(self) -> str:
        kind = "measured nonzero-gradient RMS" if self.measured else "assumed gradient scale"
        return f"{kind} {self.value:.2g}"


def _denominator_gap(root: float, eps: float) -> float:
    """Relative gap between sqrt(v) + eps and sqrt(v + eps²) at sqrt(v) = root."""
    return (root + eps) / math.hypot(root, eps) - 1.0


@dataclass(frozen=True)
class _Verdict:
    notes: list[str]
    equivalent: bool


def _eps_placement(method: Method, settings: Settings, scale: GradientScale, tolerance: float) -> _Verdict:
    eps = _number(settings, "eps")
    if method == "adagrad":
        root = scale.value  # sqrt of the accumulator after a coordinate's first nonzero gradient
        first = "first update of a coordinate"
    else:
        root = math.sqrt(1.0 - _number(settings, "alpha")) * scale.value  # EMA after one step from 0
        first = "first step"
    gap = _denominator_gap(root, eps)
    equivalent = gap <= tolerance
    verdict = "negligible" if equivalent else "NOT negligible: expect different trajectories"
    return _Verdict(
        [
            f"torch adds eps outside the square root, this framework inside, so epsilon = eps² = "
            f"{eps**2:.3g} here: sqrt(v)+eps and sqrt(v+eps²) differ by {gap:.2g} (relative) on the {first} "
            f"at the {scale.describe()} ({verdict}); smaller gradients differ more, larger ones less."
        ],
        equivalent,
    )


def _keras_adam_eps(settings: Settings, scale: GradientScale, tolerance: float) -> _Verdict:
    eps, beta2 = _number(settings, "eps"), _number(settings, "beta2")
    first_step_eps = eps / math.sqrt(1.0 - beta2)
    gap = (first_step_eps - eps) / (scale.value + eps)
    equivalent = gap <= tolerance
    return _Verdict(
        [
            f"Keras adds epsilon before bias correction (Kingma & Ba's ε-hat), so at step t it acts like "
            f"torch eps/sqrt(1-beta2^t): {first_step_eps:.2g} on step 1, fading to {eps:.2g}; the first step "
            f"differs by {gap:.2g} (relative) at the {scale.describe()} "
            f"({'negligible' if equivalent else 'NOT negligible: expect different trajectories'})."
        ],
        equivalent,
    )


def _stated_notes(method: Method, framework: Framework, settings: Settings) -> list[str]:
    """Notes on values stated because this framework's default or semantics differ from torch's."""
    notes: list[str] = []
    if method == "adagrad":
        notes.append(
            f"initial_accumulator_value={_number(settings, 'initial_accumulator_value'):g} set explicitly: "
            "Keras and Optax start the accumulator at 0.1, torch at 0."
        )
    if (method, framework) == ("rmsprop", "optax"):
        notes.append("eps_in_sqrt=False puts eps outside the square root as torch does: exact match.")
    if (method, framework) == ("adadelta", "keras"):
        notes.append("learning_rate=1.0 set explicitly: Keras defaults to 0.001, steps 1000× smaller.")
    if (method, framework) == ("adadelta", "optax"):
        notes.append(
            "learning_rate=1.0 set explicitly: optax.adadelta(learning_rate=None) skips the sign flip and "
            "ascends the gradient."
        )
    if method == "adamw":
        notes.append(
            f"weight_decay={_number(settings, 'weight_decay'):g} set explicitly, decoupled as in torch "
            "(Keras defaults to 0.004, Optax to 1e-4)."
        )
    if method == "sgd" and _number(settings, "momentum") > 0.0:
        notes.append(
            "lr sits inside the momentum buffer here and outside in torch: identical at a constant lr, "
            "different under a learning-rate schedule."
        )
    if framework == "keras" and method != "adamw":
        notes.append(_KERAS_DECAY_NOTE)
    return notes


def _verdict(
    method: Method, framework: Framework, settings: Settings, scale: GradientScale, tolerance: float
) -> _Verdict:
    verdicts: list[_Verdict] = []
    if (method, framework) in _EPS_INSIDE:
        verdicts.append(_eps_placement(method, settings, scale, tolerance))
    if framework == "keras" and method in ("adam", "adamw"):
        verdicts.append(_keras_adam_eps(settings, scale, tolerance))
    return _Verdict(
        [note for verdict in verdicts for note in verdict.notes] + _stated_notes(method, framework, settings),
        all(verdict.equivalent for verdict in verdicts),
    )


def _literal(value: Kwarg) -> str:
    return f"({', '.join(repr(item) for item in value)})" if isinstance(value, list) else repr(value)


def _code(target: str, kwargs: Mapping[str, Kwarg], leading: str = "") -> str:
    arguments = [leading] if leading else []
    arguments += [f"{name}={_literal(value)}" for name, value in kwargs.items()]
    return f"{target}({', '.join(arguments)})"


def build_configs(method: Method, settings: Settings, scale: GradientScale, tolerance: float) -> Configs:
    """The torch, Keras and Optax configs of one recommendation, with notes where they differ.

    Built once per distinct input and shared after that (a config is never changed once built): a
    recommendation is one of the grid's configurations, and without measured gradients its scale is the
    assumed one, so declared profiles ask for the same few hundred configs again and again."""
    return _configs(method, tuple(settings.items()), scale, tolerance)


@lru_cache(maxsize=4096)
def _configs(
    method: Method, items: tuple[tuple[str, Setting], ...], scale: GradientScale, tolerance: float
) -> Configs:
    settings = dict(items)
    torch_class, keras_class = constructor(method, "torch"), constructor(method, "keras")
    optax_function = constructor(method, "optax")
    torch_kwargs = framework_kwargs(method, "torch", settings)
    keras_kwargs = framework_kwargs(method, "keras", settings)
    optax_kwargs = framework_kwargs(method, "optax", settings)
    keras_verdict = _verdict(method, "keras", settings, scale, tolerance)
    optax_verdict = _verdict(method, "optax", settings, scale, tolerance)
    return Configs(
        torch=ClassConfig(
            class_=torch_class,
            kwargs=torch_kwargs,
            code=(torch_code := _code(torch_class, torch_kwargs, "model.parameters()")),
            notes=[],
            equivalent=True,
            single_method_code=torch_code,
        ),
        keras=ClassConfig(
            class_=keras_class,
            kwargs=keras_kwargs,
            code=(keras_code := _code(keras_class, keras_kwargs)),
            notes=keras_verdict.notes,
            equivalent=keras_verdict.equivalent,
            single_method_code=keras_code,
        ),
        optax=FunctionConfig(
            function=optax_function,
            kwargs=optax_kwargs,
            code=(optax_code := _code(optax_function, optax_kwargs)),
            notes=optax_verdict.notes,
            equivalent=optax_verdict.equivalent,
            single_method_code=optax_code,
        ),
    )


def flatten(kwargs: Mapping[str, Kwarg]) -> dict[str, Setting]:
    """Flat scalars for experiment trackers: a tuple argument `betas` becomes `betas_0`, `betas_1`."""
    flat: dict[str, Setting] = {}
    for name, value in kwargs.items():
        if isinstance(value, list):
            flat.update({f"{name}_{index}": item for index, item in enumerate(value)})
        else:
            flat[name] = value
    return flat
