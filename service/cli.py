"""`optadvisor`: run the server, or ask a running one for profiles, recommendations and the catalogue."""

import json
import math
import os
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from optadvisor.client.errors import OptadvisorError
from optadvisor.client.http import DEFAULT_URL, OptadvisorClient

cli = typer.Typer(
    name="optadvisor",
    help="Optimizer-selection advice: measure gradients, choose Adagrad/RMSprop/Adadelta/Adam/SGD.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Server text is printed as it is: rich markup would swallow E[g²] and fail on a stray [/...].
console = Console(markup=False)

UrlOption = Annotated[
    str, typer.Option("--url", envvar="OPTADVISOR_URL", help="Server to ask.", show_default=True)
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print exactly the API's JSON.")]


def _fail(message: str) -> NoReturn:
    # One line on stderr, no traceback: the CLI's contract for every failure.
    one_line = " ".join(line.strip() for line in message.splitlines() if line.strip())
    print(f"optadvisor: {one_line}", file=sys.stderr)
    raise typer.Exit(code=1)


def _strict_number(text: str) -> float:
    # Python's json module reads NaN, Infinity and 1e999, which JSON (and so the service) has no room for.
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is not a finite number")
    return value


def _read_json_file(path: Path, what: str) -> Any:
    try:
        return json.loads(
            path.read_text(encoding="utf-8"), parse_float=_strict_number, parse_constant=_strict_number
        )
    except OSError as error:
        _fail(f"cannot read {what} {path}: {error.strerror}")
    except (ValueError, UnicodeDecodeError) as error:
        _fail(f"{what} {path} is not valid JSON: {error}")


def _print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2) + "\n")


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return "—" if value is None else str(value)


def _call(function: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return function(*args, **kwargs)
    except OptadvisorError as error:
        _fail(str(error))


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default: OPTADVISOR_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: OPTADVISOR_PORT).")] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Server processes (default: OPTADVISOR_WORKERS).")
    ] = None,
) -> None:
    """Run the HTTP service under uvicorn, configured from OPTADVISOR_* variables."""
    try:
        import uvicorn
        from pydantic import ValidationError

        from optadvisor.rules import RuleSetError, load_ruleset
        from optadvisor.service.settings import Settings
    except ImportError as error:
        _fail(f"the server is not installed ({error.name} is missing): pip install 'optadvisor[server]'")

    try:
        settings = Settings()
    except ValidationError as error:
        prefix = Settings.model_config.get("env_prefix", "")
        problems = (f"{prefix}{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in error.errors())
        _fail(f"invalid settings: {'; '.join(problems)}")
    _restart_with_malloc_settings(settings.malloc_keep_freed_bytes)
    try:
        load_ruleset(settings.rules)  # fail here in one line rather than in start-up's traceback
    except RuleSetError as error:
        _fail(str(error))
    from optadvisor.service import workers as supervisor

    host, port, workers = host or settings.host, port or settings.port, workers or settings.workers
    if workers > 1:
        try:
            supervisor.run(settings, host, port, workers)
        except supervisor.WorkersError as error:
            _fail(str(error))
        return
    from optadvisor.service.app import (
        create_app,  # builds an app from the environment on import: valid by now
    )

    uvicorn.run(create_app(settings), **supervisor.uvicorn_options(settings, host, port))


def _restart_with_malloc_settings(keep_freed_bytes: int) -> None:
    """Re-execute this command (same process id, same arguments) with glibc's MALLOC_* variables set for
    `keep_freed_bytes`, unless the environment already has them: glibc reads them only at start-up, and
    worker processes inherit them."""
    from optadvisor.service.allocator import malloc_environment

    environment = malloc_environment(keep_freed_bytes, os.environ)
    if environment is not None:
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], environment)


def _figure_meanings(client: OptadvisorClient) -> dict[str, str]:
    """Each measured figure's meaning, as the server's schema defines it (its first sentence)."""
    schema = _call(client.openapi)
    figures = schema.get("components", {}).get("schemas", {}).get("Figures", {}).get("properties", {})
    return {
        name: str(spec.get("description", "")).split(". ")[0].rstrip(".") for name, spec in figures.items()
    }


def _figures_table(title: str, figures: dict[str, Any], meanings: dict[str, str]) -> Table:
    table = Table("figure", "value", "meaning", title=title)
    for name, value in figures.items():
        if value is not None:
            table.add_row(name, _cell(value), meanings.get(name, ""))
    return table


def _hyperparameter_table(title: str, hyperparameters: dict[str, Any] | None) -> Table:
    table = Table("hyperparameter", "value", title=title)
    for name, value in (hyperparameters or {}).items():
        table.add_row(name, _cell(value))
    return table


