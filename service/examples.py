"""Request examples shown in /docs: the request models (`service.schemas`) carry them into the schema."""

from typing import Any

_DENSE_SAMPLE: dict[str, Any] = {
    "format": "dense",
    "values": [[0.01, 0.0, -0.02], [0.012, 0.0, -0.018], [0.009, 0.3, -0.021], [0.011, 0.0, -0.019]],
    "parameter_rms": 0.05,
}
_COO_SAMPLE: dict[str, Any] = {
    "format": "coo",
    "shape": [4, 1000],
    "step": [0, 1, 1, 3],
    "index": [7, 7, 512, 999],
    "values": [0.5, -0.25, 1.0, 0.75],
}

PROFILE_EXAMPLE: dict[str, Any] = {
    "gradients": {"fc.weight": _DENSE_SAMPLE, "embedding.weight": _COO_SAMPLE},
    "training_steps": 100000,
    "framework": "torch",
}

RECOMMENDATION_EXAMPLE: dict[str, Any] = {
    "profile": {
        "gradient_sparsity": 0.97,
        "stationarity": "stationary",
        "tuning_budget": 4,
        "training_steps": 200000,
        "model_family": "embedding",
        "convex": False,
    },
    "framework": "torch",
    "candidates": ["adagrad", "rmsprop", "adadelta", "adam"],
}

REPLAY_EXAMPLE: dict[str, Any] = {
    "gradients": {"fc.weight": _DENSE_SAMPLE},
    "runs": [
        {"method": "adagrad", "framework": "torch", "hyperparameters": {"lr": 0.01}},
        {"method": "rmsprop", "framework": "keras", "hyperparameters": {"rho": 0.9}},
    ],
    "trace_coordinates": {"fc.weight": [0, 2]},
}

OUTCOME_EXAMPLE: dict[str, Any] = {
    "plan_index": 0,
    "metric": 0.231,
    "metric_name": "val_loss",
    "lower_is_better": True,
    "steps": 20000,
    "tracker": {"kind": "mlflow", "run": "runs:/0a1b2c3d/model"},
}
