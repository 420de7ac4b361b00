"""The reference server of `service_throughput.py`: a bare FastAPI app answering constant JSON.

    python -m benchmarks.bare_app serve    # run by `optadvisor serve`, with the same OPTADVISOR_* settings

POST /v1/recommendations returns the service's own answer to `DECLARED_REQUEST`, computed once at start-up, so
both servers send the same bytes; what the bare app leaves out is everything the service does per request
(middleware, body guard, validation, the rules, serialisation, access log, metrics).
"""

from __future__ import annotations

from typing import Any
from unittest.mock import patch

from fastapi import FastAPI, Response

from optadvisor import rules
from optadvisor.rules.studies import StudySnapshot
from optadvisor.service import cli
from optadvisor.service.settings import Settings
from optadvisor.service.studies import policy_of, study_links, with_study

# The README's declared-profile example.
DECLARED_REQUEST: dict[str, Any] = {
    "profile": {
        "gradient_sparsity": 0.97,
        "training_steps": 200_000,
        "tuning_budget": 4,
        "model_family": "embedding",
    },
    "framework": "torch",
}


# The service answers with the id of the study each request makes; the bare app, with this one every time.
STUDY_ID = "0" * 32


def declared_answer(settings: Settings) -> bytes:
    """The recommendation the service gives for `DECLARED_REQUEST` under the rule set `settings` names, as a
    first study (no other study's evidence yet) with the study's id and links in front."""
    request = rules.RecommendationRequest.model_validate(DECLARED_REQUEST)
    snapshot = StudySnapshot([], policy_of(settings))
    recommendation = rules.recommend(request, rules.load_ruleset(settings.rules), None, snapshot)
    return with_study(STUDY_ID, study_links(STUDY_ID, None), recommendation.model_dump_json().encode())


def create_bare_app(settings: Settings | None = None) -> FastAPI:
    """One POST endpoint at the service's path returning constant JSON, and a readiness probe."""
    answer = declared_answer(settings or Settings())
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/v1/recommendations")
    async def constant_recommendation() -> Response:
        return Response(answer, media_type="application/json")

    @app.get("/readyz")
    async def ready() -> dict[str, str]:
        return {"status": "ready"}

    return app


def main() -> None:
    # `optadvisor serve` builds its app with service.app.create_app; swapping that factory alone gives the
    # bare app exactly the service's uvicorn options and settings, with no second copy of them to drift.
    with patch("optadvisor.service.app.create_app", create_bare_app):
        cli.main()


if __name__ == "__main__":
    main()
