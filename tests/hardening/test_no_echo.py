"""Nothing a client sends comes back unbounded: names, values, extensions and paths in error answers are cut
to a few dozen characters (issue 20, point 9). Each request carries about a megabyte of client text."""

import httpx
import pytest

LONG = "q" * 1_000_000
SMALL_ANSWER = 4096
DENSE = {"format": "dense", "values": [[0.01, 0.0], [0.02, 0.1], [0.0, 0.3]]}


def _assert_small_problem(response: httpx.Response, *statuses: int) -> None:
    assert response.status_code in statuses, response.text[:300]
    assert len(response.content) < SMALL_ANSWER
    assert "q" * 300 not in response.text


def test_a_long_group_name_is_cut_in_a_422(api: httpx.Client) -> None:
    one_step = {"format": "dense", "values": [[0.1, 0.2]]}
    _assert_small_problem(api.post("/v1/profiles", json={"gradients": {LONG: one_step}}), 422)


def test_replay_hyperparameter_values_are_not_quoted(api: httpx.Client) -> None:
    runs = [{"method": "adam", "hyperparameters": {"betas": [0.5] * 100_000}}]
    response = api.post("/v1/replays", json={"gradients": {"g": DENSE}, "runs": runs})
    assert response.status_code == 422
    assert len(response.content) < SMALL_ANSWER


def test_trace_coordinates_of_an_unsent_group_name_it_cut(api: httpx.Client) -> None:
    body = {"gradients": {"g": DENSE}, "runs": [{"method": "sgd"}], "trace_coordinates": {LONG: [0]}}
    _assert_small_problem(api.post("/v1/replays", json=body), 422)


@pytest.mark.parametrize("as_form", [False, True], ids=["raw body", "form"])
def test_an_unknown_file_extension_is_not_echoed(api: httpx.Client, as_form: bool) -> None:
    filename = "g." + "q" * 10_000
    if as_form:  # python-multipart may refuse a part header this long (400) before the loader sees it
        response = api.post("/v1/profiles", files={"gradients": (filename, b"\x00" * 64)})
        _assert_small_problem(response, 400, 415)
        return
    else:
        response = api.post(
            "/v1/profiles",
            params={"filename": filename},
            content=b"\x00" * 64,
            headers={"content-type": "application/octet-stream"},
        )
    _assert_small_problem(response, 415)


def test_the_request_path_is_not_in_404_or_405_details(api: httpx.Client) -> None:
    path = "/v1/" + "q" * 8000
    missing = api.get(path)
    _assert_small_problem(missing, 404)
    assert "q" * 10 not in missing.json()["detail"]
    not_allowed = api.delete("/v1/profiles")
    assert not_allowed.status_code == 405
    assert "/v1/profiles" not in not_allowed.json()["detail"]
    assert not_allowed.json()["detail"].endswith("allowed: POST.")
