"""Studies through the API, in process: ownership per API key, outcomes and their errors, ask/tell, the
report page's escaping and headers, signed links, listing, deletion."""

import json
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from optadvisor.service.app import create_app
from optadvisor.service.links import ReportLinks
from optadvisor.service.report import CONTENT_SECURITY_POLICY
from optadvisor.service.settings import Settings

ALICE, BOB = {"X-API-Key": "alice-key"}, {"X-API-Key": "bob-key"}
DECLARED = {"profile": {"model_family": "mlp", "training_steps": 5000, "tuning_budget": 3}}
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(api_keys=["alice-key", "bob-key"], database_url=f"sqlite:///{tmp_path / 's.db'}")
    with TestClient(create_app(settings)) as running:
        yield running


def study(client: TestClient, headers: dict[str, str] = ALICE, body: object = DECLARED) -> dict[str, object]:
    answer = client.post("/v1/recommendations", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    document: dict[str, object] = answer.json()
    return document


def test_an_answer_names_its_study_and_links(client: TestClient) -> None:
    answer = study(client)
    assert re.fullmatch(r"[0-9a-f]{32}", str(answer["id"]))
    links = answer["links"]
    assert isinstance(links, dict)
    assert links["self"] == f"/v1/recommendations/{answer['id']}"
    assert {"self", "outcomes", "next", "report"} <= set(links)
    assert str(links["report"]).startswith(f"/v1/recommendations/{answer['id']}/report?token=")
    assert answer["evidence_version"] and answer["evidence"]


def test_another_keys_study_is_404_everywhere(client: TestClient) -> None:
    own = study(client)["id"]
    base = f"/v1/recommendations/{own}"
    assert client.get(base, headers=BOB).status_code == 404
    assert client.get(f"{base}/next", headers=BOB).status_code == 404
    assert client.get(f"{base}/report", headers=BOB).status_code == 404
    assert (
        client.post(f"{base}/outcomes", json={"plan_index": 0, "metric": 1.0}, headers=BOB).status_code == 404
    )
    assert client.delete(base, headers=BOB).status_code == 404
    assert client.get("/v1/recommendations", headers=BOB).json()["items"] == []
    assert client.get(base, headers=ALICE).status_code == 200
    assert client.get(base).status_code == 401


def test_outcomes_are_read_back_with_the_study_and_move_the_next_run(client: TestClient) -> None:
    answer = study(client)
    base = f"/v1/recommendations/{answer['id']}"
    first = client.get(f"{base}/next", headers=ALICE).json()
    assert first["run"]["configuration"] == answer["tuning_plan"][0]["configuration"]  # type: ignore[index]
    reported = client.post(
        f"{base}/outcomes",
        json={"plan_index": 0, "metric": 0.91, "metric_name": "accuracy", "lower_is_better": False},
        headers={**ALICE, "Idempotency-Key": "one"},
    )
    assert reported.status_code == 201
    assert reported.headers["location"].endswith(reported.json()["id"])
    document = client.get(base, headers=ALICE).json()
    assert [outcome["metric"] for outcome in document["outcomes"]] == [0.91]
    assert document["request"]["profile"]["model_family"] == "mlp"
    step = client.get(f"{base}/next", headers=ALICE).json()
    assert step["runs_reported"] == 1 and "accuracy 0.91" in step["best"]
    assert step["run"]["configuration"] != first["run"]["configuration"]


def test_the_budget_spent_stops_the_study(client: TestClient) -> None:
    answer = study(client)
    base = f"/v1/recommendations/{answer['id']}"
    for index in range(3):
        body = {"plan_index": min(index, len(answer["tuning_plan"]) - 1), "metric": 1.0 + index}  # type: ignore[arg-type]
        assert client.post(f"{base}/outcomes", json=body, headers=ALICE).status_code == 201
    step = client.get(f"{base}/next", headers=ALICE).json()
    assert step["done"] and step["run"] is None
    assert any("budget of 3 runs is spent" in line for line in step["rationale"])


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"metric": 1.0}, "exactly one way"),
        ({"plan_index": 0, "method": "adam", "metric": 1.0}, "exactly one way"),
        ({"plan_index": 0}, "metric is required"),
        ({"plan_index": 99, "metric": 1.0}, "body.plan_index"),
        ({"plan_index": 0, "metric": 1.0, "colour": "red"}, "colour"),
        (
            {
                "method": "adam",
                "kwargs": {"lr": [1.0] * 2},
                "metric": 1.0,
                "tracker": {"kind": "x", "run": "r"},
            },
            "tracker",
        ),
    ],
)
def test_a_malformed_outcome_is_a_422_that_says_where(
    client: TestClient, body: dict[str, object], where: str
) -> None:
    base = f"/v1/recommendations/{study(client)['id']}"
    answer = client.post(f"{base}/outcomes", json=body, headers=ALICE)
    assert answer.status_code == 422
    assert where in answer.text
    assert client.get(base, headers=ALICE).json()["outcomes"] == []


def test_an_idempotency_key_reused_for_another_outcome_is_refused(client: TestClient) -> None:
    base = f"/v1/recommendations/{study(client)['id']}"
    headers = {**ALICE, "Idempotency-Key": "same"}
    assert (
        client.post(f"{base}/outcomes", json={"plan_index": 0, "metric": 1.0}, headers=headers).status_code
        == 201
    )
    again = client.post(f"{base}/outcomes", json={"plan_index": 0, "metric": 1.0}, headers=headers)
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    other = client.post(f"{base}/outcomes", json={"plan_index": 0, "metric": 2.0}, headers=headers)
    assert other.status_code == 422 and "already used" in other.text
    assert len(client.get(base, headers=ALICE).json()["outcomes"]) == 1


