"""Reading request bodies: content negotiation, strict JSON parsing, multipart uploads.

JSON is parsed here rather than by FastAPI so that depth, NaN/Infinity and encoding problems become precise
400/422 problems (FastAPI's default path would echo the input or, with NaN, fail to serialise its own error).
"""

import difflib
import io
import json
import re
from collections.abc import Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, TypeVar, get_args

import numpy as np
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from optadvisor.profiler.limits import reserve_memory
from optadvisor.service.json_scan import JsonShape, scan_json
from optadvisor.service.problems import FieldError, ProblemError, reported_name
from optadvisor.service.settings import Settings

JSON_MEDIA_TYPE = "application/json"
MULTIPART_MEDIA_TYPE = "multipart/form-data"
OCTET_STREAM_MEDIA_TYPE = "application/octet-stream"
MAX_FORM_PART_BYTES = 1024 * 1024
# Memory one JSON value costs once parsed and validated, at most: a float is a 24-byte object and a slot in
# its list, twice (document and model), plus dict and list overheads; measured up to about 350 bytes per
# value for dense float rows, end to end (benchmarks/hardening/memory.py).
JSON_BYTES_PER_VALUE = 320

# Only numbers with a 3-digit exponent or 309+ digits can overflow to infinity, and only integers of 19+
# digits may not fit 64 bits (numpy would raise on them): bodies without either take the fast paths.
_THREE_DIGIT_EXPONENT = re.compile(rb"[eE]\+?\d{3}")
# Runs of digits are found by substring search in a copy where every digit reads "0": a regex such as
# \d{309} retries at every digit (0.24 s on a 5.9 MB body of floats, against 0.01 s this way).
_DIGITS_AS_ZEROS = bytes(ord("0") if chr(byte).isdigit() and byte < 128 else ord(" ") for byte in range(256))
_INT64_BOUND = 2**63

ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True)
class JsonBody:
    """A request whose body is one JSON document, not parsed yet."""

    raw: bytes


@dataclass(frozen=True)
class MultipartBody:
    """A file upload and its text fields (held in memory): a multipart form, or a raw body whose fields
    come in the query string (`location` says which, for error messages)."""

    fields: dict[str, str]
    upload: UploadFile | None
    location: str = "form"


def _refuse_constant(name: str) -> float:
    raise ProblemError(
        422, f"The JSON body contains {name}; numbers must be finite (NaN and Infinity are not JSON numbers)."
    )


@dataclass(frozen=True)
class _OutOfRange:
    """Stands in the parsed document for a number it cannot hold, until its place is found and named."""

    what: str


_TOO_LARGE_FLOAT = _OutOfRange("a number too large for a 64-bit float")
_TOO_LARGE_INT = _OutOfRange("an integer outside the signed 64-bit range")


def _finite_float(text: str) -> float | _OutOfRange:
    value = float(text)
    return value if np.isfinite(value) else _TOO_LARGE_FLOAT


def _int64(text: str) -> int | _OutOfRange:
    # The length test comes first: int() of 4,300+ digits raises a plain ValueError (CPython's DoS guard).
    if len(text.lstrip("-")) > 19 or not -_INT64_BOUND <= (value := int(text)) < _INT64_BOUND:
        return _TOO_LARGE_INT
    return value


def _out_of_range(document: Any, path: str = "") -> tuple[str, _OutOfRange] | None:
    """Where the first out-of-range number stands in a parsed document (depth is already bounded)."""
    if isinstance(document, _OutOfRange):
        return path, document
    items: Any = ()
    if isinstance(document, dict):
        items = (
            (f"{path}.{reported_name(key)}" if path else reported_name(key), value)
            for key, value in document.items()
        )
    elif isinstance(document, list):
        items = ((f"{path}[{index}]", value) for index, value in enumerate(document))
    for where, value in items:
        if isinstance(value, dict | list | _OutOfRange) and (found := _out_of_range(value, where)):
            return found
    return None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Plain json.loads keeps the last of repeated keys, so two parsers could read one body differently.
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise ProblemError(
                400, f"The JSON body names key {reported_name(key)!r} twice in one object; send it once."
            )
        document[key] = value
    return document


# Bodies up to this size are measured by counting bytes (`_small_shape`) instead of scanning them with numpy.
_SMALL_BODY_BYTES = 16 * 1024


def _small_shape(raw: bytes, max_depth: int) -> JsonShape | None:
    """Bounds on a small body's depth and value count from byte counts alone (C loops, no numpy set-up):
    it cannot nest deeper than it has opening brackets, nor hold more values than it has brackets, commas
    and colons, plus one. None when those bounds are not enough to admit it (the exact scan decides)."""
    if len(raw) > _SMALL_BODY_BYTES:
        return None
    opening = raw.count(b"[") + raw.count(b"{")
    if opening > max_depth:
        return None
    return JsonShape(depth=opening, values=1 + opening + raw.count(b",") + raw.count(b":"))