def _plan_table(plan: list[dict[str, Any]]) -> Table:
    table = Table("#", "method", "kwargs", title="Tuning plan")
    for number, item in enumerate(plan, start=1):
        # A per-group run lists each group's method and kwargs on rows of its own.
        for group in item.get("groups") or [item]:
            name = str(group.get("method"))
            if "parameters" in group:
                name = f"{', '.join(group['parameters'])}: {name}"
            table.add_row(str(number), name, _cell(group.get("kwargs")))
    return table


def _print_scope(answer: dict[str, Any]) -> None:
    if answer.get("advice_scope_reason"):
        console.print(
            Text.assemble(
                ("Advice scope: ", "bold"), f"{answer.get('advice_scope')}: {answer['advice_scope_reason']}"
            )
        )
    for group in answer.get("groups") or []:
        title = f"{', '.join(group['parameters'])}: {group['method']}"
        console.print(_hyperparameter_table(title, group.get("hyperparameters")))


def _print_recommendation(answer: dict[str, Any], meanings: dict[str, str]) -> None:
    console.print(
        Text.assemble(("Recommended: ", "bold"), f"{answer.get('method')} ({answer.get('framework')})")
    )
    if answer.get("id"):
        console.print(Text.assemble(("Study: ", "bold"), str(answer["id"])))
    console.print(_hyperparameter_table("Hyperparameters", answer.get("hyperparameters")))
    config = (answer.get("configs") or {}).get(answer.get("framework") or "", {})
    if config.get("code"):
        console.print(Text.assemble(("Config: ", "bold"), config["code"]))
    rationale = Table("rule", "why", title="Rationale")
    for item in answer.get("rationale") or []:
        rationale.add_row(str(item.get("rule")), str(item.get("text")))
    console.print(rationale)
    _print_scope(answer)
    alternatives = Table("method", "score", "why not", title="Alternatives")
    for item in answer.get("alternatives") or []:
        alternatives.add_row(str(item.get("method")), _cell(item.get("score")), str(item.get("reason")))
    console.print(alternatives)
    measured = answer.get("measured") or {}
    if measured:
        console.print(
            _figures_table(f"Measured in {measured.get('steps')} steps of gradients", measured, meanings)
        )
    console.print(_plan_table(answer.get("tuning_plan") or []))
    for assumption in answer.get("assumptions") or []:
        console.print(f"assumed: {assumption}", style="dim")


@cli.command()
def recommend(  # noqa: PLR0913  typer command: each parameter is a CLI option
    *,
    profile: Annotated[
        Path | None, typer.Option(help="JSON file holding the `profile` object (declared figures).")
    ] = None,
    request: Annotated[
        Path | None, typer.Option(help="JSON file holding a whole request body (instead of --profile).")
    ] = None,
    gradients: Annotated[Path | None, typer.Option(help=".npy/.npz/.safetensors gradient file.")] = None,
    framework: Annotated[str | None, typer.Option(help="torch, keras or optax.")] = None,
    url: UrlOption = DEFAULT_URL,
    as_json: JsonFlag = False,
) -> None:
    """Ask for a recommendation from a declared profile, optionally with a gradient file."""
    if profile is not None and request is not None:
        _fail("give --profile or --request, not both")
    if profile is None and request is None and gradients is None:
        _fail(
            "nothing to recommend from: give --profile FILE (what you know, as JSON, e.g. "
            '{"training_steps": 100000, "model_family": "mlp"}), --gradients FILE (.npy/.npz/.safetensors) '
            "or --request FILE (a whole request body)"
        )
    body: dict[str, Any] = {}
    if request is not None:
        body = _read_json_file(request, "request")
        if not isinstance(body, dict):
            _fail(f"request {request} must hold a JSON object")
    elif profile is not None:
        body = {"profile": _read_json_file(profile, "profile")}
    if framework is not None:
        body["framework"] = framework
    if gradients is not None and not gradients.is_file():
        _fail(f"no gradient file at {gradients}")
    with _call(OptadvisorClient, url) as client:
        answer = _call(client.recommend_request, body, gradients=gradients)
        if as_json:
            _print_json(answer)
            return
        _print_recommendation(answer, _figure_meanings(client) if answer.get("measured") else {})


