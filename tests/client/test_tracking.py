"""The tracking module against the real trackers: MLflow with its local SQLite store, W&B in offline mode.
Both are an optional extra (`trackers`): without them these tests are skipped, unless
OPTADVISOR_REQUIRE_TRACKERS is set (CI sets it), when they fail."""

import importlib.util
import os
from pathlib import Path

import pytest
from live_server import LiveServer

from optadvisor.client import OptadvisorClient, tracking


def require(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        if os.environ.get("OPTADVISOR_REQUIRE_TRACKERS"):
            pytest.fail(f"OPTADVISOR_REQUIRE_TRACKERS is set but {module} is not installed")
        pytest.skip(f"{module} is not installed (pip install 'optadvisor[trackers]')")


@pytest.fixture
def client(client_server: LiveServer) -> OptadvisorClient:
    return OptadvisorClient(client_server.url, api_key="client-key")


def test_an_mlflow_run_logs_the_answer_and_reports_its_final_metric(
    client: OptadvisorClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require("mlflow")
    import mlflow

    monkeypatch.chdir(tmp_path)  # MLflow writes its artifacts beside the working directory
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    answer = client.recommend({"model_family": "mlp", "tuning_budget": 3})
    with mlflow.start_run() as run:
        tracking.log_to_mlflow(answer, plan_index=1)
        for step, loss in enumerate([0.9, 0.5, 0.31]):
            mlflow.log_metric("val_loss", loss, step=step)
    logged = mlflow.get_run(run.info.run_id)
    assert logged.data.tags[tracking.STUDY] == answer["id"]
    assert logged.data.params["optimizer"] == answer["tuning_plan"][1]["method"]
    assert "optadvisor.json" in {item.path for item in mlflow.MlflowClient().list_artifacts(run.info.run_id)}
    outcome = tracking.report_mlflow_run(client, run.info.run_id, "val_loss")
    assert outcome["metric"] == pytest.approx(0.31) and outcome["steps"] == 2
    assert outcome["configuration"] == answer["tuning_plan"][1]["configuration"]
    assert outcome["tracker"] == {"kind": "mlflow", "run": run.info.run_id}
    again = tracking.report_mlflow_run(client, run.info.run_id, "val_loss")
    assert again["id"] == outcome["id"]  # reported twice, stored once
    assert len(client.study(answer["id"])["outcomes"]) == 1
    with pytest.raises(ValueError, match="no metric 'accuracy'"):
        tracking.report_mlflow_run(client, run.info.run_id, "accuracy")


def test_a_wandb_offline_run_logs_the_answer_and_reports_its_final_metric(
    client: OptadvisorClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require("wandb")
    import wandb

    monkeypatch.setenv("WANDB_SILENT", "true")
    answer = client.recommend({"model_family": "mlp", "tuning_budget": 3})
    run = wandb.init(mode="offline", dir=str(tmp_path), project="optadvisor-test")
    try:
        tracking.log_to_wandb(run, answer)
        for loss in (0.8, 0.6, 0.45):
            run.log({"val_loss": loss})
        outcome = tracking.report_wandb_run(client, run, "val_loss")
    finally:
        run.finish()
    assert run.config["optimizer"] == answer["method"]
    assert run.config["optadvisor_study"] == answer["id"]
    assert outcome["metric"] == pytest.approx(0.45)
    assert outcome["configuration"] == answer["tuning_plan"][0]["configuration"]
    assert outcome["tracker"]["kind"] == "wandb"
