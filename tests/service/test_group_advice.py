"""Per-group advice through the API: the answer, its per-group tuning plan as a study's runs, the report
page, and the figure the groups differ in from /v1/profiles and /v1/replays."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from optadvisor.profiler.synthetic import drifting_scale, zipf_bag_of_words
from optadvisor.service.app import create_app
from optadvisor.service.settings import Settings


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 's.db'}")
    with TestClient(create_app(settings)) as running:
        yield running


def _gradients() -> dict[str, Any]:
    table = zipf_bag_of_words(32, 1000, words_per_step=16)
    dense = drifting_scale(32, 128, decades=2.0) * 1e-2
    steps, index = np.nonzero(table)
    return {
        "embedding.weight": {
            "format": "coo",
            "shape": list(table.shape),
            "step": steps.tolist(),
            "index": index.tolist(),
            "values": table[steps, index].astype(float).tolist(),
        },
        "fc.weight": {"format": "dense", "values": dense.astype(float).tolist()},
    }


def test_mixed_groups_get_per_group_advice_whose_plan_runs_can_be_reported(client: TestClient) -> None:
    body = {"profile": {"training_steps": 10_000, "tuning_budget": 3}, "gradients": _gradients()}
    response = client.post("/v1/recommendations", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["advice_scope"] == "per_group"
    assert answer["advice_scope_reason"]
    assert {name for group in answer["groups"] for name in group["parameters"]} == {
        "embedding.weight",
        "fc.weight",
    }
    for framework in ("torch", "keras", "optax"):
        config = answer["configs"][framework]
        assert "optimizer =" in config["code"] and config["single_method_code"] != config["code"]
    plan = answer["tuning_plan"]
    assert plan[0]["method"] is None and plan[0]["kwargs"] is None
    assert all({"parameters", "method", "kwargs"} <= set(g) for run in plan for g in run["groups"])
    study = answer["id"]
    reported = client.post(
        f"/v1/recommendations/{study}/outcomes", json={"plan_index": 1, "metric": 0.5, "metric_name": "loss"}
    )
    assert reported.status_code == 201, reported.text
    assert reported.json()["method"] in (None, *[g["method"] for g in plan[1]["groups"]])
    assert client.get(f"/v1/recommendations/{study}/next").status_code == 200
    page = client.get(f"/v1/recommendations/{study}/report")
    assert page.status_code == 200
    assert "embedding.weight" in page.text and "Advice scope: per_group" in page.text


def test_profiles_and_replays_name_the_figure_the_groups_differ_in(client: TestClient) -> None:
    gradients = _gradients()
    profiled = client.post("/v1/profiles", json={"gradients": gradients, "training_steps": 10_000})
    assert profiled.status_code == 200, profiled.text
    document = profiled.json()
    contrast = document["group_contrast"]
    assert set(contrast["values"]) == {"embedding.weight", "fc.weight"}
    assert contrast["spreads"] > 1.0 and contrast["figure"] in contrast["text"]
    assert set(document["groups"]) == {"embedding.weight", "fc.weight"}  # per group, as before
    replayed = client.post("/v1/replays", json={"gradients": gradients, "runs": [{"method": "adam"}]})
    assert replayed.status_code == 200, replayed.text
    assert replayed.json()["group_contrast"] == contrast
    single = client.post("/v1/profiles", json={"gradients": {"fc.weight": gradients["fc.weight"]}})
    assert single.json()["group_contrast"] is None