@cli.command("profile")
def profile_command(
    file: Annotated[
        Path, typer.Argument(help=".npy/.npz/.safetensors gradient file, or a JSON request body.")
    ],
    training_steps: Annotated[int | None, typer.Option(help="Planned training length in steps.")] = None,
    framework: Annotated[str | None, typer.Option(help="torch, keras or optax.")] = None,
    url: UrlOption = DEFAULT_URL,
    as_json: JsonFlag = False,
) -> None:
    """Measure a gradient file."""
    if not file.is_file():
        _fail(f"no file at {file}")
    with _call(OptadvisorClient, url) as client:
        if file.suffix == ".json":
            body = _read_json_file(file, "profile request")
            gradients = body.get("gradients") if isinstance(body, dict) else None
            if not isinstance(gradients, dict):
                _fail(f"{file} must hold a JSON object with a `gradients` object")
            steps = training_steps or body.get("training_steps")
            answer = _call(client.profile, gradients, training_steps=steps, framework=framework)
        else:
            answer = _call(client.profile, file, training_steps=training_steps, framework=framework)
        if as_json:
            _print_json(answer)
            return
        meanings = _figure_meanings(client)
    console.print(_figures_table(f"Profile of {file.name}", answer.get("overall") or {}, meanings))
    for assumption in answer.get("assumptions") or []:
        console.print(f"assumed: {assumption}", style="dim")


@cli.command()
def optimizers(
    name: Annotated[
        str | None, typer.Argument(help="One method (adagrad, rmsprop, ...); all when omitted.")
    ] = None,
    url: UrlOption = DEFAULT_URL,
    as_json: JsonFlag = False,
) -> None:
    """Show the optimizer catalogue, or one entry of it."""
    with _call(OptadvisorClient, url) as client:
        answer = _call(client.optimizer, name) if name else _call(client.optimizers)
    if as_json:
        _print_json(answer)
        return
    if name:
        _print_optimizer(answer)
        return
    table = Table("method", "summary", title="Optimizers")
    for entry in answer:
        table.add_row(str(entry.get("name")), _cell(entry.get("summary")))
    console.print(table)


def _setting(spelling: dict[str, Any] | None) -> str:
    """One framework's spelling of a hyperparameter: name = default, range, note."""
    if spelling is None:
        return "—"
    default = spelling.get("default")
    shown = "required" if spelling.get("required") else f"= {'None' if default is None else _cell(default)}"
    note = f"; {spelling['note']}" if spelling.get("note") else ""
    return f"{spelling.get('name')} {shown}\n{spelling.get('range')}{note}"


def _print_optimizer(entry: dict[str, Any]) -> None:
    console.print(Text.assemble((f"{entry.get('title')}: ", "bold"), str(entry.get("summary"))))
    frameworks = list(entry.get("constructors") or {})
    rules = Table("framework", "update rule", "constructor", title="Update rule")
    for framework in frameworks:
        rules.add_row(
            framework, _cell(entry["update_rule"].get(framework)), _cell(entry["constructors"][framework])
        )
    console.print(rules)
    parameters = Table("name", "meaning", *frameworks, title="Hyperparameters")
    for parameter in entry.get("hyperparameters") or []:
        parameters.add_row(
            str(parameter.get("name")),
            str(parameter.get("meaning")),
            *(_setting(parameter.get(framework)) for framework in frameworks),
        )
    console.print(parameters)
    behaviour = Table("topic", "explanation", title="Behaviour")
    for item in entry.get("behaviour") or []:
        behaviour.add_row(str(item.get("topic")), str(item.get("explanation")))
    console.print(behaviour)
    console.print(Text.assemble(("Failure mode: ", "bold"), str(entry.get("failure_mode"))))
    for pitfall in entry.get("pitfalls") or []:
        console.print(f"pitfall: {pitfall}")


studies = typer.Typer(help="Your studies: every recommendation, its outcomes and what to run next.")
cli.add_typer(studies, name="studies")


def _print_next(step: dict[str, Any]) -> None:
    run = step.get("run")
    if step.get("done") or not run:
        console.print(
            Text.assemble(("Done: ", "bold"), f"{step.get('runs_reported')} of {step.get('budget')} runs")
        )
    else:
        console.print(Text.assemble(("Next: ", "bold"), f"{run.get('method')} {_cell(run.get('kwargs'))}"))
        console.print(f"configuration {run.get('configuration')}: {run.get('reason')}")
    for line in step.get("rationale") or []:
        console.print(f"- {line}")


@studies.command("list")
def studies_list(
    limit: Annotated[int, typer.Option(help="Studies per page.")] = 20,
    cursor: Annotated[str | None, typer.Option(help="`next_cursor` of the previous page.")] = None,
    url: UrlOption = DEFAULT_URL,
    as_json: JsonFlag = False,
) -> None:
    """List your studies, newest first."""
    with _call(OptadvisorClient, url) as client:
        page = _call(client.studies, limit=limit, cursor=cursor)
    if as_json:
        _print_json(page)
        return
    table = Table("id", "created", "method", "framework", "outcomes", title="Studies")
    for item in page.get("items") or []:
        table.add_row(
            *(_cell(item.get(name)) for name in ("id", "created_at", "method", "framework", "outcomes"))
        )
    console.print(table)
    if page.get("next_cursor"):
        console.print(f"more: --cursor {page['next_cursor']}", style="dim")


