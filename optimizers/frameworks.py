"""Each framework's rule for each method: the links of the update chain where it departs from torch.

A rule (:mod:`optadvisor.optimizers.semantics`) is composed of small steps; this table is the one
place that says which step each framework takes. Optax's RMSprop is built from its own
hyperparameters (``eps_in_sqrt``, ``bias_correction``, ``initial_scale``) the way
``optax.rmsprop`` chooses its transforms.
"""

from __future__ import annotations

from collections.abc import Mapping

from optadvisor.optimizers.semantics import (
    DECOUPLED,
    AdadeltaRule,
    AdagradRule,
    AdamRule,
    Ascent,
    BiasCorrectedAverages,
    EpsAfterSqrt,
    EpsBeforeCorrection,
    EpsUnderSqrt,
    LrInsideBuffer,
    RawAverages,
    RMSpropRule,
    Rule,
    SGDRule,
    ZeroGuard,
)

RULES: Mapping[str, Mapping[str, Rule]] = {
    "torch": {
        "adagrad": AdagradRule(),
        "rmsprop": RMSpropRule(),
        "adadelta": AdadeltaRule(),
        "adam": AdamRule(),
        "adamw": AdamRule(decay=DECOUPLED),
        "sgd": SGDRule(),
    },
    "keras": {
        "adagrad": AdagradRule(decay=DECOUPLED, denominator=EpsUnderSqrt()),
        "rmsprop": RMSpropRule(decay=DECOUPLED, denominator=EpsUnderSqrt(), momentum=LrInsideBuffer()),
        "adadelta": AdadeltaRule(decay=DECOUPLED),
        "adam": AdamRule(decay=DECOUPLED, epsilon=EpsBeforeCorrection()),
        "adamw": AdamRule(decay=DECOUPLED, epsilon=EpsBeforeCorrection()),
        "sgd": SGDRule(decay=DECOUPLED, momentum=LrInsideBuffer()),
    },
    "optax": {
        "adagrad": AdagradRule(denominator=ZeroGuard(EpsUnderSqrt())),
        "rmsprop": RMSpropRule(denominator=EpsUnderSqrt(), momentum=LrInsideBuffer()),
        "adadelta": AdadeltaRule(),
        "adam": AdamRule(),
        "adamw": AdamRule(decay=DECOUPLED),
        "sgd": SGDRule(),
    },
}

# optax.adadelta(learning_rate=None): no learning rate and no sign flip.
OPTAX_ADADELTA_WITHOUT_LEARNING_RATE = AdadeltaRule(direction=Ascent())


def optax_rmsprop(*, eps_in_sqrt: bool, bias_correction: bool, initial_scale: float) -> RMSpropRule:
    """``optax.rmsprop``'s rule for its options (the learning rate and momentum trace are Optax's)."""
    averages = BiasCorrectedAverages if bias_correction else RawAverages
    return RMSpropRule(
        averages=averages(initial_scale),
        denominator=EpsUnderSqrt() if eps_in_sqrt else EpsAfterSqrt(),
        momentum=LrInsideBuffer(),
    )
