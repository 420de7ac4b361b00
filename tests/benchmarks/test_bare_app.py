"""The bare reference app answers exactly what the service answers for the declared request."""

from fastapi.testclient import TestClient

from benchmarks.bare_app import DECLARED_REQUEST, create_bare_app
from optadvisor.service.app import create_app
from optadvisor.service.settings import Settings


def test_bare_endpoint_returns_the_services_declared_answer() -> None:
    settings = Settings()
    with TestClient(create_app(settings)) as service, TestClient(create_bare_app(settings)) as bare:
        expected = service.post("/v1/recommendations", json=DECLARED_REQUEST)
        answered = bare.post("/v1/recommendations", json=DECLARED_REQUEST)
        ready = bare.get("/readyz")
    assert expected.status_code == answered.status_code == 200
    assert answered.content == expected.content
    assert answered.headers["content-type"] == "application/json"
    assert ready.status_code == 200
