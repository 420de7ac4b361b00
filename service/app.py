"""The FastAPI application: `create_app(settings)` builds it; `app` is the one uvicorn serves by default."""

import asyncio
import gc
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI

from optadvisor import rules
from optadvisor.profiler import Limits
from optadvisor.service.answer_cache import AnswerCache
from optadvisor.service.auth import ApiKeyMiddleware
from optadvisor.service.compute import BodyBudget, ComputePool
from optadvisor.service.dependencies import Services
from optadvisor.service.docs import install_docs
from optadvisor.service.errors import install_error_handlers
from optadvisor.service.jobs import JobLimits
from optadvisor.service.links import ReportLinks
from optadvisor.service.logs import configure_logging
from optadvisor.service.metrics import Metrics
from optadvisor.service.middleware import BodyGuardMiddleware, RequestContextMiddleware
from optadvisor.service.openapi import install_openapi
from optadvisor.service.routes import (
    API_PREFIX,
    catalogue,
    probes,
    profiles,
    recommendations,
    replays,
    ruleset,
    studies,
)
from optadvisor.service.settings import Settings
from optadvisor.service.storage.database import migrate, open_engine
from optadvisor.service.storage.store import Store
from optadvisor.service.storage.writer import GroupWriter
from optadvisor.service.studies import Studies, policy_of

logger = logging.getLogger("optadvisor.upkeep")

# Room for a few thousand distinct declared profiles (an answer is about 5 kB).
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]

DECLARED_ANSWER_CACHE_BYTES = 16 * 1024 * 1024

# Allocations between two young garbage collections while serving (CPython's default is 700).
YOUNG_COLLECTION_ALLOCATIONS = 20_000
# Retention is enforced this often (the setting is in days).
PURGE_EVERY_SECONDS = 3600.0

DESCRIPTION = (
    "Measures your gradients, replays them through Adagrad, RMSprop, Adadelta, Adam/AdamW and SGD in torch, "
    "Keras or Optax semantics, and recommends a method with ready-to-paste hyperparameters. "
    "Errors are RFC 9457 `application/problem+json`."
)


async def _upkeep(services: Services) -> None:
    """Refresh the cross-study evidence snapshot (dropping cached answers that quote the old one) and
    purge studies past their retention, forever; a failing database is logged and tried again later."""
    settings, book = services.settings, services.studies
    purged_at = 0.0
    while True:
        await asyncio.sleep(settings.evidence_refresh_seconds)
        try:
            if await anyio.to_thread.run_sync(book.refresh_snapshot):
                services.declared_answers.clear()
            if time.monotonic() - purged_at >= PURGE_EVERY_SECONDS:
                await anyio.to_thread.run_sync(book.purge, settings.retention_days)
                purged_at = time.monotonic()
        except Exception:  # the database may be away for a while; the service keeps answering
            logger.exception("study upkeep failed; retrying in %s s", settings.evidence_refresh_seconds)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app for `settings` (default: read from the environment). Rules load, and the study
    store is opened and migrated, at start-up."""
    settings = settings or Settings()
    metrics = Metrics()
    links = ReportLinks.from_settings(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        log_writer = configure_logging(settings.log_format, settings.log_level)
        # An invalid rule file raises RuleSetError here, which stops start-up with its message.
        loaded = rules.load_ruleset(settings.rules)
        limits = Limits(max_elements=settings.max_elements, max_groups=settings.max_groups)
        # A database that cannot be opened or migrated stops start-up with its message.
        engine = open_engine(settings.database_url)
        await anyio.to_thread.run_sync(migrate, engine)
        store = Store(engine)
        writer = GroupWriter(store)
        book = Studies(store, writer, links, policy_of(settings), loaded)
        await anyio.to_thread.run_sync(book.refresh_snapshot)
        writer.start()
        app.state.services = services = Services(
            settings=settings,
            job_limits=JobLimits(gradients=limits, max_json_depth=settings.max_json_depth),
            ruleset=loaded,
            pool=ComputePool(
                workers=settings.compute_workers,
                queue=settings.compute_queue,
                queue_timeout=settings.compute_queue_timeout,
                memory_bytes=settings.compute_memory_bytes,
                max_work=settings.max_compute_work,
                compute_timeout=settings.compute_timeout,
                retry_after_seconds=settings.retry_after_seconds,
                metrics=metrics,
            ),
            declared_answers=AnswerCache(DECLARED_ANSWER_CACHE_BYTES),
            metrics=metrics,
            studies=book,
        )
        upkeep = asyncio.create_task(_upkeep(services))
        log_writer.start()
        thresholds = _tune_collector()
        try:
            yield
        finally:
            gc.set_threshold(*thresholds)
            gc.unfreeze()
            upkeep.cancel()
            # Studies still queued are committed before the process ends.
            await anyio.to_thread.run_sync(writer.stop)
            engine.dispose()
            log_writer.stop()

    app = _routed_app(settings, metrics, lifespan)
    _install_middleware(app, settings, metrics, links)
    return app


def _routed_app(settings: Settings, metrics: Metrics, lifespan: Lifespan) -> FastAPI:
    """The app with its routers, problem+json error handlers, OpenAPI document and docs page."""
    app = FastAPI(
        title="optadvisor",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.metrics = metrics

    routers = [
        module.router for module in (profiles, recommendations, studies, replays, catalogue, ruleset, probes)
    ]
    for router in routers:
        app.include_router(router)

    install_error_handlers(app)
    install_openapi(app, routers)
    install_docs(app)
    return app


def _tune_collector() -> tuple[int, ...]:
    """Freeze the start-up heap and space young collections out; the thresholds to restore.

    Everything loaded so far (torch, numpy, the rules, SQLAlchemy) lives as long as the process: out of
    the collector's sight, a full collection no longer walks it. Requests that wait for their commit
    outlive a young collection, so full collections come often; walking the start-up heap each time
    stalled every request for about 100 ms (p99 of the throughput benchmark). Young collections come every
    20,000 allocations instead of 700: a declared request allocates a few hundred objects, nearly all freed
    by reference counting (+4-5% declared throughput, measured).
    """
    gc.freeze()
    thresholds = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_ALLOCATIONS, *thresholds[1:])
    return thresholds


def _install_middleware(app: FastAPI, settings: Settings, metrics: Metrics, links: ReportLinks) -> None:
    # Added innermost first: the request id exists before the key check or the body guard refuse anything,
    # and a request without a valid key is refused before its body is read.
    app.add_middleware(
        BodyGuardMiddleware,
        max_bytes=settings.max_request_bytes,
        read_timeout=settings.request_read_timeout,
        bodies=BodyBudget(settings.max_buffered_bytes, metrics),
        retry_after_seconds=settings.retry_after_seconds,
    )
    if settings.api_keys:
        app.add_middleware(ApiKeyMiddleware, keys=settings.api_keys, prefix=API_PREFIX, links=links)
    app.add_middleware(RequestContextMiddleware, metrics=metrics)


app = create_app()