def parse_json(raw: bytes, max_depth: int, *, what: str = "The request body") -> Any:
    """Parse one JSON document strictly: UTF-8, bounded depth, finite numbers, int64 integers, unique keys."""
    if not raw or raw.isspace():
        raise ProblemError(400, f"{what} is empty; send a JSON object.")
    shape = _small_shape(raw, max_depth) or scan_json(raw)
    if shape.depth > max_depth:
        raise ProblemError(400, f"{what} nests {shape.depth} levels deep; at most {max_depth} are allowed.")
    # Parsing turns every value into a Python object: the body expands many times over (the text and a
    # copy for the number checks, the document, the validated model); counted before any of it is made.
    reserve_memory(2 * len(raw) + shape.values * JSON_BYTES_PER_VALUE, "parsing the JSON body")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ProblemError(400, f"{what} is not valid UTF-8 (byte offset {error.start}).") from None
    digits = raw.translate(_DIGITS_AS_ZEROS)
    may_overflow = b"0" * 309 in digits or _THREE_DIGIT_EXPONENT.search(raw) is not None
    may_exceed_int64 = b"0" * 19 in digits
    del digits  # a body-sized copy: gone before parsing allocates the document
    # The checking parsers note what they replace, so the document is walked (to name the place) only when
    # something was out of range: a run of 19 digits is common in floats (0.0011843227967619896), and walking
    # a 64 x 4,096 array of them took longer than parsing it.
    replaced: list[_OutOfRange] = []

    def finite_float(text: str) -> float | _OutOfRange:
        value = _finite_float(text)
        if isinstance(value, _OutOfRange):
            replaced.append(value)
        return value

    def int64(text: str) -> int | _OutOfRange:
        value = _int64(text)
        if isinstance(value, _OutOfRange):
            replaced.append(value)
        return value

    parse_float = finite_float if may_overflow else float
    parse_int = int64 if may_exceed_int64 else int
    try:
        document = json.loads(
            text,
            parse_constant=_refuse_constant,
            parse_float=parse_float,
            parse_int=parse_int,
            object_pairs_hook=_unique_keys,
        )
    except json.JSONDecodeError as error:
        raise ProblemError(
            400, f"{what} is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}."
        ) from None
    except RecursionError:
        raise ProblemError(400, f"{what} nests too deeply.") from None
    if replaced:
        found = _out_of_range(document)
        if found is not None:
            where, number = found
            raise ProblemError(422, f"{what} holds {number.what} at {where or 'its top level'}.")
    return document


_GRADIENT_SHAPE = (
    'each gradient group is an object: {"format": "dense", "values": [[...], ...]} (T >= 2 steps of D '
    'values) or {"format": "coo", "shape": [T, D], "step": [...], "index": [...], "values": [...]}'
)


def _fields_at(model: type[BaseModel] | None, path: Sequence[str | int]) -> list[str] | None:
    """The fields the (nested) model at `path` accepts, or None when `path` leads to no model."""
    for part in path:
        field = model.model_fields.get(part) if model is not None and isinstance(part, str) else None
        if field is None:
            return None
        model = next(
            (kind for kind in (field.annotation, *get_args(field.annotation)) if _is_model(kind)), None
        )
    return None if model is None else [field.alias or name for name, field in model.model_fields.items()]


def _is_model(kind: object) -> bool:
    return isinstance(kind, type) and issubclass(kind, BaseModel)


def _message(item: ErrorDetails, model: type[BaseModel] | None) -> str:
    loc = item["loc"]
    # This one pydantic message quotes the offending value (the unknown tag); name the choices instead.
    if item["type"] == "union_tag_invalid" and "ctx" in item:
        return f"{item['ctx']['discriminator']} must be one of {item['ctx']['expected_tags']}"
    if item["type"] in ("model_attributes_type", "union_tag_not_found") and loc[:1] == ("gradients",):
        return _GRADIENT_SHAPE
    accepted = _fields_at(model, loc[:-1]) if item["type"] == "extra_forbidden" else None
    if accepted is not None:
        unknown = str(loc[-1])
        nearest = difflib.get_close_matches(unknown, accepted, n=1, cutoff=0.5)
        hint = f"; did you mean {nearest[0]!r}?" if nearest else ""
        return f"unknown field{hint} Accepted here: {', '.join(accepted)}"
    return item["msg"]


def field_errors(
    error: ValidationError, prefix: tuple[str | int, ...] = ("body",), model: type[BaseModel] | None = None
) -> list[FieldError]:
    """The errors of a pydantic validation, located and described, without the offending input."""
    return [
        FieldError(
            loc=[*prefix, *(part if isinstance(part, int) else reported_name(part) for part in item["loc"])],
            msg=_message(item, model),
        )
        for item in error.errors(include_input=False)
    ]


