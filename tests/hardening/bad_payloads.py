"""Malformed requests, each carrying marker values that must never come back in the answer.

Every payload is built from scratch (no server involved) and described by a `BadRequest`: where it
goes, its bytes and headers, and the statuses the service documents for it.
"""

import gzip
import io
import json
import pickle
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np

# Markers placed in values (never in names: field paths and group names are reported on purpose).
TEXT_MARKER = "zqmark7731"
NUMBER_MARKER = "0.918273645"
MARKERS = (TEXT_MARKER, NUMBER_MARKER.removeprefix("0."))
MARKER_FLOAT = float(NUMBER_MARKER)

JSON_HEADERS = {"content-type": "application/json"}


@dataclass(frozen=True)
class BadRequest:
    path: str
    content: bytes
    headers: dict[str, str]
    statuses: tuple[int, ...]


def _json(path: str, document: Any, *statuses: int) -> BadRequest:
    return BadRequest(path, json.dumps(document).encode(), JSON_HEADERS, statuses)


def _raw_json(path: str, text: str | bytes, *statuses: int) -> BadRequest:
    content = text.encode() if isinstance(text, str) else text
    return BadRequest(path, content, JSON_HEADERS, statuses)


def _json_with_literal(path: str, document: Any, literal: str, *statuses: int) -> BadRequest:
    """`document` as JSON with its "@@" string replaced by `literal`, raw text JSON cannot produce."""
    return _raw_json(path, json.dumps(document).replace('"@@"', literal), *statuses)


def _valid_dense() -> dict[str, Any]:
    return {"format": "dense", "values": [[0.01, 0.0, -0.02], [0.012, 0.0, -0.018], [0.009, 0.3, -0.021]]}


def _profile(sample: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"gradients": {"layer": sample}, **extra}


def _coo(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "format": "coo",
        "shape": [3, 4],
        "step": [0, 1],
        "index": [1, 2],
        "values": [MARKER_FLOAT, MARKER_FLOAT],
    }
    return {**base, **fields}


def _multipart(
    path: str,
    *statuses: int,
    files: list[tuple[str, tuple[str, bytes]]] | None = None,
    data: dict[str, str] | None = None,
) -> BadRequest:
    request = httpx.Request("POST", "http://x/", files=files, data=data)
    return BadRequest(path, request.read(), {"content-type": request.headers["content-type"]}, statuses)


def _upload(filename: str, content: bytes, *statuses: int) -> BadRequest:
    return _multipart("/v1/profiles", *statuses, files=[("gradients", (filename, content))])


def _npy_header(descr: str, shape: tuple[int, ...]) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def _marker_bytes_array() -> np.ndarray:
    row = np.frombuffer((TEXT_MARKER * 8).encode(), dtype=np.uint8)
    return np.tile(row, (4, 1))


