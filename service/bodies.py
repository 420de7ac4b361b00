"""Reading request bodies: content negotiation, strict JSON parsing, multipart uploads.

JSON is parsed here rather than by FastAPI so that depth, NaN/Infinity and encoding problems become precise
400/422 problems (FastAPI's default path would echo the input or, with NaN, fail to serialise its own error).
"""

import json
import re
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile
from starlette.requests import Request

from service.problems import FieldError, ProblemError

JSON_MEDIA_TYPE = "application/json"
MULTIPART_MEDIA_TYPE = "multipart/form-data"
MAX_FORM_PART_BYTES = 1024 * 1024

# Strings are dropped before counting brackets, since brackets inside them do not nest.
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_A_BRACKET = bytes(byte for byte in range(256) if byte not in b"[]{}")
_BRACKET_STEP = np.zeros(256, dtype=np.int8)
_BRACKET_STEP[list(b"[{")] = 1
_BRACKET_STEP[list(b"]}")] = -1
# Only numbers with a 3-digit exponent or 309+ digits can overflow to infinity; others take the fast path.
_MAY_OVERFLOW = re.compile(rb"[eE]\+?\d{3}|\d{309}")

ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True)
class JsonBody:
    """A request whose body is one JSON document, not parsed yet."""

    raw: bytes


@dataclass(frozen=True)
class MultipartBody:
    """A multipart request: its text fields and its `gradients` upload (spooled by Starlette)."""

    fields: dict[str, str]
    upload: UploadFile | None


def json_depth(raw: bytes) -> int:
    """Deepest nesting of arrays/objects in `raw`, counted without parsing (linear, vectorised)."""
    brackets = _JSON_STRING.sub(b'""', raw).translate(None, _NOT_A_BRACKET)
    if not brackets:
        return 0
    depth = np.cumsum(_BRACKET_STEP[np.frombuffer(brackets, dtype=np.uint8)], dtype=np.int64)
    return int(depth.max())


def _refuse_constant(name: str) -> float:
    raise ProblemError(
        422, f"The JSON body contains {name}; numbers must be finite (NaN and Infinity are not JSON numbers)."
    )


def _finite_float(text: str) -> float:
    value = float(text)
    if not np.isfinite(value):
        raise ProblemError(422, "The JSON body contains a number too large for a 64-bit float.")
    return value


def parse_json(raw: bytes, max_depth: int, *, what: str = "The request body") -> Any:
    """Parse one JSON document strictly: UTF-8, bounded depth, finite numbers only."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ProblemError(400, f"{what} is not valid UTF-8 (byte offset {error.start}).") from None
    if not text.strip():
        raise ProblemError(400, f"{what} is empty; send a JSON object.")
    depth = json_depth(raw)
    if depth > max_depth:
        raise ProblemError(400, f"{what} nests {depth} levels deep; at most {max_depth} are allowed.")
    parse_float = _finite_float if _MAY_OVERFLOW.search(raw) else float
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=parse_float)
    except json.JSONDecodeError as error:
        raise ProblemError(
            400, f"{what} is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}."
        ) from None
    except RecursionError:
        raise ProblemError(400, f"{what} nests too deeply.") from None


def field_errors(error: ValidationError, prefix: tuple[str | int, ...] = ("body",)) -> list[FieldError]:
    """The errors of a pydantic validation, located and described, without the offending input."""
    return [
        FieldError(loc=[*prefix, *item["loc"]], msg=item["msg"]) for item in error.errors(include_input=False)
    ]


def validate(model: type[ModelT], data: Any, prefix: tuple[str | int, ...] = ("body",)) -> ModelT:
    """Validate `data` against `model`, answering 422 with every invalid field."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        errors = field_errors(error, prefix)
        first = errors[0]
        where = ".".join(str(part) for part in first.loc)
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ProblemError(422, f"Invalid value at {where}: {first.msg}{more}.", errors=errors) from None


def media_type(request: Request) -> str:
    """The request's media type, lower-cased, without parameters."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def read_body(request: Request, *, multipart: bool, max_form_fields: int) -> JsonBody | MultipartBody:
    """Read a JSON or (where the endpoint takes one) multipart body; other types and encodings get 415."""
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding != "identity":
        raise ProblemError(
            415, f"Content-Encoding {encoding[:80]!r} is not supported; send the body uncompressed."
        )
    kind = media_type(request)
    if kind == JSON_MEDIA_TYPE:
        return JsonBody(await request.body())
    if multipart and kind == MULTIPART_MEDIA_TYPE:
        form = await request.form(max_files=1, max_fields=max_form_fields, max_part_size=MAX_FORM_PART_BYTES)
        fields = {name: value for name, value in form.multi_items() if isinstance(value, str)}
        upload = form.get("gradients")
        if upload is not None and not isinstance(upload, UploadFile):
            raise ProblemError(422, "Form field 'gradients' must be a file upload.")
        return MultipartBody(fields, upload)
    accepted = f"{JSON_MEDIA_TYPE} or {MULTIPART_MEDIA_TYPE}" if multipart else JSON_MEDIA_TYPE
    shown = kind[:80] or "none"
    raise ProblemError(415, f"Content-Type {shown!r} is not supported here; send {accepted}.")
