"""Selection rules and the recommendation engine.

`load_ruleset` reads and validates a rule file (the packaged `default.yaml` by default); `recommend`
turns a declared and/or measured profile into a method, hyperparameters, configs for torch, Keras and
Optax, a rationale quoting the numbers, ranked alternatives and a tuning plan; when the measured gradient
groups differ enough, per-group advice too (`rules.groups`).
"""

from optadvisor.optimizers.catalogue.names import FRAMEWORKS, METHODS
from optadvisor.rules.errors import RuleSetError
from optadvisor.rules.features import FEATURES, MeasuredProfile
from optadvisor.rules.groups import advise as recommend
from optadvisor.rules.recommendation import Recommendation
from optadvisor.rules.request import DeclaredProfile, RecommendationRequest
from optadvisor.rules.ruleset import RuleSet, load_ruleset, parse_ruleset

__all__ = [
    "FEATURES",
    "FRAMEWORKS",
    "METHODS",
    "DeclaredProfile",
    "MeasuredProfile",
    "Recommendation",
    "RecommendationRequest",
    "RuleSet",
    "RuleSetError",
    "load_ruleset",
    "parse_ruleset",
    "recommend",
]
