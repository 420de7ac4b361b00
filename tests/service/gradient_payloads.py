"""Gradient samples for requests: small, seeded, in every wire form the service accepts."""

import io
from typing import Any

import numpy as np
from safetensors.numpy import save as safetensors_save


def gradient_array(steps: int = 12, coordinates: int = 24, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = rng.normal(0.0, 0.01, size=(steps, coordinates)).astype(np.float32)
    values[:, ::3] = 0.0  # a third of the coordinates never fire: sparsity is visible
    return values


def dense_json(array: np.ndarray | None = None) -> dict[str, Any]:
    values = gradient_array() if array is None else array
    return {"format": "dense", "values": values.astype(float).tolist()}


def npy_bytes(array: np.ndarray | None = None) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, gradient_array() if array is None else array)
    return buffer.getvalue()


def npz_bytes() -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, encoder=gradient_array(seed=1), decoder=gradient_array(seed=2))
    return buffer.getvalue()


def safetensors_bytes() -> bytes:
    return bytes(safetensors_save({"fc.weight": gradient_array(seed=3)}))
