"""Every supported hyperparameter, per method and framework: names, defaults and valid ranges.

This table is the single source of truth: ``optimizers.create`` validates against it and
``optimizers.defaults`` reads it, so the catalogue cannot disagree with the implementation.
"""

from __future__ import annotations

from optadvisor.optimizers.catalogue.models import FrameworkHyperparameter, HyperparameterEntry


def real(  # noqa: PLR0913  keyword-only fields of one table row
    name: str,
    default: float | None,
    *,
    maximum: float | None = None,
    maximum_inclusive: bool = True,
    nullable: bool = False,
    required: bool = False,
    note: str | None = None,
) -> FrameworkHyperparameter:
    """A non-negative real hyperparameter."""
    return FrameworkHyperparameter(
        name=name,
        type="float | None" if nullable else "float",
        default=default,
        required=required,
        minimum=0.0,
        maximum=maximum,
        maximum_inclusive=maximum_inclusive,
        note=note,
    )


def decay_rate(name: str, default: float, *, include_one: bool = False) -> FrameworkHyperparameter:
    """A moving-average decay in [0, 1) (or [0, 1])."""
    return real(name, default, maximum=1.0, maximum_inclusive=include_one)


def flag(name: str, default: bool, note: str | None = None) -> FrameworkHyperparameter:
    return FrameworkHyperparameter(name=name, type="bool", default=default, note=note)


def learning_rate(
    torch: float, keras: float, optax: FrameworkHyperparameter | None = None
) -> HyperparameterEntry:
    return HyperparameterEntry(
        name="lr",
        meaning="Global step size multiplying the (adapted) update.",
        torch=real("lr", torch),
        keras=real("learning_rate", keras),
        optax=optax or real("learning_rate", None, required=True),
    )


def maximize() -> HyperparameterEntry:
    return HyperparameterEntry(
        name="maximize",
        meaning="Ascend the objective: the gradient is negated before anything else.",
        torch=flag("maximize", False),
    )


def weight_decay(torch: float = 0.0, optax: FrameworkHyperparameter | None = None) -> HyperparameterEntry:
    return HyperparameterEntry(
        name="weight_decay",
        meaning="Pull of the parameters towards 0: L2 added to the gradient (torch, Optax adadelta) "
        "or decoupled θ ← θ·(1 − lr·wd) before the step (Keras, AdamW).",
        torch=real("weight_decay", torch),
        keras=real("weight_decay", None, nullable=True, note="decoupled; None means no decay"),
        optax=optax,
    )


def epsilon(torch: float, keras: float, optax: float, placement: str) -> HyperparameterEntry:
    return HyperparameterEntry(
        name="eps",
        meaning=f"Small constant in the denominator for numerical stability ({placement}).",
        torch=real("eps", torch),
        keras=real("epsilon", keras),
        optax=real("eps", optax),
    )


def momentum(torch: bool = True, keras: bool = True) -> HyperparameterEntry:
    return HyperparameterEntry(
        name="momentum",
        meaning="Decay of the momentum buffer; 0 (or None in Optax) disables momentum.",
        torch=real("momentum", 0.0) if torch else None,
        keras=real("momentum", 0.0, maximum=1.0) if keras else None,
        optax=real("momentum", None, nullable=True, note="None means no momentum trace"),
    )


def betas() -> list[HyperparameterEntry]:
    return [
        HyperparameterEntry(
            name="betas",
            meaning="Decays (β₁, β₂) of the first- and second-moment averages, as one torch tuple.",
            torch=FrameworkHyperparameter(
                name="betas",
                type="tuple[float, float]",
                default=(0.9, 0.999),
                minimum=0.0,
                maximum=1.0,
                maximum_inclusive=False,
            ),
        ),
        HyperparameterEntry(
            name="beta1",
            meaning="Decay β₁ of the gradient average (torch betas[0]).",
            keras=decay_rate("beta_1", 0.9),
            optax=decay_rate("b1", 0.9),
        ),
        HyperparameterEntry(
            name="beta2",
            meaning="Decay β₂ of the squared-gradient average (torch betas[1]).",
            keras=decay_rate("beta_2", 0.999),
            optax=decay_rate("b2", 0.999),
        ),
    ]


def amsgrad() -> HyperparameterEntry:
    return HyperparameterEntry(
        name="amsgrad",
        meaning="Normalise by the running maximum of the squared-gradient average (AMSGrad).",
        torch=flag("amsgrad", False),
        keras=flag("amsgrad", False),
    )


