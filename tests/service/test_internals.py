"""In-process checks: the catch-all 500 problem, and the JSON body scanner."""

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.bodies import json_depth, parse_json
from service.problems import ProblemError
from service.settings import Settings


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


def test_json_depth_ignores_brackets_inside_strings() -> None:
    assert json_depth(b'{"a": [[1], {"b": "[[[[[["}]}') == 3
    assert json_depth(b'"\\"[[["') == 0
    assert json_depth(b"[" * 50 + b"]" * 50) == 50


def test_parse_json_refuses_overflowing_numbers_but_keeps_large_finite_ones() -> None:
    assert parse_json(b'{"x": 1e300, "y": 1e-400}', 32) == {"x": 1e300, "y": 0.0}
    with pytest.raises(ProblemError) as refused:
        parse_json(b'{"x": 1e400}', 32)
    assert refused.value.status == 422


def test_settings_split_api_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPTADVISOR_API_KEYS", " a1 ,, b2 ")
    assert Settings().api_keys == ["a1", "b2"]
