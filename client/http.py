"""`OptadvisorClient`: the service's endpoints as Python methods (httpx, synchronous)."""

import io
import json
import math
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, Self
from urllib.parse import quote

import httpx

from optadvisor.client.errors import (
    ApiProblemError,
    InvalidRequestError,
    InvalidUrlError,
    NotFoundError,
    ServerBusyError,
    ServerFaultError,
    ServerUnreachableError,
    UnauthorizedError,
    UnencodableRequestError,
)

DEFAULT_URL = "http://127.0.0.1:8000"
MAX_RETRY_WAIT_SECONDS = 60.0

GradientFile = str | Path | tuple[str, BinaryIO | bytes]
"""A .npy/.npz/.safetensors file: a path, or (filename, stream or bytes)."""


def _problem_of(response: httpx.Response) -> dict[str, Any]:
    try:
        document = response.json()
    except ValueError:
        document = None
    if isinstance(document, dict):
        return document
    return {"status": response.status_code, "title": response.reason_phrase, "detail": response.text[:200]}


def _retry_after(response: httpx.Response) -> float | None:
    """The seconds a 429/503 asks to wait (its Retry-After), when it names a number of them."""
    value = response.headers.get("retry-after", "")
    return float(value) if value.isdigit() else None


def _raise_for_problem(response: httpx.Response) -> None:
    if response.is_success:
        return
    status = response.status_code
    problem = _problem_of(response)
    if status == 401:
        raise UnauthorizedError(status, problem)
    if status == 404:
        raise NotFoundError(status, problem)
    if status in (429, 503):
        raise ServerBusyError(status, problem, _retry_after(response))
    if 400 <= status < 500:
        raise InvalidRequestError(status, problem)
    if status >= 500:
        raise ServerFaultError(status, problem)
    raise ApiProblemError(status, problem)


def _unencodable(document: Any, path: str) -> str | None:  # noqa: PLR0911  one return per JSON kind
    """Where in `document` the first value JSON cannot carry is, and what it is; None if there is none."""
    if isinstance(document, dict):
        for key, value in document.items():
            if not (key is None or isinstance(key, str | int | float)):  # the keys json turns into strings
                return f"{path} has a {type(key).__name__} key"
            if found := _unencodable(value, f"{path}.{key}"):
                return found
        return None
    if isinstance(document, list | tuple):
        return next(
            (found for i, value in enumerate(document) if (found := _unencodable(value, f"{path}[{i}]"))),
            None,
        )
    if isinstance(document, float) and not math.isfinite(document):
        return f"{path} is {document} (JSON has no NaN or infinity)"
    if document is None or isinstance(document, str | int | float):
        return None
    return f"{path} is a {type(document).__name__}, which JSON cannot carry"


def _json_text(document: Any) -> str:
    """`document` as JSON; a value JSON cannot carry is refused here, naming where it is."""
    try:
        return json.dumps(document, allow_nan=False, separators=(",", ":"))
    except (ValueError, TypeError):
        raise UnencodableRequestError(
            f"{_unencodable(document, 'request') or 'the request is not JSON'}; nothing was sent"
        ) from None


def _server_url(text: str) -> httpx.URL:
    try:
        url = httpx.URL(text)
    except httpx.InvalidURL as error:
        raise InvalidUrlError(f"invalid server URL {text!r}: {error}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise InvalidUrlError(
            f"invalid server URL {text!r}: give it as http://host:port or https://host:port"
        )
    return url


@contextmanager
def _opened(gradients: GradientFile) -> Iterator[tuple[str, BinaryIO]]:
    """The file's name and a readable stream of it; a path is opened (and closed) here, never read whole."""
    if isinstance(gradients, tuple):
        name, content = gradients
        yield name, io.BytesIO(content) if isinstance(content, bytes) else content
        return
    path = Path(gradients)
    with path.open("rb") as stream:
        yield path.name, stream


def _pieces(stream: BinaryIO) -> Iterator[bytes]:
    # httpx sends a large `bytes` body several times slower than the same bytes in pieces (256 MiB: 4.8 s
    # against 0.7 s), so files go out 1 MiB at a time.
    while piece := stream.read(1 << 20):
        yield piece


