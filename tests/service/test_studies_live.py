"""Studies under a real server process: nothing that got a 2xx is lost to `kill -9`, 50 concurrent clients
reporting (and retrying) outcomes lose and duplicate nothing, and two processes on one PostgreSQL see each
other's studies. Each runs on SQLite and on PostgreSQL where it applies."""

import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from benchmarks.server import RunningServer, running_server
from optadvisor.service.storage.database import open_engine
from optadvisor.service.storage.store import Store
from tests.conftest import fresh_postgres_database, require_postgres

DECLARED = {"profile": {"model_family": "mlp", "training_steps": 5000, "tuning_budget": 4}}
KEY = "live-key"
HEADERS = {"X-API-Key": KEY}


def serve(tmp_path: Path, database_url: str, **settings: str) -> Any:
    return running_server(tmp_path, {"database_url": database_url, "api_keys": KEY, **settings})


def new_study(server: RunningServer) -> str:
    answer = httpx.post(f"{server.url}/v1/recommendations", json=DECLARED, headers=HEADERS, timeout=30)
    assert answer.status_code == 200, answer.text
    study_id: str = answer.json()["id"]
    return study_id


@pytest.mark.slow
def test_kill_9_during_a_burst_loses_nothing_that_got_a_2xx(database_url: str, tmp_path: Path) -> None:
    studies: list[str] = []
    outcomes: list[str] = []
    stop = threading.Event()
    with serve(tmp_path, database_url) as server:
        target = new_study(server)

        def client(number: int) -> None:
            with httpx.Client(base_url=server.url, headers=HEADERS, timeout=10) as http:
                count = 0
                while not stop.is_set():
                    count += 1
                    try:
                        if count % 2:
                            answer = http.post("/v1/recommendations", json=DECLARED)
                            if answer.status_code == 200:
                                studies.append(answer.json()["id"])
                        else:
                            answer = http.post(
                                f"/v1/recommendations/{target}/outcomes",
                                json={"method": "adam", "kwargs": {"lr": 0.001}, "metric": count / 1000},
                                headers={"Idempotency-Key": f"{number}-{count}"},
                            )
                            if answer.status_code == 201:
                                outcomes.append(answer.json()["id"])
                    except httpx.TransportError:
                        return

        threads = [threading.Thread(target=client, args=(number,)) for number in range(16)]
        for thread in threads:
            thread.start()
        time.sleep(2.0)
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait()
        stop.set()
        for thread in threads:
            thread.join()
    assert len(studies) > 20 and len(outcomes) > 20, (len(studies), len(outcomes))
    store = Store(open_engine(database_url))
    missing = [study for study in studies if store.study(study, None) is None]
    stored = {outcome.id for outcome in store.outcomes(target)}
    assert missing == []
    assert set(outcomes) <= stored
    store.engine.dispose()
    # The figures the README quotes (pytest -s shows them).
    print(f"kill -9 after 2 s: {len(studies)} studies and {len(outcomes)} outcomes got a 2xx, none lost")


@pytest.mark.slow
def test_fifty_clients_reporting_outcomes_lose_none_and_duplicate_none(
    database_url: str, tmp_path: Path
) -> None:
    reports_per_client = 6
    answers: dict[str, list[tuple[int, str]]] = {}
    with serve(tmp_path, database_url) as server:
        target = new_study(server)

        def client(number: int) -> None:
            with httpx.Client(base_url=server.url, headers=HEADERS, timeout=60) as http:
                for index in range(reports_per_client):
                    key = f"client{number}-report{index}"
                    body = {"plan_index": 0, "metric": number + index / 10, "metric_name": "loss"}
                    # Every report is sent twice, as a client that lost the first answer would.
                    for _ in range(2):
                        answer = http.post(
                            f"/v1/recommendations/{target}/outcomes",
                            json=body,
                            headers={"Idempotency-Key": key},
                        )
                        answers.setdefault(key, []).append((answer.status_code, answer.json()["id"]))

        threads = [threading.Thread(target=client, args=(number,)) for number in range(50)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        study = httpx.get(f"{server.url}/v1/recommendations/{target}", headers=HEADERS, timeout=30).json()
    assert len(answers) == 50 * reports_per_client
    for key, replies in answers.items():
        assert [status for status, _ in replies] == [201, 200], key
        assert replies[0][1] == replies[1][1], key
    stored = study["outcomes"]
    assert len(stored) == 50 * reports_per_client
    assert len({outcome["id"] for outcome in stored}) == len(stored)
    assert {outcome["id"] for outcome in stored} == {replies[0][1] for replies in answers.values()}


@pytest.fixture
def postgres_url() -> Iterator[str]:
    require_postgres()
    with fresh_postgres_database() as url:
        yield url


@pytest.mark.slow
def test_two_processes_on_one_postgresql_see_each_others_studies(postgres_url: str, tmp_path: Path) -> None:
    with serve(tmp_path, postgres_url) as first, serve(tmp_path, postgres_url) as second:
        made_on_first = new_study(first)
        made_on_second = new_study(second)
        seen = httpx.get(f"{second.url}/v1/recommendations/{made_on_first}", headers=HEADERS, timeout=30)
        assert seen.status_code == 200 and seen.json()["id"] == made_on_first
        reported = httpx.post(
            f"{second.url}/v1/recommendations/{made_on_first}/outcomes",
            json={"plan_index": 0, "metric": 0.25},
            headers={**HEADERS, "Idempotency-Key": str(uuid.uuid4())},
            timeout=30,
        )
        assert reported.status_code == 201
        back = httpx.get(
            f"{first.url}/v1/recommendations/{made_on_first}", headers=HEADERS, timeout=30
        ).json()
        assert [outcome["id"] for outcome in back["outcomes"]] == [reported.json()["id"]]
        listed = httpx.get(f"{first.url}/v1/recommendations", headers=HEADERS, timeout=30).json()
        assert [item["id"] for item in listed["items"]][:2] == [made_on_second, made_on_first]
        # A report link signed by one replica opens on the other (same keys, same derived secret).
        link = httpx.get(
            f"{first.url}/v1/recommendations/{made_on_first}", headers=HEADERS, timeout=30
        ).json()
        page = httpx.get(second.url + link["links"]["report"], timeout=30)
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
