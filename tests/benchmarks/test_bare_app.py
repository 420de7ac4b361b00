"""The bare reference app answers exactly what the service answers for the declared request."""

from pathlib import Path

from fastapi.testclient import TestClient

from benchmarks.bare_app import DECLARED_REQUEST, STUDY_ID, create_bare_app
from optadvisor.service.app import create_app
from optadvisor.service.settings import Settings


def test_bare_endpoint_returns_the_services_declared_answer(tmp_path: Path) -> None:
    # A database of its own: no other test's reported outcomes in the evidence the answer quotes.
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'studies.db'}")
    with TestClient(create_app(settings)) as service, TestClient(create_bare_app(settings)) as bare:
        expected = service.post("/v1/recommendations", json=DECLARED_REQUEST)
        answered = bare.post("/v1/recommendations", json=DECLARED_REQUEST)
        ready = bare.get("/readyz")
    assert expected.status_code == answered.status_code == 200
    # The same bytes but for the study's id (each service answer makes its own study).
    assert answered.content == expected.content.replace(expected.json()["id"].encode(), STUDY_ID.encode())
    assert answered.headers["content-type"] == "application/json"
    assert ready.status_code == 200
