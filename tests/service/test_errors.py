"""Every error is an RFC 9457 problem with the right status, naming the place, never echoing input."""

import io
import json
import time
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
from gradient_payloads import dense_json
from live_server import BODY_LIMIT

PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["status"] == status
    assert problem["title"]
    assert problem["detail"]
    assert "Traceback" not in response.text
    return problem


def post_raw(
    api: httpx.Client, path: str, content: bytes, content_type: str = "application/json"
) -> httpx.Response:
    return api.post(path, content=content, headers={"content-type": content_type})


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b'{"profile": ', "not valid JSON"),
        (b'{"profile": {"x": "\xff\xfe"}}', "UTF-8"),
        (b"", "empty"),
        (b"[" * 5000 + b"]" * 5000, "levels deep"),
    ],
    ids=["truncated", "not-utf8", "empty", "deep"],
)
def test_malformed_json_is_400(api: httpx.Client, content: bytes, fragment: str) -> None:
    problem = assert_problem(post_raw(api, "/v1/recommendations", content), 400)
    assert fragment in str(problem["detail"])


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers_are_422_without_echo(api: httpx.Client, token: str) -> None:
    marker = "7.123456789"
    content = f'{{"profile": {{"gradient_sparsity": {token}, "training_steps": {marker}}}}}'.encode()
    response = post_raw(api, "/v1/recommendations", content)
    assert_problem(response, 422)
    assert marker not in response.text
    gradients = f'{{"gradients": {{"g": {{"format": "dense", "values": [[1.0, {token}], [0.5, 0.25]]}}}}}}'
    assert_problem(post_raw(api, "/v1/profiles", gradients.encode()), 422)


def test_invalid_values_are_422_naming_the_field(api: httpx.Client) -> None:
    secret = "not-a-family-0451"
    response = api.post("/v1/recommendations", json={"profile": {"model_family": secret, "tuning_budget": 0}})
    problem = assert_problem(response, 422)
    locations = {tuple(error["loc"]) for error in problem["errors"]}  # type: ignore[union-attr]
    assert ("body", "profile", "model_family") in locations
    assert ("body", "profile", "tuning_budget") in locations
    assert secret not in response.text


def test_gradient_problems_name_the_group(api: httpx.Client) -> None:
    ragged = {"format": "dense", "values": [[1.0, 2.0], [1.0]]}
    problem = assert_problem(api.post("/v1/profiles", json={"gradients": {"decoder.bias": ragged}}), 422)
    assert "decoder.bias" in str(problem["detail"])


def test_magnitudes_beyond_float32_are_422_naming_group_and_row(api: httpx.Client) -> None:
    # Finite in JSON, but inf in the float32 replays (and once a misleading 422 from a NaN figure).
    gradients = {"decoder.bias": {"format": "dense", "values": [[1.0, 2.0], [3.0, -1.5e300]]}}
    for path, body in [
        ("/v1/profiles", {"gradients": gradients}),
        ("/v1/recommendations", {"gradients": gradients}),
        ("/v1/replays", {"gradients": gradients, "runs": [{"method": "adagrad"}]}),
    ]:
        detail = str(assert_problem(api.post(path, json=body), 422)["detail"])
        assert "'decoder.bias'" in detail
        assert "row 1" in detail
        assert "largest float32" in detail
        assert "1.5e" not in detail


def test_unreadable_upload_is_a_4xx(api: httpx.Client) -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}, {"b": 2}], dtype=object), allow_pickle=True)
    response = api.post("/v1/profiles", files={"gradients": ("layer.npy", buffer.getvalue())})
    assert response.status_code in (415, 422)
    assert_problem(response, response.status_code)
    pickle_file = api.post("/v1/profiles", files={"gradients": ("model.pt", b"\x80\x04K\x01.")})
    assert_problem(pickle_file, 415)


def test_unsupported_media_types_are_415(api: httpx.Client) -> None:
    assert_problem(post_raw(api, "/v1/recommendations", b"{}", "text/plain"), 415)
    gzipped = api.post(
        "/v1/recommendations",
        content=b"{}",
        headers={"content-type": "application/json", "content-encoding": "gzip"},
    )
    assert_problem(gzipped, 415)
    replay_form = api.post("/v1/replays", files={"gradients": ("a.npy", b"x")})
    assert_problem(replay_form, 415)


