"""Every endpoint answers its documented success shape on a live server."""

import json

import httpx
import pytest
from gradient_payloads import dense_json, npy_bytes, npz_bytes, safetensors_bytes

from optadvisor.optimizers import METHODS


def test_probes_answer(api: httpx.Client) -> None:
    assert api.get("/healthz").json() == {"status": "ok"}
    ready = api.get("/readyz").json()
    assert ready["status"] == "ready"
    assert ready["rules_version"] == api.get("/v1/rules").json()["version"]


def test_optimizer_catalogue_lists_every_method(api: httpx.Client) -> None:
    listed = api.get("/v1/optimizers")
    assert listed.status_code == 200
    assert [entry["name"] for entry in listed.json()] == list(METHODS)
    one = api.get("/v1/optimizers/rmsprop")
    assert one.status_code == 200
    assert one.json()["name"] == "rmsprop"


def test_unknown_optimizer_is_a_404_problem(api: httpx.Client) -> None:
    response = api.get("/v1/optimizers/lion")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert "adagrad" in response.json()["detail"]


def test_rules_in_force_have_a_version(api: httpx.Client) -> None:
    response = api.get("/v1/rules")
    assert response.status_code == 200
    assert response.json()["version"]


def test_profile_from_json(api: httpx.Client) -> None:
    response = api.post(
        "/v1/profiles", json={"gradients": {"fc.weight": dense_json()}, "training_steps": 1000}
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert "fc.weight" in report["groups"]
    assert report["overall"]["steps"] == 12


def test_profile_from_each_file_format(api: httpx.Client) -> None:
    uploads = {
        "layer.npy": (npy_bytes(), {"layer"}),
        "model.npz": (npz_bytes(), {"encoder", "decoder"}),
        "model.safetensors": (safetensors_bytes(), {"fc.weight"}),
    }
    for filename, (content, groups) in uploads.items():
        response = api.post(
            "/v1/profiles",
            files={"gradients": (filename, content)},
            data={"training_steps": "500", "framework": "keras"},
        )
        assert response.status_code == 200, (filename, response.text)
        assert set(response.json()["groups"]) == groups


def test_raw_file_body_gives_the_figures_of_the_form_upload(api: httpx.Client) -> None:
    for filename, content in (("layer.npy", npy_bytes()), ("model.npz", npz_bytes())):
        form = api.post(
            "/v1/profiles", files={"gradients": (filename, content)}, data={"training_steps": "500"}
        )
        raw = api.post(
            "/v1/profiles",
            params={"filename": filename, "training_steps": "500", "framework": "torch"},
            content=content,
            headers={"content-type": "application/octet-stream"},
        )
        assert raw.status_code == 200, raw.text
        assert raw.json() == form.json()


def test_json_and_file_forms_give_the_same_figures(api: httpx.Client) -> None:
    from_json = api.post("/v1/profiles", json={"gradients": {"layer": dense_json()}}).json()
    from_file = api.post("/v1/profiles", files={"gradients": ("layer.npy", npy_bytes())}).json()
    # The file keeps float32; JSON numbers arrive as float64: equal to float32 precision.
    assert from_json["overall"].keys() == from_file["overall"].keys()
    for name, value in from_json["overall"].items():
        expected = from_file["overall"][name]
        assert value == (expected if expected is None else pytest.approx(expected, rel=1e-5)), name


def test_empty_recommendation_request_is_answered_with_assumptions(api: httpx.Client) -> None:
    response = api.post("/v1/recommendations", json={})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["method"] in METHODS
    assert answer["assumptions"]


def test_recommendation_with_json_gradients_is_measured(api: httpx.Client) -> None:
    body = {
        "profile": {"training_steps": 10000, "tuning_budget": 2},
        "framework": "optax",
        "gradients": {"fc.weight": dense_json()},
    }
    response = api.post("/v1/recommendations", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["framework"] == "optax"
    assert answer["measured"]["steps"] == 12


def test_recommendation_with_uploaded_gradients(api: httpx.Client) -> None:
    request = {"profile": {"model_family": "mlp"}, "candidates": ["adagrad", "rmsprop"]}
    response = api.post(
        "/v1/recommendations",
        data={"request": json.dumps(request)},
        files={"gradients": ("layer.npy", npy_bytes())},
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["method"] in ("adagrad", "rmsprop")
    assert answer["measured"]["steps"] == 12


def test_replay_traces_chosen_coordinates(api: httpx.Client) -> None:
    body = {
        "gradients": {"fc.weight": dense_json()},
        "runs": [{"method": "adadelta", "framework": "torch"}, {"method": "rmsprop", "framework": "keras"}],
        "trace_coordinates": {"fc.weight": [1, 2]},
    }
    response = api.post("/v1/replays", json=body)
    assert response.status_code == 200, response.text
    runs = response.json()["runs"]
    assert [run["run"]["method"] for run in runs] == ["adadelta", "rmsprop"]
    trace = runs[0]["groups"]["fc.weight"]["trace"]
    assert trace["coordinates"] == [1, 2]
    assert set(trace["state"]) >= {"square_avg", "acc_delta"}


def test_a_replay_that_overflows_float32_answers_with_nulls_in_strict_json(api: httpx.Client) -> None:
    largest = 3.4028234663852886e38  # the largest float32: accepted, and Adam's squares overflow on it
    values = [[largest, -largest, 1.0], [largest, 0.0, -1.0], [-largest, largest, 0.5]]
    body = {
        "gradients": {"fc.weight": {"format": "dense", "values": values}},
        "runs": [{"method": "adam"}, {"method": "sgd"}],
        "trace_coordinates": {"fc.weight": [0]},
    }
    response = api.post("/v1/replays", json=body)
    assert response.status_code == 200, response.text
    json.loads(response.text, parse_constant=pytest.fail)  # no NaN or Infinity tokens
    adam, sgd = (run["groups"]["fc.weight"] for run in response.json()["runs"])
    assert None in adam["trajectory"]["update_rms"]
    assert None in adam["trace"]["state"]["exp_avg_sq"][0]
    assert all(value > 0 for value in sgd["trajectory"]["update_rms"])  # lr·g is finite; so is its RMS
