"""Reading and writing studies and outcomes: plain, synchronous calls that the service runs off its event
loop. Each write is one small statement in its own transaction, committed before it returns."""

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Engine, delete, exists, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from optadvisor.service.storage.tables import advice, evidence_snapshots, outcomes, studies

# A study as read: its row with its advice's answer, descriptors and measurements.
_STUDY = select(
    studies.c.seq,
    studies.c.id,
    studies.c.owner,
    studies.c.created_at,
    studies.c.request,
    advice.c.answer,
    advice.c.measured,
    studies.c.method,
    advice.c.descriptors,
).join(advice, advice.c.hash == studies.c.advice)


def now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; every stored time is UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Study:
    seq: int
    id: str
    owner: str
    created_at: datetime
    request: str
    answer: str
    measured: str | None
    method: str
    descriptors: str


@dataclass(frozen=True)
class Outcome:
    seq: int
    id: str
    study_id: str
    idempotency_key: str | None
    fingerprint: str
    created_at: datetime
    body: str
    method: str | None
    configuration: str | None
    metric: float | None
    lower_is_better: bool
    diverged: bool


Record = TypeVar("Record", "Study", "Outcome")


def _record(kind: type[Record], row: Mapping[Any, Any]) -> Record:
    """A study or outcome from its row, its time made timezone-aware."""
    values = dict(row)
    values["created_at"] = _aware(values["created_at"])
    return kind(**values)


@dataclass(frozen=True)
class StudySummary:
    study: Study
    outcomes: int


@dataclass(frozen=True)
class FinishedRun:
    """One outcome of a study with outcomes, joined with what the evidence snapshot needs of its study."""

    study_seq: int
    owner: str
    descriptors: str
    method: str | None
    configuration: str | None
    metric: float | None
    lower_is_better: bool
    diverged: bool


class Store:
    """The study store over one engine (SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def insert_studies(self, rows: Sequence[dict[str, Any]], advised: Sequence[dict[str, Any]]) -> None:
        """Insert studies, and the advice they name unless it is stored already, in one transaction (the
        group writer's batch): all are committed, or none."""
        distinct = list({row["hash"]: row for row in advised}.values())
        with self.engine.begin() as connection:
            connection.execute(self._insert(advice).on_conflict_do_nothing(index_elements=["hash"]), distinct)
            connection.execute(studies.insert(), list(rows))

    def study(self, study_id: str, owner: str | None) -> Study | None:
        """The study `study_id` if `owner` owns it (None: whoever does)."""
        query = _STUDY.where(studies.c.id == study_id)
        if owner is not None:
            query = query.where(studies.c.owner == owner)
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        return None if row is None else _record(Study, row._mapping)

    def studies(self, owner: str, limit: int, before: int | None) -> list[StudySummary]:
        """`owner`'s studies, newest first, from just before sequence number `before`."""
        counts = (
            select(outcomes.c.study_id, func.count().label("outcomes"))
            .group_by(outcomes.c.study_id)
            .subquery()
        )
        query = (
            _STUDY.add_columns(func.coalesce(counts.c.outcomes, 0).label("outcome_count"))
            .outerjoin(counts, counts.c.study_id == studies.c.id)
            .where(studies.c.owner == owner)
            .order_by(studies.c.seq.desc())
            .limit(limit)
        )
        if before is not None:
            query = query.where(studies.c.seq < before)
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        summaries = []
        for row in rows:
            values = dict(row._mapping)
            count = int(values.pop("outcome_count"))
            summaries.append(StudySummary(_record(Study, values), count))
        return summaries

    def delete(self, study_id: str, owner: str) -> bool:
        """Delete `owner`'s study and its outcomes; False when there is no such study of theirs."""
        with self.engine.begin() as connection:
            deleted = connection.execute(
                delete(studies).where(studies.c.id == study_id, studies.c.owner == owner)
            )
        return bool(deleted.rowcount)

    def outcomes(self, study_id: str) -> list[Outcome]:
        query = select(outcomes).where(outcomes.c.study_id == study_id).order_by(outcomes.c.seq)
        with self.engine.connect() as connection:
            return [_record(Outcome, row._mapping) for row in connection.execute(query)]

    def add_outcome(self, row: dict[str, Any]) -> tuple[Outcome, bool] | None:
        """Store an outcome, or find the one stored under the same idempotency key: (outcome, created).
        None when its study no longer exists."""
        statement = (
            self._insert(outcomes)
            .values(**row)
            .on_conflict_do_nothing(index_elements=["study_id", "idempotency_key"])
            .returning(outcomes.c.id)
        )
        try:
            with self.engine.begin() as connection:
                # RETURNING names the row only when it was inserted (rowcount is not reliable here).
                created = connection.execute(statement).scalar_one_or_none() is not None
                query = select(outcomes).where(outcomes.c.study_id == row["study_id"])
                if created:
                    query = query.where(outcomes.c.id == row["id"])
                else:
                    query = query.where(outcomes.c.idempotency_key == row["idempotency_key"])
                stored = connection.execute(query).one()
        except IntegrityError:
            # The study was deleted (or purged) after the request found it.
            return None
        return _record(Outcome, stored._mapping), created

    def purge(self, older_than: datetime) -> int:
        """Delete every study created before `older_than`; its outcomes go with it (ON DELETE CASCADE),
        and advice that no study names any more (stored before `older_than`, so none a batch being written
        now has just found stored)."""
        with self.engine.begin() as connection:
            deleted = connection.execute(delete(studies).where(studies.c.created_at < older_than))
            named = exists().where(studies.c.advice == advice.c.hash)
            connection.execute(delete(advice).where(advice.c.created_at < older_than, ~named))
        return int(deleted.rowcount)

    def finished_runs(self, newest: int) -> list[FinishedRun]:
        """Every outcome of the `newest` most recent studies that have outcomes, oldest study first."""
        recent = (
            select(studies.c.seq)
            .where(studies.c.id.in_(select(outcomes.c.study_id)))
            .order_by(studies.c.seq.desc())
            .limit(newest)
            .subquery()
        )
        query = (
            select(
                studies.c.seq,
                studies.c.owner,
                advice.c.descriptors,
                outcomes.c.method,
                outcomes.c.configuration,
                outcomes.c.metric,
                outcomes.c.lower_is_better,
                outcomes.c.diverged,
            )
            .join(outcomes, outcomes.c.study_id == studies.c.id)
            .join(advice, advice.c.hash == studies.c.advice)
            .where(studies.c.seq.in_(select(recent.c.seq)))
            .order_by(studies.c.seq, outcomes.c.seq)
        )
        with self.engine.connect() as connection:
            return [FinishedRun(*row) for row in connection.execute(query)]

    def save_snapshot(self, version: str, content: Iterable[dict[str, Any]]) -> None:
        """Keep the evidence snapshot `version` (once: the same version has the same content)."""
        statement = (
            self._insert(evidence_snapshots)
            .values(version=version, created_at=now(), content=json.dumps(list(content)))
            .on_conflict_do_nothing(index_elements=["version"])
        )
        with self.engine.begin() as connection:
            connection.execute(statement)

    def snapshot(self, version: str) -> list[dict[str, Any]] | None:
        query = select(evidence_snapshots.c.content).where(evidence_snapshots.c.version == version)
        with self.engine.connect() as connection:
            content = connection.execute(query).scalar_one_or_none()
        return None if content is None else list(json.loads(content))
