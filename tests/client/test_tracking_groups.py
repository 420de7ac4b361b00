"""A per-group run is logged to trackers as each group's parameters, method and kwargs."""

from optadvisor.client.tracking import run_configuration

GROUPS = [
    {
        "parameters": ["embedding.weight"],
        "method": "adagrad",
        "kwargs": {"lr": 0.1},
        "configuration": "adagrad:+2:0",
    },
    {
        "parameters": ["fc.weight", "fc.bias"],
        "method": "adam",
        "kwargs": {"lr": 0.01},
        "configuration": "adam:+2:0",
    },
]
ANSWER = {
    "method": "adagrad",
    "framework": "torch",
    "advice_scope": "per_group",
    "configs": {"torch": {"kwargs": {"lr": 0.1}}},
    "tuning_plan": [{"method": None, "kwargs": None, "configuration": None, "groups": GROUPS}],
}


def test_per_group_runs_are_flat_params_naming_each_group() -> None:
    method, kwargs = run_configuration(ANSWER)
    assert method == "per_group"
    assert kwargs == {
        "group_0.parameters": "embedding.weight",
        "group_0.method": "adagrad",
        "group_0.lr": 0.1,
        "group_1.parameters": "fc.weight,fc.bias",
        "group_1.method": "adam",
        "group_1.lr": 0.01,
    }
    assert run_configuration(ANSWER, 0) == (method, kwargs)
    whole = {**ANSWER, "advice_scope": "whole_model"}
    assert run_configuration(whole) == ("adagrad", {"lr": 0.1})