HYPERPARAMETERS: dict[str, list[HyperparameterEntry]] = {
    "adagrad": [
        learning_rate(1e-2, 1e-3),
        HyperparameterEntry(
            name="lr_decay",
            meaning="Learning-rate decay: step t uses lr / (1 + (t − 1)·lr_decay).",
            torch=real("lr_decay", 0.0),
        ),
        weight_decay(),
        HyperparameterEntry(
            name="initial_accumulator_value",
            meaning="Starting value of the squared-gradient sum S.",
            torch=real("initial_accumulator_value", 0.0),
            keras=real("initial_accumulator_value", 0.1),
            optax=real("initial_accumulator_value", 0.1),
        ),
        epsilon(1e-10, 1e-7, 1e-7, "torch: sqrt(S) + eps; Keras, Optax: sqrt(S + eps)"),
        maximize(),
    ],
    "rmsprop": [
        learning_rate(1e-2, 1e-3),
        HyperparameterEntry(
            name="alpha",
            meaning="Decay of the squared-gradient moving average; memory ≈ 1/(1 − alpha) steps.",
            torch=decay_rate("alpha", 0.99),
            keras=decay_rate("rho", 0.9),
            optax=decay_rate("decay", 0.9),
        ),
        epsilon(1e-8, 1e-7, 1e-8, "torch: sqrt(v) + eps; Keras: sqrt(v + eps); Optax: per eps_in_sqrt"),
        weight_decay(),
        momentum(),
        HyperparameterEntry(
            name="centered",
            meaning="Normalise by the estimated variance v − m² instead of the second moment v.",
            torch=flag("centered", False),
            keras=flag("centered", False),
            optax=flag("centered", False),
        ),
        HyperparameterEntry(
            name="eps_in_sqrt",
            meaning="Add eps inside the square root (True) or after it (False, the torch form).",
            optax=flag("eps_in_sqrt", True),
        ),
        HyperparameterEntry(
            name="nesterov",
            meaning="Nesterov form of the momentum trace.",
            optax=flag("nesterov", False),
        ),
        HyperparameterEntry(
            name="bias_correction",
            meaning="Divide the moving averages by 1 − decayᵗ.",
            optax=flag("bias_correction", False),
        ),
        HyperparameterEntry(
            name="initial_scale",
            meaning="Starting value of the second-moment average v (TensorFlow 1 used 1.0).",
            optax=real("initial_scale", 0.0),
        ),
        maximize(),
    ],
    "adadelta": [
        learning_rate(
            1.0,
            1e-3,
            real(
                "learning_rate",
                None,
                nullable=True,
                note="None applies no scaling and no sign flip: the update climbs the objective",
            ),
        ),
        HyperparameterEntry(
            name="rho",
            meaning="Decay of both moving averages (squared gradients and squared updates).",
            torch=decay_rate("rho", 0.9, include_one=True),
            keras=decay_rate("rho", 0.95, include_one=True),
            optax=decay_rate("rho", 0.9, include_one=True),
        ),
        epsilon(1e-6, 1e-7, 1e-6, "inside both square roots in every framework"),
        weight_decay(optax=real("weight_decay", 0.0, note="L2, added to the gradient")),
        maximize(),
    ],
    "adam": [
        learning_rate(1e-3, 1e-3),
        *betas(),
        epsilon(1e-8, 1e-7, 1e-8, "torch, Optax: after bias correction; Keras: before it"),
        weight_decay(),
        amsgrad(),
        maximize(),
    ],
    "adamw": [
        learning_rate(1e-3, 1e-3),
        *betas(),
        epsilon(1e-8, 1e-7, 1e-8, "torch, Optax: after bias correction; Keras: before it"),
        HyperparameterEntry(
            name="weight_decay",
            meaning="Decoupled decay θ ← θ·(1 − lr·wd) applied before each step.",
            torch=real("weight_decay", 1e-2),
            keras=real("weight_decay", 0.004),
            optax=real("weight_decay", 1e-4),
        ),
        amsgrad(),
        maximize(),
    ],
    "sgd": [
        learning_rate(1e-3, 1e-2),
        momentum(),
        HyperparameterEntry(
            name="dampening",
            meaning="Fraction of each new gradient withheld from the momentum buffer.",
            torch=real("dampening", 0.0, maximum=1.0),
        ),
        weight_decay(),
        HyperparameterEntry(
            name="nesterov",
            meaning="Nesterov momentum: look ahead along the buffer.",
            torch=flag("nesterov", False),
            keras=flag("nesterov", False),
            optax=flag("nesterov", False),
        ),
        maximize(),
    ],
}
