"""Cross-study evidence in the service: outcomes reported under several keys become a stored, named snapshot
that later answers quote (and answers cached before it are not served after it)."""

import time
from pathlib import Path

from fastapi.testclient import TestClient

from optadvisor.service.app import create_app
from optadvisor.service.settings import Settings

KEYS = [f"key-{number}" for number in range(5)]
BODY = {"profile": {"model_family": "rnn", "training_steps": 800, "tuning_budget": 2}}


def test_reported_outcomes_become_the_evidence_later_answers_name(tmp_path: Path) -> None:
    settings = Settings(
        api_keys=KEYS, database_url=f"sqlite:///{tmp_path / 's.db'}", evidence_refresh_seconds=0.2
    )
    with TestClient(create_app(settings)) as client:
        before = client.post("/v1/recommendations", json=BODY, headers={"X-API-Key": KEYS[0]}).json()
        assert before["evidence"]["similar_studies"] == 0
        for key in KEYS:
            for _ in range(4):
                answer = client.post("/v1/recommendations", json=BODY, headers={"X-API-Key": key}).json()
                report = {"method": "adam", "kwargs": {"lr": 0.001}, "metric": 0.3}
                stored = client.post(answer["links"]["outcomes"], json=report, headers={"X-API-Key": key})
                assert stored.status_code == 201
        deadline = time.monotonic() + 10
        after = before
        while after["evidence_version"] == before["evidence_version"] and time.monotonic() < deadline:
            time.sleep(0.1)
            after = client.post("/v1/recommendations", json=BODY, headers={"X-API-Key": KEYS[1]}).json()
        block = after["evidence"]
        assert (block["similar_studies"], block["clients"]) == (20, 5)
        assert block["recommended_best"] == (20 if after["method"] == "adam" else 0)
        assert "on 20 similar studies from 5 identified clients" in block["text"]
        services = client.app.state.services  # type: ignore[attr-defined]
        kept = services.studies.store.snapshot(after["evidence_version"])
        assert kept is not None and len(kept) == 20 and {item["best_method"] for item in kept} == {"adam"}
