"""In-process checks: the catch-all 500 problem, the log lines, and the JSON body scanner."""

import json

import pytest
from fastapi.testclient import TestClient

from optadvisor.profiler import Figures
from optadvisor.service.app import create_app
from optadvisor.service.bodies import parse_json
from optadvisor.service.json_scan import scan_json
from optadvisor.service.problems import ProblemError
from optadvisor.service.settings import Settings


def test_unexpected_errors_are_500_problems_with_a_request_id_and_no_traceback() -> None:
    app = create_app(Settings())

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internal state /etc/passwd")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom", headers={"X-Request-ID": "boom-1"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "boom-1" in response.json()["detail"]
    assert "secret" not in response.text
    assert "Traceback" not in response.text


def test_a_model_failing_validation_inside_the_service_is_a_500_not_the_clients_422() -> None:
    # Request bodies are validated where they are read (a 422 naming the field); a pydantic model that fails
    # later, on values the service computed, is a fault of the service and must not blame the client.
    app = create_app(Settings())

    @app.get("/figures")
    async def figures() -> None:
        Figures.model_validate({"sparsity": float("nan")})

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/figures", headers={"X-Request-ID": "figures-1"})
    assert response.status_code == 500
    assert "figures-1" in response.json()["detail"]


def test_log_lines_are_json_with_the_request_id_and_the_traceback(capfd: pytest.CaptureFixture[str]) -> None:
    app = create_app(Settings(log_format="json"))

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("internal state")

    with TestClient(app, raise_server_exceptions=False) as client:
        client.get("/boom", headers={"X-Request-ID": "boom-2"})
        client.get("/healthz", headers={"X-Request-ID": "fine-1"})
    # Leaving the block shut the app down, which writes out every queued line.
    lines = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line.startswith("{")]
    error = next(line for line in lines if line["logger"] == "optadvisor.errors")
    assert error["request_id"] == "boom-2"
    assert error["message"] == "unhandled error serving GET /boom"
    assert "RuntimeError: internal state" in error["exception"]
    access = {line["request_id"]: line for line in lines if line["logger"] == "optadvisor.access"}
    assert access["boom-2"]["status"] == 500
    assert access["fine-1"]["status"] == 200
    assert access["fine-1"]["route"] == "/healthz"
    assert access["fine-1"]["duration_ms"] >= 0


def test_parse_json_finds_overflow_in_long_digit_runs_and_integers_beyond_int64() -> None:
    long_mantissa = b'{"x": 1' + b"0" * 309 + b".5}"
    with pytest.raises(ProblemError) as overflowing:
        parse_json(long_mantissa, 32)
    assert "too large for a 64-bit float" in overflowing.value.detail
    assert parse_json(b'{"x": 1' + b"0" * 300 + b".5}", 32)["x"] == pytest.approx(1e300)
    assert parse_json(b'{"n": 1000000000000000000}', 32) == {"n": 10**18}
    with pytest.raises(ProblemError) as too_wide:
        parse_json(b'{"n": 10000000000000000000}', 32)
    assert "signed 64-bit" in too_wide.value.detail
    # Digits inside strings only select the checking parsers; the values stay what they are.
    quoted = b'{"s": "' + b"7" * 400 + b'", "f": 0.5, "i": 3}'
    assert parse_json(quoted, 32) == {"s": "7" * 400, "f": 0.5, "i": 3}


def test_json_depth_ignores_brackets_inside_strings() -> None:
    assert scan_json(b'{"a": [[1], {"b": "[[[[[["}]}').depth == 3
    assert scan_json(b'"\\"[[["').depth == 0
    assert scan_json(b"[" * 50 + b"]" * 50).depth == 50


def test_parse_json_refuses_overflowing_numbers_but_keeps_large_finite_ones() -> None:
    assert parse_json(b'{"x": 1e300, "y": 1e-400}', 32) == {"x": 1e300, "y": 0.0}
    with pytest.raises(ProblemError) as refused:
        parse_json(b'{"x": 1e400}', 32)
    assert refused.value.status == 422


def test_settings_split_api_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPTADVISOR_API_KEYS", " a1 ,, b2 ")
    assert Settings().api_keys == ["a1", "b2"]


def test_a_small_body_is_bounded_by_its_byte_counts_and_a_deep_one_still_gets_its_exact_depth() -> None:
    from optadvisor.service.bodies import _small_shape

    body = b'{"profile": {"model_family": "mlp", "note": "[[,:"}, "candidates": ["adam", "sgd"]}'
    bound, exact = _small_shape(body, 32), scan_json(body)
    assert bound is not None
    assert bound.depth >= exact.depth and bound.values >= exact.values
    # Brackets inside strings only count against the quick bound: the exact scan admits the body.
    quoted = b'{"s": "' + b"[" * 40 + b'"}'
    assert _small_shape(quoted, 32) is None
    assert parse_json(quoted, 32) == {"s": "[" * 40}
    with pytest.raises(ProblemError, match="nests 40 levels deep; at most 32"):
        parse_json(b"[" * 40 + b"]" * 40, 32)


def test_floats_with_long_digit_runs_are_not_walked_for_out_of_range_numbers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from optadvisor.service import bodies

    values = [[0.0011843227967619896, -0.00012345678901234567], [1e-05, 2]]
    raw = json.dumps({"values": values}).encode()

    def walked(document: object, path: str = "") -> None:
        raise AssertionError("the document was walked although every number is in range")

    monkeypatch.setattr(bodies, "_out_of_range", walked)
    assert parse_json(raw, 32) == {"values": values}
    monkeypatch.undo()
    # A real out-of-range integer among them is still found and named.
    with pytest.raises(ProblemError, match=r"outside the signed 64-bit range at values\[1\]\[1\]"):
        parse_json(json.dumps({"values": [values[0], [1e-05, 2**70]]}).encode(), 32)
