"""Request examples shown in /docs, and the multipart form schemas (which pydantic cannot describe)."""

from typing import Any

from optadvisor.service.schemas import MAX_TRAINING_STEPS

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

_GRADIENT_FILE = {
    "type": "string",
    "format": "binary",
    "description": ".npy (one group, named after the file), .npz (one group per array) or .safetensors "
    "(one group per tensor); arrays shaped [T, ...].",
}

PROFILE_FORM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["gradients"],
    "properties": {
        "gradients": _GRADIENT_FILE,
        "training_steps": {"type": "integer", "minimum": 1, "maximum": MAX_TRAINING_STEPS},
        "framework": {"type": "string", "enum": ["torch", "keras", "optax"], "default": "torch"},
    },
}

PROFILE_QUERY_PARAMETERS: list[dict[str, Any]] = [
    {
        "name": "filename",
        "in": "query",
        "required": False,
        "description": "Only with an application/octet-stream body, where it is required: the file's "
        "name, whose extension (.npy, .npz, .safetensors) gives the format and, for .npy, whose stem names "
        "the group.",
        "schema": {"type": "string", "minLength": 1},
    },
    {
        "name": "training_steps",
        "in": "query",
        "required": False,
        "description": "Only with an application/octet-stream body: the planned training length.",
        "schema": PROFILE_FORM_SCHEMA["properties"]["training_steps"],
    },
    {
        "name": "framework",
        "in": "query",
        "required": False,
        "description": "Only with an application/octet-stream body: the semantics replays follow.",
        "schema": PROFILE_FORM_SCHEMA["properties"]["framework"],
    },
]

RECOMMENDATION_FORM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["gradients"],
    "properties": {
        # A JSON part (see RECOMMENDATION_FORM_ENCODING): declared as the object it carries, so that clients
        # and fuzzers know it must hold a JSON document, not any string.
        "request": {
            "$ref": "#/components/schemas/RecommendationBody",
            "description": "The JSON request body (without `gradients`), as the text of this form field.",
        },
        "gradients": _GRADIENT_FILE,
    },
}

RECOMMENDATION_FORM_ENCODING: dict[str, Any] = {"request": {"contentType": "application/json"}}
