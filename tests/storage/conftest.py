"""Backends for the storage tests: SQLite in tmp_path and PostgreSQL from TEST_DATABASE_URL.

Each PostgreSQL test gets its own schema (selected through ``search_path`` in the URL,
so subprocesses inherit it) and the schema is dropped afterwards: other suites may share
the ``test`` database.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from storage import Store, sqlite_url
from storage.engine import normalise_url

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def postgres_base_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("TEST_DATABASE_URL is not set on CI: the PostgreSQL suite must run")
        pytest.skip("TEST_DATABASE_URL not set")
    return url


@dataclass(frozen=True)
class Database:
    backend: str
    url: str  # self-contained: a subprocess given this URL sees the same tables


def postgres_database() -> Iterator[Database]:
    """An isolated schema in the PostgreSQL test database, dropped afterwards.

    Shared with the bot's webhook tests, where several workers use one database."""
    base = normalise_url(postgres_base_url())
    schema = f"screenbot_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        url = base.update_query_dict({"options": f"-csearch_path={schema}"})
        yield Database("postgres", url.render_as_string(hide_password=False))
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An empty database (no schema applied) on each backend."""
    if request.param == "sqlite":
        yield Database("sqlite", sqlite_url(tmp_path / "data"))
    else:
        yield from postgres_database()


@pytest.fixture
def pg_database() -> Iterator[Database]:
    yield from postgres_database()


@pytest.fixture
def store(database: Database) -> Iterator[Store]:
    """A migrated store with one investigator (id 100) and one coordinator (id 200)."""
    s = Store(database.url)
    s.upgrade()
    s.add_user(100, "investigator", "Dr Investigator", actor="test")
    s.add_user(200, "coordinator", "Coordinator", actor="test")
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def pg_store(pg_database: Database) -> Iterator[Store]:
    s = Store(pg_database.url)
    s.upgrade()
    s.add_user(100, "investigator", "Dr Investigator", actor="test")
    try:
        yield s
    finally:
        s.close()
