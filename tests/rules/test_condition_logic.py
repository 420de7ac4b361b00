"""The condition language: three-valued evaluation over features that may be unknown."""

import pytest

from optadvisor.rules.conditions import AllOf, AnyOf, Comparison, Condition, NotOf, evaluate
from optadvisor.rules.features import Features


def _features(**values: float | str | bool) -> Features:
    return Features(values=values, origins=dict.fromkeys(values, "declared"), assumptions=(), measured=None)


SPARSE = Comparison(feature="sparsity", op=">=", value=0.5)
RNN = Comparison(feature="model_family", op="==", value="rnn")


@pytest.mark.parametrize(
    ("condition", "features", "outcome"),
    [
        (SPARSE, _features(sparsity=0.9), True),
        (SPARSE, _features(sparsity=0.1), False),
        (SPARSE, _features(), None),
        (NotOf(negated=SPARSE), _features(), None),
        (NotOf(negated=SPARSE), _features(sparsity=0.1), True),
        (AllOf(all=[SPARSE, RNN]), _features(sparsity=0.1), False),
        (AllOf(all=[SPARSE, RNN]), _features(sparsity=0.9), None),
        (AnyOf(any=[SPARSE, RNN]), _features(model_family="rnn"), True),
        (AnyOf(any=[SPARSE, RNN]), _features(model_family="cnn"), None),
        (Comparison(feature="sparsity", op="absent"), _features(), True),
        (Comparison(feature="sparsity", op="present"), _features(), False),
        (
            Comparison(feature="model_family", op="in", value=["rnn", "rl"]),
            _features(model_family="rl"),
            True,
        ),
        (Comparison(feature="model_family", op="!=", value="rnn"), _features(model_family="rl"), True),
        (Comparison(feature="tuning_budget", op="<", value=2), _features(tuning_budget=2), False),
    ],
)
def test_evaluate(condition: Condition, features: Features, outcome: bool | None) -> None:
    assert evaluate(condition, features) is outcome