def _rewinder(stream: BinaryIO) -> Callable[[], bool]:
    """A function that rewinds `stream` to where it is now, for another send; it says False if it cannot."""
    start = stream.tell() if stream.seekable() else None

    def rewind() -> bool:
        if start is not None:
            stream.seek(start)
        return start is not None

    return rewind


class OptadvisorClient:
    """Talks to one optadvisor server. `url` and `api_key` default to OPTADVISOR_URL / OPTADVISOR_API_KEY.

    A 429 or 503 answer (the server is saturated) is retried up to `retries` times, each after the
    Retry-After the server names (1 s if none, at most a minute); the endpoints compute without side
    effects, so a retry is safe. After that the call raises ServerBusyError.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float = 300.0,
        retries: int = 2,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if retries < 0:
            raise ValueError(f"Invalid retries: {retries}")
        self._retries = retries
        base_url = _server_url(url or os.environ.get("OPTADVISOR_URL") or DEFAULT_URL)
        key = api_key if api_key is not None else os.environ.get("OPTADVISOR_API_KEY")
        headers = {"X-API-Key": key} if key else {}
        self._http = httpx.Client(base_url=base_url, headers=headers, timeout=timeout, transport=transport)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send (see `_send`) and read the JSON answer; None for 204 No Content."""
        response = self._send(method, path, **kwargs)
        return None if response.status_code == 204 else response.json()

    def _send(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        rewind: Callable[[], bool] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send, retrying a saturated server's 429/503; `rewind` readies a streamed body to be sent again."""
        if json_body is not None:
            kwargs["content"] = _json_text(json_body)
            kwargs["headers"] = {**kwargs.get("headers", {}), "content-type": "application/json"}
        content = kwargs.pop("content", None)
        for attempt in range(self._retries + 1):
            # A generator body is consumed by a send: it is made again from the rewound stream.
            body = content() if callable(content) else content
            try:
                response = self._http.request(method, path, content=body, **kwargs)
            except httpx.TransportError as error:
                raise ServerUnreachableError(f"cannot reach {self._http.base_url}: {error}") from error
            busy = response.status_code in (429, 503)
            if not busy or attempt == self._retries or (rewind is not None and not rewind()):
                break
            delay = _retry_after(response)
            time.sleep(1.0 if delay is None else min(delay, MAX_RETRY_WAIT_SECONDS))
        _raise_for_problem(response)
        return response

    def recommend(
        self,
        profile: dict[str, Any] | None = None,
        *,
        gradients: dict[str, Any] | GradientFile | None = None,
        framework: str | None = None,
        candidates: list[str] | None = None,
        recorded_every: int | None = None,
    ) -> dict[str, Any]:
        """POST /v1/recommendations. `gradients` is the JSON samples mapping, or a gradient file;
        `recorded_every` the training steps between two recorded steps of it."""
        body: dict[str, Any] = {}
        if profile is not None:
            body["profile"] = profile
        if framework is not None:
            body["framework"] = framework
        if candidates is not None:
            body["candidates"] = candidates
        if recorded_every is not None:
            body["recorded_every"] = recorded_every
        return self.recommend_request(body, gradients=gradients)

    def recommend_request(
        self, body: dict[str, Any], *, gradients: dict[str, Any] | GradientFile | None = None
    ) -> dict[str, Any]:
        """POST /v1/recommendations with a whole request body (plus, optionally, gradients)."""
        if gradients is None or isinstance(gradients, dict):
            payload = body if gradients is None else {**body, "gradients": gradients}
            return dict(self._request("POST", "/v1/recommendations", json_body=payload))
        with _opened(gradients) as (name, stream):
            files = {"gradients": (name, stream)}
            data = {"request": _json_text(body)}
            rewind = _rewinder(stream)
            return dict(self._request("POST", "/v1/recommendations", data=data, files=files, rewind=rewind))

    def profile(
        self,
        gradients: dict[str, Any] | GradientFile,
        *,
        training_steps: int | None = None,
        framework: str | None = None,
        recorded_every: int | None = None,
    ) -> dict[str, Any]:
        """POST /v1/profiles with JSON samples, or a gradient file sent as the body itself."""
        options: dict[str, Any] = {}
        if training_steps is not None:
            options["training_steps"] = training_steps
        if framework is not None:
            options["framework"] = framework
        if recorded_every is not None:
            options["recorded_every"] = recorded_every
        if isinstance(gradients, dict):
            return dict(self._request("POST", "/v1/profiles", json_body={"gradients": gradients, **options}))
        with _opened(gradients) as (name, stream):
            return dict(
                self._request(
                    "POST",
                    "/v1/profiles",
                    params={"filename": name, **{key: str(value) for key, value in options.items()}},
                    content=lambda: _pieces(stream),
                    headers={"content-type": "application/octet-stream"},
                    rewind=_rewinder(stream),
                )
            )

    def replay(
        self,
        gradients: dict[str, Any],
        runs: list[dict[str, Any]],
        *,
        trace_coordinates: dict[str, list[int]] | None = None,
    ) -> dict[str, Any]:
        """POST /v1/replays."""
        body: dict[str, Any] = {"gradients": gradients, "runs": runs}
        if trace_coordinates is not None:
            body["trace_coordinates"] = trace_coordinates
        return dict(self._request("POST", "/v1/replays", json_body=body))

    def optimizers(self) -> list[dict[str, Any]]:
        """GET /v1/optimizers."""
        return list(self._request("GET", "/v1/optimizers"))

    def optimizer(self, name: str) -> dict[str, Any]:
        """GET /v1/optimizers/{name}."""
        return dict(self._request("GET", f"/v1/optimizers/{quote(name, safe='')}"))

    def rules(self) -> dict[str, Any]:
        """GET /v1/rules."""
        return dict(self._request("GET", "/v1/rules"))

    def openapi(self) -> dict[str, Any]:
        """GET /openapi.json: the API's schema, each measured figure's meaning among it."""
        return dict(self._request("GET", "/openapi.json"))

    # --- studies: every answer is one; outcomes go back to it ------------------------------------------

    def study(self, study_id: str) -> dict[str, Any]:
        """GET /v1/recommendations/{id}: the stored answer, what was asked and measured, every outcome."""
        return dict(self._request("GET", _study_path(study_id)))

    def studies(self, *, limit: int = 20, cursor: str | None = None) -> dict[str, Any]:
        """GET /v1/recommendations: this key's studies, newest first (`next_cursor` pages on)."""
        params: dict[str, Any] = {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        return dict(self._request("GET", "/v1/recommendations", params=params))

    def report_outcome(  # noqa: PLR0913  public method mirroring the outcome body's optional fields
        self,
        study_id: str,
        *,
        metric: float | None = None,
        plan_index: int | None = None,
        method: str | None = None,
        kwargs: dict[str, Any] | None = None,
        groups: dict[str, Any] | None = None,
        metric_name: str | None = None,
        lower_is_better: bool = True,
        steps: int | None = None,
        diverged: bool = False,
        tracker: dict[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """POST /v1/recommendations/{id}/outcomes: one finished (or diverged) run, named by `plan_index`,
        by `method` and `kwargs`, or by per-group `groups`. It is sent with an Idempotency-Key (a fresh one
        unless given), so the client's own retries, and yours with the same key, store it once."""
        body: dict[str, Any] = {"lower_is_better": lower_is_better, "diverged": diverged}
        for name, value in (
            ("metric", metric),
            ("plan_index", plan_index),
            ("method", method),
            ("kwargs", kwargs),
            ("groups", groups),
            ("metric_name", metric_name),
            ("steps", steps),
            ("tracker", tracker),
        ):
            if value is not None:
                body[name] = value
        headers = {"Idempotency-Key": idempotency_key or uuid.uuid4().hex}
        return dict(
            self._request("POST", f"{_study_path(study_id)}/outcomes", json_body=body, headers=headers)
        )

    def next(self, study_id: str) -> dict[str, Any]:
        """GET /v1/recommendations/{id}/next: the next configuration to run, or `done`."""
        return dict(self._request("GET", f"{_study_path(study_id)}/next"))

    def report(self, study_id: str) -> str:
        """GET /v1/recommendations/{id}/report: the study's HTML page."""
        return self._send("GET", f"{_study_path(study_id)}/report").text

    def delete_study(self, study_id: str) -> None:
        """DELETE /v1/recommendations/{id}: the study and its outcomes, for good."""
        self._request("DELETE", _study_path(study_id))


def _study_path(study_id: str) -> str:
    return f"/v1/recommendations/{quote(study_id, safe='')}"
