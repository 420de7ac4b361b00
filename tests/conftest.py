import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@pytest.fixture(autouse=True, scope="session")
def study_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Every app and live server the tests start stores its studies in a throwaway SQLite file, never in
    the working directory (a test that needs its own database sets OPTADVISOR_DATABASE_URL itself)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('studies') / 'studies.db'}"
    previous = os.environ.get("OPTADVISOR_DATABASE_URL")
    os.environ["OPTADVISOR_DATABASE_URL"] = url
    yield url
    if previous is None:
        os.environ.pop("OPTADVISOR_DATABASE_URL", None)
    else:
        os.environ["OPTADVISOR_DATABASE_URL"] = previous


POSTGRES_URL = os.environ.get("OPTADVISOR_TEST_POSTGRES_URL")


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new, empty database on the test PostgreSQL server, dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    assert POSTGRES_URL is not None
    name = f"optadvisor_test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def require_postgres() -> None:
    """Skip without the test PostgreSQL server, or fail where CI says there must be one."""
    if POSTGRES_URL is None:
        if os.environ.get("OPTADVISOR_REQUIRE_POSTGRES"):
            pytest.fail("OPTADVISOR_REQUIRE_POSTGRES is set but OPTADVISOR_TEST_POSTGRES_URL is not")
        pytest.skip("no PostgreSQL server (set OPTADVISOR_TEST_POSTGRES_URL; .ci/run starts one)")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind the store supports: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    require_postgres()
    with fresh_postgres_database() as url:
        yield url