def _npy(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def _zip_bomb(decompressed_bytes: int) -> bytes:
    """One deflated `.npy` member of zeros: about 1000:1, streamed so the builder never holds it whole."""
    buffer = io.BytesIO()
    chunk = bytes(1 << 20)
    with (
        zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        archive.open("layer.npy", "w", force_zip64=True) as member,
    ):
        member.write(_npy_header("<f8", (decompressed_bytes // 8,)))
        for _ in range(decompressed_bytes // len(chunk)):
            member.write(chunk)
    return buffer.getvalue()


def _npz_with_member(name: str, content: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, content)
    return buffer.getvalue()


def _safetensors(header: dict[str, Any], data: bytes, declared_length: int | None = None) -> bytes:
    encoded = json.dumps({"__metadata__": {"note": TEXT_MARKER}, **header}).encode()
    length = len(encoded) if declared_length is None else declared_length
    return struct.pack("<Q", length) + encoded + data


def _tensor(dtype: str, shape: list[int], begin: int, end: int) -> dict[str, Any]:
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


def _two_gradient_parts() -> BadRequest:
    first = ("a.npy", _npy(np.full((3, 2), MARKER_FLOAT, np.float32)))
    second = ("b.npy", _npy(np.full((3, 2), MARKER_FLOAT, np.float32)))
    return _multipart("/v1/profiles", 400, 422, files=[("gradients", first), ("gradients", second)])


def _million_element_scalar() -> BadRequest:
    # 10^6 numbers where an integer belongs, then the marker: the list must not come back.
    numbers = "[" + "7," * 1_000_000 + f'"{TEXT_MARKER}"]'
    return _json_with_literal("/v1/profiles", _profile(_valid_dense(), training_steps="@@"), numbers, 422)


def _deep_values() -> BadRequest:
    depth = 100_000
    text = '{"gradients": {"layer": {"format": "dense", "values": ' + "[" * depth + NUMBER_MARKER
    return _raw_json("/v1/profiles", text + "]" * depth + "}}}", 400)


def _duplicate_keys() -> BadRequest:
    # The later value would silently win under plain json.loads; the service refuses the ambiguity.
    duplicated = f'10, "training_steps": "{TEXT_MARKER}"'
    return _json_with_literal("/v1/profiles", _profile(_valid_dense(), training_steps="@@"), duplicated, 400)


def _gzip_body() -> BadRequest:
    body = gzip.compress(json.dumps(_profile(_coo(), note=TEXT_MARKER)).encode())
    return BadRequest("/v1/profiles", body, {**JSON_HEADERS, "content-encoding": "gzip"}, (415,))


PAYLOADS: dict[str, Callable[[], BadRequest]] = {
    # Gradient samples as JSON: the profiler's own checks.
    "dense-ragged-rows": lambda: _json(
        "/v1/profiles", _profile({"format": "dense", "values": [[1.0, MARKER_FLOAT], [MARKER_FLOAT]]}), 422
    ),
    "dense-one-step": lambda: _json(
        "/v1/profiles", _profile({"format": "dense", "values": [[MARKER_FLOAT, 1.0]]}), 422
    ),
    "dense-zero-coordinates": lambda: _json(
        "/v1/profiles", _profile({"format": "dense", "values": [[], []]}, training_steps=918273645), 422
    ),
    "dense-non-numeric": lambda: _json(
        "/v1/profiles", _profile({"format": "dense", "values": [[TEXT_MARKER, 1.0], [1.0, 2.0]]}), 422
    ),
    "dense-boolean-values": lambda: _json(
        "/v1/profiles", _profile({"format": "dense", "values": [[True, MARKER_FLOAT], [1.0, 2.0]]}), 422
    ),
    "coo-nan-value": lambda: _json_with_literal(
        "/v1/profiles", _profile(_coo(values=[MARKER_FLOAT, "@@"])), "NaN", 422
    ),
    "coo-negative-infinity": lambda: _json_with_literal(
        "/v1/profiles", _profile(_coo(values=[MARKER_FLOAT, "@@"])), "-Infinity", 422
    ),
    "parameters-1e999": lambda: _json_with_literal(
        "/v1/profiles",
        _profile({**_valid_dense(), "parameters": "@@"}),
        f"[{NUMBER_MARKER}, 1e999, 1.0]",
        422,
    ),
    "coo-index-out-of-range": lambda: _json("/v1/profiles", _profile(_coo(index=[1, 4])), 422),
    "coo-negative-step": lambda: _json("/v1/profiles", _profile(_coo(step=[-1, 0])), 422),
    "coo-duplicate-coordinates": lambda: _json(
        "/v1/profiles", _profile(_coo(step=[1, 1], index=[2, 2])), 422
    ),
    "coo-lengths-disagree": lambda: _json("/v1/profiles", _profile(_coo(step=[0, 1, 2])), 422),
    "coo-shape-2^40-squared": lambda: _json("/v1/profiles", _profile(_coo(shape=[2**40, 2**40])), 413, 422),
    "coo-index-beyond-int64": lambda: _json("/v1/profiles", _profile(_coo(index=[10**30, 1])), 422),
    "coo-shape-one-dimension": lambda: _json("/v1/profiles", _profile(_coo(shape=[3])), 422),
    "step-norms-disagree-with-shape": lambda: _json(
        "/v1/profiles", _profile({**_valid_dense(), "step_norms": [MARKER_FLOAT]}), 422
    ),
    # JSON documents that are malformed or of the wrong shape.
    "deeply-nested-values": _deep_values,
    "million-element-list-for-a-scalar": _million_element_scalar,
    "integer-of-5000-digits": lambda: _json_with_literal(
        "/v1/profiles", _profile(_valid_dense(), training_steps="@@"), "9" * 5000, 400, 422
    ),
    "wrong-types": lambda: _json(
        "/v1/profiles", {"gradients": TEXT_MARKER, "framework": 3, "training_steps": {"x": TEXT_MARKER}}, 422
    ),
    "unknown-field": lambda: _json("/v1/profiles", _profile(_valid_dense(), extra_field=TEXT_MARKER), 422),
    # Field paths are reported, but a name of attacker-chosen length is cut short before the marker.
    "unknown-field-with-10k-name": lambda: _json(
        "/v1/profiles", _profile(_valid_dense(), **{"n" * 10_000 + TEXT_MARKER: 1}), 422
    ),
    "unknown-sample-format": lambda: _json(
        "/v1/profiles", _profile({"format": TEXT_MARKER, "values": [[1.0], [2.0]]}), 422
    ),
    "duplicate-keys": _duplicate_keys,
    "top-level-array": lambda: _json("/v1/profiles", [TEXT_MARKER, MARKER_FLOAT], 422),
    "non-utf8-text": lambda: _raw_json(
        "/v1/profiles", b'{"gradients": {"layer": "' + TEXT_MARKER.encode() + b'\xc3\x28\xff"}}', 400
    ),
    "truncated-json": lambda: _raw_json("/v1/profiles", json.dumps(_profile(_coo()))[:-7], 400),
    "gzip-encoded-body": _gzip_body,
    "text-plain-body": lambda: BadRequest(
        "/v1/profiles", TEXT_MARKER.encode(), {"content-type": "text/plain"}, (415,)
    ),
    # Multipart forms.
    "empty-multipart": lambda: BadRequest(
        "/v1/profiles",
        b"--BOUNDARY--\r\n",
        {"content-type": "multipart/form-data; boundary=BOUNDARY"},
        (400, 422),
    ),
    "multipart-without-boundary": lambda: BadRequest(
        "/v1/profiles", TEXT_MARKER.encode(), {"content-type": "multipart/form-data"}, (400,)
    ),
    "two-gradients-parts": _two_gradient_parts,
    "form-field-wrong-type": lambda: _multipart(
        "/v1/profiles",
        422,
        files=[("gradients", ("g.npy", _npy(np.ones((3, 2), np.float32))))],
        data={"training_steps": TEXT_MARKER},
    ),
    "form-field-unexpected": lambda: _multipart(
        "/v1/profiles",
        422,
        files=[("gradients", ("g.npy", _npy(np.ones((3, 2), np.float32))))],
        data={"zq_field": TEXT_MARKER},
    ),
    "form-request-not-json": lambda: _multipart(
        "/v1/recommendations",
        400,
        files=[("gradients", ("g.npy", _npy(np.ones((3, 2), np.float32))))],
        data={"request": "{" + TEXT_MARKER},
    ),
    # Gradient files.
    "npy-object-dtype": lambda: _upload(
        "g.npy", _npy(np.array([TEXT_MARKER, {"k": TEXT_MARKER}], dtype=object), allow_pickle=True), 415
    ),
    "npy-header-claims-1e11-elements": lambda: _upload(
        "g.npy", _npy_header("<f8", (10**11,)) + TEXT_MARKER.encode(), 413
    ),
    "npy-truncated-data": lambda: _upload("g.npy", _npy(_marker_bytes_array())[:-40], 422),
    "npy-nine-dimensions": lambda: _upload("g.npy", _npy(np.zeros((2, *(1,) * 8), np.float32)), 422),
    "npy-complex-dtype": lambda: _upload("g.npy", _npy(np.full((2, 2), MARKER_FLOAT, np.complex64)), 415),
    "npz-zip-bomb": lambda: _upload("g.npz", _zip_bomb(64 * 1024 * 1024), 413),
    "npz-member-not-npy": lambda: _upload("g.npz", _npz_with_member("notes.txt", TEXT_MARKER.encode()), 422),
    "safetensors-bf16": lambda: _upload(
        "g.safetensors", _safetensors({"w": _tensor("BF16", [2, 2], 0, 8)}, bytes(8)), 415
    ),
    "safetensors-offsets-past-the-end": lambda: _upload(
        "g.safetensors", _safetensors({"w": _tensor("F32", [2, 2], 0, 16)}, bytes(8)), 422
    ),
    "safetensors-overlapping-offsets": lambda: _upload(
        "g.safetensors",
        _safetensors({"a": _tensor("F32", [2, 2], 0, 16), "b": _tensor("F32", [2, 2], 8, 24)}, bytes(24)),
        422,
    ),
    "safetensors-header-length-2^40": lambda: _upload(
        "g.safetensors", _safetensors({}, b"", declared_length=2**40), 413
    ),
    "pickle-as-pt": lambda: _upload("model.pt", pickle.dumps({"w": TEXT_MARKER}), 415),
    "pickle-renamed-npy": lambda: _upload("g.npy", pickle.dumps([TEXT_MARKER]), 415),
    "unknown-file-extension": lambda: _upload("g.csv", f"{TEXT_MARKER},1\n2,3\n".encode(), 415),
    # Replays.
    "replay-unknown-method": lambda: _json(
        "/v1/replays", {"gradients": {"layer": _valid_dense()}, "runs": [{"method": TEXT_MARKER}]}, 422
    ),
    "replay-trace-out-of-range": lambda: _json(
        "/v1/replays",
        {
            "gradients": {"layer": _valid_dense()},
            "runs": [{"method": "adagrad"}],
            "trace_coordinates": {"layer": [918273645]},
        },
        422,
    ),
}
