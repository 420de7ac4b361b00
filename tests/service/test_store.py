"""The study store on SQLite and on a real PostgreSQL: migrations, ownership, paging, idempotency, deletion,
retention, and the group writer's commit-before-answer."""

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, select

from optadvisor.service.storage.database import alembic_config, migrate, open_engine
from optadvisor.service.storage.store import Store
from optadvisor.service.storage.tables import advice, metadata, outcomes, studies
from optadvisor.service.storage.writer import GroupWriter

REVISIONS = [
    script.revision
    for script in reversed(list(ScriptDirectory.from_config(alembic_config()).walk_revisions()))
]


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = open_engine(database_url)
    yield engine
    engine.dispose()


ADVICE = {
    "hash": "a" * 64,
    "created_at": datetime.now(UTC) - timedelta(days=400),
    "answer": '{"framework": "torch", "tuning_plan": []}',
    "descriptors": "{}",
    "measured": None,
}


def study_row(owner: str = "alice", created_at: datetime | None = None) -> dict[str, Any]:
    return {
        "id": uuid.uuid4().hex,
        "owner": owner,
        "created_at": created_at or datetime.now(UTC),
        "request": "{}",
        "advice": ADVICE["hash"],
        "method": "adam",
    }


def insert(store: Store, *rows: dict[str, Any]) -> None:
    store.insert_studies(list(rows), [ADVICE] * len(rows))


def outcome_row(study_id: str, key: str | None = None, fingerprint: str = "f") -> dict[str, Any]:
    return {
        "id": uuid.uuid4().hex,
        "study_id": study_id,
        "idempotency_key": key,
        "fingerprint": fingerprint,
        "created_at": datetime.now(UTC),
        "body": "{}",
        "method": "adam",
        "configuration": "adam:+0:0",
        "metric": 0.5,
        "lower_is_better": True,
        "diverged": False,
    }


def test_migrations_from_an_empty_database_build_exactly_the_declared_schema(engine: Engine) -> None:
    migrate(engine)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
        assert differences == []
        assert MigrationContext.configure(connection).get_current_revision() == REVISIONS[-1]
    migrate(engine)  # a second start finds nothing to do


@pytest.mark.parametrize("index", range(1, len(REVISIONS)))
def test_each_migration_upgrades_its_predecessor_keeping_its_data(engine: Engine, index: int) -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, REVISIONS[index - 1])
    row = study_row()
    with engine.begin() as connection:
        connection.execute(advice.insert(), [ADVICE])
        connection.execute(studies.insert(), [row])
        connection.execute(outcomes.insert(), [outcome_row(row["id"], "k")])
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, REVISIONS[index])
        assert MigrationContext.configure(connection).get_current_revision() == REVISIONS[index]
    store = Store(engine)
    assert store.study(row["id"], "alice") is not None
    assert len(store.outcomes(row["id"])) == 1
    assert set(inspect(engine).get_table_names()) >= {"studies", "outcomes"}


@pytest.fixture
def store(engine: Engine) -> Store:
    migrate(engine)
    return Store(engine)


def test_a_study_is_seen_by_its_owner_only(store: Store) -> None:
    row = study_row("alice")
    insert(store, row)
    assert store.study(row["id"], "alice") is not None
    assert store.study(row["id"], "mallory") is None
    assert store.study(row["id"], None) is not None  # a signed report link opens it for anyone
    assert not store.delete(row["id"], "mallory")
    assert store.study(row["id"], "alice") is not None


def test_studies_are_listed_newest_first_a_page_at_a_time(store: Store) -> None:
    rows = [study_row("alice") for _ in range(5)] + [study_row("bob")]
    for row in rows:
        insert(store, row)
    store.add_outcome(outcome_row(rows[4]["id"]))
    first = store.studies("alice", 3, None)
    assert [summary.study.id for summary in first] == [rows[4]["id"], rows[3]["id"], rows[2]["id"]]
    assert first[0].outcomes == 1 and first[1].outcomes == 0
    rest = store.studies("alice", 3, first[-1].study.seq)
    assert [summary.study.id for summary in rest] == [rows[1]["id"], rows[0]["id"]]


def test_an_outcome_is_stored_once_per_idempotency_key(store: Store) -> None:
    row = study_row()
    insert(store, row)
    first = store.add_outcome(outcome_row(row["id"], "key-1", "a"))
    again = store.add_outcome(outcome_row(row["id"], "key-1", "a"))
    other = store.add_outcome(outcome_row(row["id"], "key-2", "a"))
    unkeyed = [store.add_outcome(outcome_row(row["id"])) for _ in range(2)]
    assert first is not None and again is not None and other is not None
    assert first[1] and not again[1] and other[1]
    assert again[0].id == first[0].id
    assert all(result is not None and result[1] for result in unkeyed)
    assert len(store.outcomes(row["id"])) == 4


def test_an_outcome_for_a_deleted_study_is_refused_and_deletion_takes_the_outcomes(store: Store) -> None:
    row = study_row()
    insert(store, row)
    store.add_outcome(outcome_row(row["id"], "k"))
    assert store.delete(row["id"], "alice")
    assert store.study(row["id"], "alice") is None
    assert store.outcomes(row["id"]) == []
    assert store.add_outcome(outcome_row(row["id"], "k2")) is None


def test_retention_purges_old_studies_with_their_outcomes(store: Store) -> None:
    old = study_row(created_at=datetime.now(UTC) - timedelta(days=40))
    new = study_row()
    insert(store, old, new)
    store.add_outcome(outcome_row(old["id"]))
    assert store.purge(datetime.now(UTC) - timedelta(days=30)) == 1
    assert store.study(old["id"], None) is None and store.study(new["id"], None) is not None
    with store.engine.connect() as connection:
        assert connection.execute(select(outcomes)).all() == []
        # The advice the remaining study names stays; advice nobody names goes.
        assert connection.execute(select(advice.c.hash)).scalars().all() == [ADVICE["hash"]]
    assert store.delete(new["id"], "alice")
    store.purge(datetime.now(UTC) - timedelta(days=30))
    with store.engine.connect() as connection:
        assert connection.execute(select(advice)).all() == []


def test_the_group_writer_answers_only_after_the_commit(store: Store) -> None:
    writer = GroupWriter(store)
    writer.start()
    rows = [study_row() for _ in range(300)]

    async def burst() -> None:
        async def one(row: dict[str, Any]) -> None:
            await writer.insert(row, ADVICE)
            # Committed before the await returned: another connection sees it.
            assert store.study(row["id"], "alice") is not None

        await asyncio.gather(*(one(row) for row in rows))

    try:
        asyncio.run(burst())
    finally:
        writer.stop()
    assert len(store.studies("alice", 1000, None)) == 300


def test_snapshots_are_kept_once_per_version(store: Store) -> None:
    store.save_snapshot("abc", [{"owner": "k"}])
    store.save_snapshot("abc", [{"owner": "k"}])
    assert store.snapshot("abc") == [{"owner": "k"}]
    assert store.snapshot("missing") is None