def validate(model: type[ModelT], data: Any, prefix: tuple[str | int, ...] = ("body",)) -> ModelT:
    """Validate `data` against `model`, answering 422 with every invalid field."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        errors = field_errors(error, prefix, model)
        first = errors[0]
        where = ".".join(str(part) for part in first.loc)
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ProblemError(422, f"Invalid value at {where}: {first.msg}{more}.", errors=errors) from None


def media_type(request: Request) -> str:
    """The request's media type, lower-cased, without parameters."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def _multipart_form(request: Request, max_form_fields: int, max_upload_bytes: int) -> FormData:
    """Parse a multipart body, keeping the upload in memory up to `max_upload_bytes`.

    Starlette spools uploads beyond 1 MiB to a temporary file and from then on writes every chunk through the
    thread pool, which more than halves upload throughput; the body is already bounded by the request limit,
    and the loaders copy it into an array anyway, so memory is the cheaper place for it. With the limit at the
    request limit nothing reaches disk, so the form holds no file to close.
    """
    try:
        async with aclosing(request.stream()) as stream:
            parser = MultiPartParser(
                request.headers,
                stream,
                max_files=1,
                max_fields=max_form_fields,
                max_part_size=MAX_FORM_PART_BYTES,
            )
            # Starlette internals: `spool_max_size` is a class attribute of MultiPartParser, set per
            # instance here, because Starlette (1.10) offers no public setting for it: neither
            # `Request.form()` nor the parser's constructor takes it (they take max_files, max_fields and
            # max_part_size only). Keep this only until Starlette offers one.
            parser.spool_max_size = max_upload_bytes
            return await parser.parse()
    except MultiPartException as error:
        raise ProblemError(400, f"The multipart body cannot be parsed: {error.message}") from None


async def _raw_upload(request: Request) -> MultipartBody:
    """A file sent as the whole body; its name (which gives its format) and other fields are query parameters.

    The body streams into one growing buffer, which the `.npy` loader then views without copying: no
    multipart parsing and two copies fewer than a form, the way to send a large `.npy` fastest.
    """
    query = request.query_params
    repeated = sorted(name for name in query if len(query.getlist(name)) > 1)
    if repeated:
        raise ProblemError(400, f"Query parameter {reported_name(repeated[0])!r} is given more than once.")
    fields = dict(query)
    filename = fields.pop("filename", "")
    if not filename:
        raise ProblemError(
            422,
            f"A {OCTET_STREAM_MEDIA_TYPE} body needs query parameter 'filename' naming the file "
            "(its extension gives the format, e.g. ?filename=embedding.weight.npy).",
            errors=[FieldError(loc=["query", "filename"], msg="Field required")],
        )
    return MultipartBody(fields, UploadFile(await _streamed(request), filename=filename), location="query")


async def _streamed(request: Request) -> io.BytesIO:
    """The body in one growing buffer: `request.body()` joins its chunks at the end, briefly holding the
    body twice."""
    content = io.BytesIO()
    async with aclosing(request.stream()) as stream:
        async for chunk in stream:
            content.write(chunk)
    return content


async def read_body(
    request: Request, settings: Settings, *, multipart: bool, raw_upload: bool = False
) -> JsonBody | MultipartBody:
    """Read a JSON body, or where the endpoint takes them a multipart form or (`raw_upload`) a file sent as
    the body itself; other types and encodings get 415."""
    # Every Content-Encoding header and every coding listed in one: a second header must not slip past.
    codings = [
        coding.strip().lower()
        for value in request.headers.getlist("content-encoding")
        for coding in value.split(",")
    ]
    if any(coding != "identity" for coding in codings):
        raise ProblemError(
            415, "Content-Encoding is not supported; send the body uncompressed (Content-Encoding: identity)."
        )
    kind = media_type(request)
    if raw_upload and kind != OCTET_STREAM_MEDIA_TYPE and request.query_params:
        # Two places for one field would let them disagree: the query string is only for raw uploads.
        name = reported_name(next(iter(request.query_params)))
        raise ProblemError(
            422,
            f"Query parameter {name!r} is read only with an {OCTET_STREAM_MEDIA_TYPE} body; "
            "send the fields inside the body.",
            errors=[FieldError(loc=["query", name], msg=f"Allowed only with {OCTET_STREAM_MEDIA_TYPE}")],
        )
    if kind == JSON_MEDIA_TYPE:
        # getvalue() hands over the buffer itself, without a copy.
        return JsonBody((await _streamed(request)).getvalue())
    if multipart and kind == MULTIPART_MEDIA_TYPE:
        form = await _multipart_form(request, settings.max_form_fields, settings.max_request_bytes)
        fields = {name: value for name, value in form.multi_items() if isinstance(value, str)}
        upload = form.get("gradients")
        if upload is not None and not isinstance(upload, UploadFile):
            raise ProblemError(422, "Form field 'gradients' must be a file upload.")
        return MultipartBody(fields, upload)
    if raw_upload and kind == OCTET_STREAM_MEDIA_TYPE:
        return await _raw_upload(request)
    accepted = ", ".join(
        kind
        for kind, taken in (
            (JSON_MEDIA_TYPE, True),
            (MULTIPART_MEDIA_TYPE, multipart),
            (OCTET_STREAM_MEDIA_TYPE, raw_upload),
        )
        if taken
    )
    # The media type is the client's text: quoted only when short and printable, so nothing long is echoed.
    shown = repr(kind) if kind and len(kind) <= 64 and kind.isprintable() else "this one"
    sent = f"Content-Type {shown} is" if kind else "A body without a Content-Type header is"
    raise ProblemError(415, f"{sent} not supported here; send {accepted}.")
