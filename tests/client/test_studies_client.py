"""The client's study calls against a live server with an API key: report outcomes (idempotently), ask for
the next run, read, list, fetch the report, delete."""

import httpx
import pytest
from live_server import LiveServer

from optadvisor.client import OptadvisorClient
from optadvisor.client.errors import InvalidRequestError, NotFoundError


def test_a_study_goes_round_the_ask_tell_loop(client_server: LiveServer) -> None:
    with OptadvisorClient(client_server.url, api_key="client-key") as client:
        answer = client.recommend({"model_family": "mlp", "tuning_budget": 3, "training_steps": 5000})
        study = answer["id"]
        first = client.next(study)
        assert first["run"]["configuration"] == answer["tuning_plan"][0]["configuration"]
        stored = client.report_outcome(
            study, plan_index=0, metric=0.42, metric_name="val_loss", idempotency_key="a"
        )
        again = client.report_outcome(
            study, plan_index=0, metric=0.42, metric_name="val_loss", idempotency_key="a"
        )
        assert again["id"] == stored["id"]
        run = client.next(study)["run"]
        client.report_outcome(
            study, method=run["method"], kwargs=run["kwargs"], metric=0.40, metric_name="val_loss"
        )
        document = client.study(study)
        assert [outcome["metric"] for outcome in document["outcomes"]] == [0.42, 0.40]
        assert document["outcomes"][1]["configuration"] == run["configuration"]
        assert client.studies(limit=1)["items"][0]["id"] == study
        assert "<svg" in client.report(study)
        with pytest.raises(InvalidRequestError):
            client.report_outcome(study, plan_index=0)  # no metric, not diverged
        client.delete_study(study)
        with pytest.raises(NotFoundError):
            client.study(study)
    assert httpx.get(f"{client_server.url}/v1/recommendations/{study}").status_code == 401
