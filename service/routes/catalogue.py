"""GET /v1/optimizers and GET /v1/optimizers/{name}: the optimizer catalogue."""

from typing import Annotated

from fastapi import Path

from optadvisor.optimizers import METHODS, catalogue
from optadvisor.optimizers.catalogue import MethodEntry
from optadvisor.service.openapi import problem_responses
from optadvisor.service.problems import ProblemError
from optadvisor.service.routes import api_router

router = api_router("optimizers")


@router.get(
    "/optimizers",
    summary="List the optimizer catalogue",
    response_model=list[MethodEntry],
    responses=problem_responses(401),
)
def list_optimizers() -> list[MethodEntry]:
    return catalogue.entries()


@router.get(
    "/optimizers/{name}",
    summary="One optimizer: update rule, hyperparameters per framework, pitfalls, behaviour",
    response_model=MethodEntry,
    responses=problem_responses(401, 404, 422),
)
def get_optimizer(
    name: Annotated[str, Path(max_length=64, description="Method name.", examples=["rmsprop"])],
) -> MethodEntry:
    try:
        return catalogue.entry(name)
    except ValueError:
        raise ProblemError(404, f"Unknown optimizer; known: {', '.join(METHODS)}.") from None
