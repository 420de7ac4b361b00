"""Experiment trackers: log an answer beside the run it configures, and report the run's result back to
its study. MLflow and Weights & Biases are imported only when used; neither is a dependency of this
package (`pip install 'optadvisor[trackers]'` brings both).

The run records which study and which configuration it trained (MLflow tags, W&B config keys), so its
final metric can be reported as an outcome of that study later, by run id (MLflow) or from the run object
(W&B, whose offline runs cannot be looked up)."""

import json
import math
from typing import Any

from optadvisor.client.http import OptadvisorClient

STUDY = "optadvisor.study"
METHOD = "optadvisor.method"
KWARGS = "optadvisor.kwargs"
# W&B config keys cannot hold dots the way MLflow tags do.
_WANDB = {STUDY: "optadvisor_study", METHOD: "optadvisor_method", KWARGS: "optadvisor_kwargs"}


def _per_group(groups: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    """A per-group run as flat params: `group_<i>.parameters`, `group_<i>.method`, `group_<i>.<kwarg>`."""
    flat: dict[str, Any] = {}
    for index, group in enumerate(groups):
        flat[f"group_{index}.parameters"] = ",".join(group["parameters"])
        flat[f"group_{index}.method"] = group["method"]
        flat.update({f"group_{index}.{name}": value for name, value in group["kwargs"].items()})
    return "per_group", flat


def run_configuration(answer: dict[str, Any], plan_index: int | None = None) -> tuple[str, dict[str, Any]]:
    """The method and framework kwargs a run trains with: the recommendation's, or a plan run's; for
    per-group advice the method is "per_group" and the kwargs name each group's method and kwargs."""
    if plan_index is None:
        if answer.get("advice_scope") == "per_group" and answer.get("tuning_plan"):
            return run_configuration(answer, 0)
        framework = answer["framework"]
        return answer["method"], dict(answer["configs"][framework]["kwargs"])
    run = answer["tuning_plan"][plan_index]
    if run.get("groups"):
        return _per_group(run["groups"])
    return run["method"], dict(run["kwargs"])


def _tags(answer: dict[str, Any], plan_index: int | None) -> dict[str, str]:
    method, kwargs = run_configuration(answer, plan_index)
    return {
        STUDY: answer["id"],
        METHOD: method,
        KWARGS: json.dumps(kwargs, sort_keys=True),
        "optadvisor.rules_version": answer["rules_version"],
    }


def _outcome(value: float | None, steps: int | None) -> dict[str, Any]:
    """The metric part of a report: a non-finite (or missing) final value is a diverged run."""
    if value is None or not math.isfinite(value):
        return {"metric": None, "diverged": True, "steps": steps}
    return {"metric": float(value), "diverged": False, "steps": steps}


# --- MLflow ------------------------------------------------------------------------------------------------


def log_to_mlflow(answer: dict[str, Any], *, plan_index: int | None = None) -> None:
    """In the active MLflow run: the optimizer and its hyperparameters as params, the whole answer as the
    artifact `optadvisor.json`, and the study and the configuration trained as tags."""
    import mlflow

    method, kwargs = run_configuration(answer, plan_index)
    # A tuple argument (torch's betas) is logged as its list's text: MLflow params are strings.
    mlflow.log_params({"optimizer": method, **kwargs})
    mlflow.log_dict(answer, "optadvisor.json")
    mlflow.set_tags(_tags(answer, plan_index))


def report_mlflow_run(
    client: OptadvisorClient, run_id: str, metric: str, *, lower_is_better: bool = True
) -> dict[str, Any]:
    """Report MLflow run `run_id`'s final `metric` as an outcome of the study it was logged for."""
    from mlflow.tracking import MlflowClient

    tracker = MlflowClient()
    run = tracker.get_run(run_id)
    tags = run.data.tags
    if STUDY not in tags:
        raise ValueError(f"MLflow run {run_id} was not logged with log_to_mlflow: it names no study")
    history = tracker.get_metric_history(run_id, metric)
    if not history:
        known = ", ".join(sorted(run.data.metrics)) or "none"
        raise ValueError(f"MLflow run {run_id} has no metric {metric!r} (it has: {known})")
    final = history[-1]
    return client.report_outcome(
        tags[STUDY],
        method=tags[METHOD],
        kwargs=json.loads(tags[KWARGS]),
        metric_name=metric,
        lower_is_better=lower_is_better,
        tracker={"kind": "mlflow", "run": run_id},
        idempotency_key=f"mlflow:{run_id}:{metric}",
        **_outcome(final.value, final.step),
    )


# --- Weights & Biases --------------------------------------------------------------------------------------


def log_to_wandb(run: Any, answer: dict[str, Any], *, plan_index: int | None = None) -> None:
    """In W&B run `run`: the optimizer and its hyperparameters in its config, with the study and the
    configuration trained, and the whole answer as an artifact holding `optadvisor.json`."""
    import wandb

    method, kwargs = run_configuration(answer, plan_index)
    tags = _tags(answer, plan_index)
    run.config.update(
        {
            "optimizer": method,
            **kwargs,
            **{_WANDB.get(k, k.replace(".", "_")): v for k, v in tags.items()},
        }
    )
    artifact = wandb.Artifact(f"optadvisor-{answer['id']}", type="optadvisor-answer")
    with artifact.new_file("optadvisor.json") as file:
        json.dump(answer, file)
    run.log_artifact(artifact)


def report_wandb_run(
    client: OptadvisorClient, run: Any, metric: str, *, lower_is_better: bool = True
) -> dict[str, Any]:
    """Report W&B run `run`'s final `metric` (its summary value) as an outcome of its study."""
    config = dict(run.config)
    if _WANDB[STUDY] not in config:
        raise ValueError(f"W&B run {run.id} was not logged with log_to_wandb: it names no study")
    summary = dict(run.summary)
    if metric not in summary:
        known = ", ".join(sorted(name for name in summary if not name.startswith("_"))) or "none"
        raise ValueError(f"W&B run {run.id} has no metric {metric!r} (it has: {known})")
    value = summary[metric]
    return client.report_outcome(
        config[_WANDB[STUDY]],
        method=config[_WANDB[METHOD]],
        kwargs=json.loads(config[_WANDB[KWARGS]]),
        metric_name=metric,
        lower_is_better=lower_is_better,
        tracker={"kind": "wandb", "run": str(run.id)},
        idempotency_key=f"wandb:{run.id}:{metric}",
        **_outcome(float(value) if isinstance(value, int | float) else None, summary.get("_step")),
    )