def _oversized_json() -> bytes:
    row = json.dumps([0.001] * 64)
    rows = ",".join([row] * (BODY_LIMIT // len(row) + 10))
    body = f'{{"gradients": {{"g": {{"format": "dense", "values": [{rows}]}}}}}}'.encode()
    assert len(body) > BODY_LIMIT
    return body


def _chunks(body: bytes) -> Iterator[bytes]:
    for start in range(0, len(body), 64 * 1024):
        yield body[start : start + 64 * 1024]


def test_oversized_json_is_413_with_content_length(api: httpx.Client) -> None:
    problem = assert_problem(post_raw(api, "/v1/profiles", _oversized_json()), 413)
    assert str(BODY_LIMIT) in str(problem["detail"])


def test_oversized_json_is_413_when_chunked(api: httpx.Client) -> None:
    response = api.post(
        "/v1/profiles", content=_chunks(_oversized_json()), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert_problem(response, 413)


def _oversized_multipart() -> tuple[bytes, str]:
    request = httpx.Request(
        "POST",
        "http://x/",
        files={"gradients": ("big.npy", b"\x00" * (BODY_LIMIT + 4096))},
        data={"framework": "torch"},
    )
    return request.read(), request.headers["content-type"]


def test_oversized_multipart_is_413_with_content_length(api: httpx.Client) -> None:
    body, content_type = _oversized_multipart()
    assert_problem(post_raw(api, "/v1/profiles", body, content_type), 413)


def test_oversized_raw_upload_is_413(api: httpx.Client) -> None:
    response = api.post(
        "/v1/profiles",
        params={"filename": "big.npy"},
        content=_chunks(b"\x00" * (BODY_LIMIT + 4096)),
        headers={"content-type": "application/octet-stream"},
    )
    assert_problem(response, 413)


def _post_npy(api: httpx.Client, params: dict[str, str] | list[tuple[str, str]]) -> httpx.Response:
    buffer = io.BytesIO()
    np.save(buffer, np.ones((4, 3), np.float32))
    return api.post(
        "/v1/profiles",
        params=params,
        content=buffer.getvalue(),
        headers={"content-type": "application/octet-stream"},
    )


@pytest.mark.parametrize(
    ("params", "location", "fragment"),
    [
        ({}, ["query", "filename"], "needs query parameter 'filename'"),
        ({"filename": "g.npy", "training_steps": "0"}, ["query", "training_steps"], "query.training_steps"),
        ({"filename": "g.npy", "framework": "jax"}, ["query", "framework"], "query.framework"),
    ],
)
def test_raw_upload_query_problems_name_the_parameter(
    api: httpx.Client, params: dict[str, str], location: list[str], fragment: str
) -> None:
    problem = assert_problem(_post_npy(api, params), 422)
    assert fragment in str(problem["detail"])
    assert problem["errors"][0]["loc"] == location  # type: ignore[index]


def test_raw_upload_refuses_unknown_and_repeated_parameters(api: httpx.Client) -> None:
    unknown = assert_problem(_post_npy(api, {"filename": "g.npy", "steps": "5"}), 422)
    assert "Unexpected query parameter(s): steps" in str(unknown["detail"])
    repeated = assert_problem(_post_npy(api, [("filename", "a.npy"), ("filename", "b.npy")]), 400)
    assert "'filename' is given more than once" in str(repeated["detail"])


def test_raw_upload_refuses_pickles_by_name_and_by_content(api: httpx.Client) -> None:
    pickled = b"\x80\x04\x95" + b"\x00" * 64
    for filename in ("model.pt", "g.npy"):
        response = api.post(
            "/v1/profiles",
            params={"filename": filename},
            content=pickled,
            headers={"content-type": "application/octet-stream"},
        )
        assert "pickle" in str(assert_problem(response, response.status_code)["detail"])
        assert response.status_code in (415, 422)


def test_query_parameters_with_a_json_body_are_refused(api: httpx.Client) -> None:
    response = api.post(
        "/v1/profiles", params={"training_steps": "10"}, json={"gradients": {"g": dense_json()}}
    )
    problem = assert_problem(response, 422)
    assert "only with an application/octet-stream body" in str(problem["detail"])


def test_raw_upload_is_only_for_profiles(api: httpx.Client) -> None:
    response = post_raw(api, "/v1/recommendations", b"\x93NUMPY", "application/octet-stream")
    problem = assert_problem(response, 415)
    accepted = str(problem["detail"]).split("; send ")[1]
    assert "application/octet-stream" not in accepted
    profiles = assert_problem(post_raw(api, "/v1/profiles", b"x", "text/plain"), 415)
    assert "application/octet-stream" in str(profiles["detail"]).split("; send ")[1]


def test_oversized_multipart_is_413_when_chunked(api: httpx.Client) -> None:
    body, content_type = _oversized_multipart()
    response = api.post("/v1/recommendations", content=_chunks(body), headers={"content-type": content_type})
    assert "content-length" not in response.request.headers
    assert_problem(response, 413)


def test_body_just_under_the_limit_is_accepted(api: httpx.Client) -> None:
    body = json.dumps({"gradients": {"g": dense_json()}}).encode()
    padded = body[:-1] + b" " * (BODY_LIMIT - len(body)) + b"}"
    assert len(padded) == BODY_LIMIT
    assert post_raw(api, "/v1/profiles", padded).status_code == 200


def test_unknown_path_and_method_are_problems(api: httpx.Client) -> None:
    assert_problem(api.get("/v1/nothing-here"), 404)
    assert_problem(api.delete("/v1/optimizers"), 405)


def test_request_id_is_echoed_and_logged(api: httpx.Client, server) -> None:  # type: ignore[no-untyped-def]
    response = api.get("/v1/optimizers/adagrad", headers={"X-Request-ID": "trace-42.a"})
    assert response.headers["x-request-id"] == "trace-42.a"
    generated = {api.get("/healthz").headers["x-request-id"] for _ in range(20)}
    assert len(generated) == 20
    assert all(len(request_id) == 32 and int(request_id, 16) >= 0 for request_id in generated)

    def access_line_written() -> bool:
        logged = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
        return any(entry.get("request_id") == "trace-42.a" and entry.get("status") == 200 for entry in logged)

    # Log lines are written in batches by a background thread, a fraction of a second later.
    deadline = time.monotonic() + 5.0
    while not access_line_written() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert access_line_written()


@pytest.mark.parametrize(
    ("body", "location"),
    [
        ({"profile": {"gradient_sparsity": 1.5}}, ("body", "profile", "gradient_sparsity")),
        ({"profile": {"gradient_sparsity": -0.1}}, ("body", "profile", "gradient_sparsity")),
        ({"profile": {"tuning_budget": 0}}, ("body", "profile", "tuning_budget")),
        ({"profile": {"model_family": "gan"}}, ("body", "profile", "model_family")),
        ({"framework": "mxnet"}, ("body", "framework")),
        ({"candidates": ["adagrad", "lion"]}, ("body", "candidates")),
        ({"candidates": []}, ("body", "candidates")),
    ],
    ids=[
        "sparsity-above-1",
        "sparsity-below-0",
        "budget-0",
        "family",
        "framework",
        "candidate",
        "no-candidates",
    ],
)
def test_each_invalid_recommendation_field_is_422_naming_it(
    api: httpx.Client, body: dict[str, object], location: tuple[str, ...]
) -> None:
    problem = assert_problem(api.post("/v1/recommendations", json=body), 422)
    locations = [tuple(error["loc"]) for error in problem["errors"]]  # type: ignore[union-attr]
    assert any(found[: len(location)] == location for found in locations), locations


def test_a_replay_overflowing_float32_is_422_not_500(api: httpx.Client) -> None:
    body = {
        "gradients": {"g": dense_json()},
        "runs": [{"method": "adamw", "hyperparameters": {"lr": 3.4e38}}],
    }
    detail = str(assert_problem(api.post("/v1/replays", json=body), 422)["detail"])
    assert "torch adamw: step 1 cannot be taken in float32" in detail
