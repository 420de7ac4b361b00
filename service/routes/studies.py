"""Studies: GET /v1/recommendations[/{id}], outcomes reported back, the next run, the report page, delete.

The handlers are thin: the database calls and the ask/tell step run in a thread (`service.studies`)."""

import json
from typing import Annotated, Any

import anyio.to_thread
from fastapi import Header, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel

from optadvisor.rules.ask_tell import NextStep
from optadvisor.service.bodies import JsonBody, parse_json, read_body, validate
from optadvisor.service.dependencies import ServicesDep, owner
from optadvisor.service.openapi import problem_responses, request_body
from optadvisor.service.report import REPORT_HEADERS, render
from optadvisor.service.routes import api_router
from optadvisor.service.schemas import OutcomeBody, StoredOutcome, StudyDocument, StudyPage

router = api_router("studies")

StudyId = Annotated[
    str, Path(max_length=64, description="The study's id, as `POST /v1/recommendations` gave.")
]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="A client-chosen key: a report retried with the same key is stored once.",
    ),
]


def _json(document: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(document), status_code=status, media_type="application/json", headers=headers)


def _checked(model: type[BaseModel], document: dict[str, Any]) -> dict[str, Any]:
    """`document`, once it has been validated against the route's response model (a mismatch is a bug: 500).

    The document itself is sent, not the model's dump, so that the bytes stay what the store gave."""
    model.model_validate(document)
    return document


@router.get(
    "/recommendations",
    summary="List your studies",
    description="The caller's studies (with API keys: those made with the same key), newest first, "
    "`limit` at a time; pass `next_cursor` back as `cursor` for the next page.",
    response_model=StudyPage,
    responses=problem_responses(401, 422, 503),
)
async def list_studies(
    request: Request,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    def read() -> dict[str, Any]:
        return _checked(StudyPage, services.studies.listing(owner(request), limit, cursor))

    return _json(await anyio.to_thread.run_sync(read))


@router.get(
    "/recommendations/{study_id}",
    summary="One study",
    description="The stored answer, the request's profile and measured figures, and every outcome reported.",
    response_model=StudyDocument,
    responses=problem_responses(401, 404, 422, 503),
)
async def get_study(request: Request, services: ServicesDep, study_id: StudyId) -> Response:
    def read() -> dict[str, Any]:
        document = services.studies.document(*services.studies.with_outcomes(study_id, owner(request)))
        return _checked(StudyDocument, document)

    return _json(await anyio.to_thread.run_sync(read))


@router.delete(
    "/recommendations/{study_id}",
    summary="Delete a study",
    description="The study and its outcomes, for good. Only its owner (the API key that made it) can.",
    status_code=204,
    responses=problem_responses(401, 404, 422, 503),
)
async def delete_study(request: Request, services: ServicesDep, study_id: StudyId) -> Response:
    deleted = await anyio.to_thread.run_sync(services.studies.store.delete, study_id, owner(request))
    if not deleted:
        services.studies.find(study_id, owner(request))  # raises the 404
    return Response(status_code=204)


@router.post(
    "/recommendations/{study_id}/outcomes",
    summary="Report a finished run",
    description="Which configuration ran (`plan_index`, or `method` and `kwargs`, or per-group `groups`), "
    "its final `metric` or that it `diverged`. 201 with the outcome's id; a retry with the same "
    "`Idempotency-Key` is stored once and answered 200 with the stored outcome.",
    status_code=201,
    response_model=StoredOutcome,
    responses={
        201: {"description": "Stored."},
        200: {"model": StoredOutcome, "description": "Already stored under this Idempotency-Key."},
        **problem_responses(400, 401, 404, 413, 415, 422, 503),
    },
    openapi_extra=request_body(OutcomeBody),
)
async def report_outcome(
    request: Request, services: ServicesDep, study_id: StudyId, idempotency_key: IdempotencyKey = None
) -> Response:
    body = await read_body(request, services.settings, multipart=False)
    assert isinstance(body, JsonBody)
    outcome = validate(OutcomeBody, parse_json(body.raw, services.job_limits.max_json_depth))

    def store() -> tuple[dict[str, Any], bool]:
        study = services.studies.find(study_id, owner(request))
        document, created = services.studies.add_outcome(study, outcome, idempotency_key)
        return _checked(StoredOutcome, document), created

    document, created = await anyio.to_thread.run_sync(store)
    headers = {"Location": f"/v1/recommendations/{study_id}/outcomes/{document['id']}"}
    if not created:
        headers["Idempotent-Replayed"] = "true"
    return _json(document, 201 if created else 200, headers)


@router.get(
    "/recommendations/{study_id}/next",
    summary="The next run to try (ask/tell)",
    description="Given the outcomes reported so far: the next grid configuration, methods dropped for losing "
    "by a clear margin, learning rates narrowed around the best run; `done` once the budget is spent. The "
    "rationale quotes the reported numbers.",
    response_model=NextStep,
    responses=problem_responses(401, 404, 422, 503),
)
async def next_run(request: Request, services: ServicesDep, study_id: StudyId) -> JSONResponse:
    def ask() -> NextStep:
        return services.studies.next_step(*services.studies.with_outcomes(study_id, owner(request)))

    step = await anyio.to_thread.run_sync(ask)
    return JSONResponse(step.model_dump(mode="json"))


@router.get(
    "/recommendations/{study_id}/report",
    summary="The study's report page (HTML)",
    description="Pictures of the replayed step sizes, Adagrad's projected rate, the measured drift and the "
    "reported outcomes; works offline. With API keys configured, open it from the answer's `links.report`, "
    "which carries a signed token that expires (OPTADVISOR_REPORT_LINK_SECONDS).",
    response_class=HTMLResponse,
    responses=problem_responses(401, 404, 422, 503),
)
async def report_page(
    request: Request,
    services: ServicesDep,
    study_id: StudyId,
    token: Annotated[str | None, Query(max_length=64, description="The signed link's token.")] = None,
) -> HTMLResponse:
    # A valid token (checked by service.auth) opens this one study whoever asks; otherwise the key's own.
    opened_by_link = request.scope.get("state", {}).get("report_study") == study_id

    def page() -> str:
        study, outcomes = services.studies.with_outcomes(study_id, None if opened_by_link else owner(request))
        document = services.studies.document(study, outcomes)
        stored = json.loads(study.measured) if study.measured else {}
        return render(document, stored.get("charts"), stored.get("training_steps"))

    return HTMLResponse(await anyio.to_thread.run_sync(page), headers=REPORT_HEADERS)