def test_listing_pages_newest_first_and_a_bad_cursor_is_a_422(client: TestClient) -> None:
    made = [study(client)["id"] for _ in range(3)]
    first = client.get("/v1/recommendations?limit=2", headers=ALICE).json()
    assert [item["id"] for item in first["items"]] == made[::-1][:2]
    rest = client.get(f"/v1/recommendations?limit=2&cursor={first['next_cursor']}", headers=ALICE).json()
    assert [item["id"] for item in rest["items"]] == [made[0]] and rest["next_cursor"] is None
    bad = client.get("/v1/recommendations?cursor=nonsense", headers=ALICE)
    assert bad.status_code == 422 and "nonsense" not in bad.text


def test_the_owner_deletes_a_study(client: TestClient) -> None:
    base = f"/v1/recommendations/{study(client)['id']}"
    assert client.delete(base, headers=ALICE).status_code == 204
    assert client.get(base, headers=ALICE).status_code == 404
    assert client.delete(base, headers=ALICE).status_code == 404


def gradient_study(client: TestClient) -> dict[str, object]:
    values = np.random.default_rng(0).normal(0, 0.01, (16, 64))
    values[:, ::3] = 0
    body = {**DECLARED, "gradients": {HOSTILE: {"format": "dense", "values": values.tolist()}}}
    return study(client, body=body)


def test_the_report_escapes_what_clients_sent_and_forbids_everything_else(client: TestClient) -> None:
    answer = gradient_study(client)
    base = f"/v1/recommendations/{answer['id']}"
    client.post(
        f"{base}/outcomes",
        json={
            "plan_index": 0,
            "metric": 0.5,
            "metric_name": HOSTILE,
            "tracker": {"kind": "other", "run": HOSTILE},
        },
        headers=ALICE,
    )
    page = client.get(f"{base}/report", headers=ALICE)
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "default-src 'none'" in CONTENT_SECURITY_POLICY and "script" not in CONTENT_SECURITY_POLICY
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "<script" not in page.text and "<img" not in page.text
    assert "&lt;script&gt;" in page.text
    assert page.text.count("<svg") == 4  # step sizes, Adagrad's projection, drift, outcomes
    assert "http://" not in page.text.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_a_signed_link_opens_one_report_without_the_key_until_it_expires(client: TestClient) -> None:
    answer = study(client)
    other = study(client)
    link = str(answer["links"]["report"])  # type: ignore[index]
    assert client.get(link).status_code == 200
    token = link.split("token=")[1]
    assert client.get(f"/v1/recommendations/{other['id']}/report?token={token}").status_code == 401
    assert client.get(f"/v1/recommendations/{answer['id']}?token={token}").status_code == 401
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    refused = client.get(f"/v1/recommendations/{answer['id']}/report?token={tampered}")
    assert refused.status_code == 401 and "expired" in refused.json()["detail"]
    links = ReportLinks(b"secret", 60)
    expired = links.token("a" * 32, now=1000.0)
    assert expired is not None
    assert links.valid("a" * 32, expired, now=1050.0) and not links.valid("a" * 32, expired, now=1061.0)


def test_without_api_keys_everyone_shares_the_studies_and_links_need_no_token(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 's.db'}")
    with TestClient(create_app(settings)) as client:
        answer = study(client, headers={})
        assert answer["links"]["report"] == f"/v1/recommendations/{answer['id']}/report"  # type: ignore[index]
        assert client.get(str(answer["links"]["self"])).status_code == 200  # type: ignore[index]
        assert json.loads(client.get("/v1/recommendations").text)["items"][0]["id"] == answer["id"]


def test_per_group_outcomes_name_a_configuration_only_when_every_group_shares_it(client: TestClient) -> None:
    base = f"/v1/recommendations/{study(client)['id']}"
    same = {"encoder": {"method": "adam", "kwargs": {"lr": 0.001}}, "decoder": {"method": "adam"}}
    mixed = {"encoder": {"method": "adam", "kwargs": {"lr": 0.001}}, "decoder": {"method": "sgd"}}
    shared = client.post(f"{base}/outcomes", json={"groups": same, "metric": 0.5}, headers=ALICE).json()
    assert (shared["method"], shared["configuration"]) == ("adam", "adam:+0:0")
    apart = client.post(f"{base}/outcomes", json={"groups": mixed, "metric": 0.6}, headers=ALICE).json()
    assert (apart["method"], apart["configuration"]) == (None, None)
    assert apart["groups"] == {
        "encoder": {"method": "adam", "kwargs": {"lr": 0.001}},
        "decoder": {"method": "sgd", "kwargs": {}},
    }


def test_a_failing_database_answers_503_and_never_a_2xx(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    base = f"/v1/recommendations/{study(client)['id']}"
    store = client.app.state.services.studies.store  # type: ignore[attr-defined]

    def down(*_: object) -> None:
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(store, "insert_studies", down)
    monkeypatch.setattr(store, "add_outcome", down)
    refused = client.post("/v1/recommendations", json=DECLARED, headers=ALICE)
    assert refused.status_code == 503 and refused.headers["retry-after"]
    assert "nothing was stored" in refused.json()["detail"] and "locked" not in refused.text
    assert (
        client.post(f"{base}/outcomes", json={"plan_index": 0, "metric": 1.0}, headers=ALICE).status_code
        == 503
    )
    monkeypatch.undo()
    assert client.get(base, headers=ALICE).json()["outcomes"] == []
    assert client.post("/v1/recommendations", json=DECLARED, headers=ALICE).status_code == 200