@studies.command("show")
def studies_show(
    study_id: Annotated[str, typer.Argument(help="The study's id.")],
    url: UrlOption = DEFAULT_URL,
    as_json: JsonFlag = False,
) -> None:
    """Show a study: its answer and every outcome reported."""
    with _call(OptadvisorClient, url) as client:
        document = _call(client.study, study_id)
    if as_json:
        _print_json(document)
        return
    _print_recommendation(document.get("answer") or {}, {})
    table = Table("#", "method", "configuration", "metric", "value", title="Outcomes")
    for number, outcome in enumerate(document.get("outcomes") or [], start=1):
        value = "diverged" if outcome.get("diverged") else _cell(outcome.get("metric"))
        table.add_row(
            str(number),
            _cell(outcome.get("method")),
            _cell(outcome.get("configuration")),
            _cell(outcome.get("metric_name")),
            value,
        )
    console.print(table)


@studies.command("next")
def studies_next(
    study_id: Annotated[str, typer.Argument(help="The study's id.")],
    url: UrlOption = DEFAULT_URL,
    as_json: JsonFlag = False,
) -> None:
    """What to run next, given the outcomes reported so far."""
    with _call(OptadvisorClient, url) as client:
        step = _call(client.next, study_id)
    if as_json:
        _print_json(step)
        return
    _print_next(step)


@studies.command("report")
def studies_report(
    study_id: Annotated[str, typer.Argument(help="The study's id.")],
    output: Annotated[
        Path | None, typer.Option(help="Where to write the page (default study-ID.html).")
    ] = None,
    url: UrlOption = DEFAULT_URL,
) -> None:
    """Save the study's HTML report page (it opens offline)."""
    with _call(OptadvisorClient, url) as client:
        page = _call(client.report, study_id)
    target = output or Path(f"study-{study_id[:32]}.html")
    try:
        target.write_text(page, encoding="utf-8")
    except OSError as error:
        _fail(f"cannot write {target}: {error.strerror}")
    print(target)


@cli.command()
def outcome(  # noqa: PLR0913  typer command: each parameter is a CLI option
    study_id: Annotated[str, typer.Argument(help="The study's id.")],
    *,
    metric: Annotated[float | None, typer.Option(help="The run's final metric.")] = None,
    plan_index: Annotated[
        int | None, typer.Option(help="Which run of the tuning plan (0: the first).")
    ] = None,
    method: Annotated[str | None, typer.Option(help="Or the method the run used (with --kwargs).")] = None,
    kwargs: Annotated[
        str | None, typer.Option(help="Its hyperparameters as JSON, e.g. '{\"lr\": 0.01}'.")
    ] = None,
    metric_name: Annotated[str | None, typer.Option(help="What the metric is, e.g. val_loss.")] = None,
    higher_is_better: Annotated[bool, typer.Option(help="The metric is better when higher.")] = False,
    steps: Annotated[int | None, typer.Option(help="Training steps the run took.")] = None,
    diverged: Annotated[bool, typer.Option(help="The run diverged.")] = False,
    idempotency_key: Annotated[
        str | None, typer.Option(help="Key that makes a retried report count once.")
    ] = None,
    url: UrlOption = DEFAULT_URL,
    as_json: JsonFlag = False,
) -> None:
    """Report a finished run of a study, then show what to run next."""
    parsed = None
    if kwargs is not None:
        try:
            parsed = json.loads(kwargs, parse_float=_strict_number, parse_constant=_strict_number)
        except ValueError as error:
            _fail(f"--kwargs is not valid JSON: {error}")
    if plan_index is None and method is None:
        _fail("name the run: --plan-index N (a run of the tuning plan) or --method NAME [--kwargs JSON]")
    with _call(OptadvisorClient, url) as client:
        stored = _call(
            client.report_outcome,
            study_id,
            metric=metric,
            plan_index=plan_index,
            method=method,
            kwargs=parsed,
            metric_name=metric_name,
            lower_is_better=not higher_is_better,
            steps=steps,
            diverged=diverged,
            idempotency_key=idempotency_key,
        )
        step = _call(client.next, study_id)
    if as_json:
        _print_json({"outcome": stored, "next": step})
        return
    console.print(
        Text.assemble(
            ("Stored outcome ", "bold"),
            f"{stored.get('id')} ({stored.get('configuration') or 'off the grid'})",
        )
    )
    _print_next(step)


def main() -> None:
    """Console-script entry point."""
    cli()


if __name__ == "__main__":
    main()
