"""Migrations create the schema the models describe, and can be applied repeatedly."""

from __future__ import annotations

import sqlalchemy as sa

from storage import Store
from storage.schema import current_revision, downgrade, head_revision, schema_diff

from .conftest import Database

TABLES = {"users", "screenings", "answers", "events", "processed_updates"}


def test_upgrade_on_an_empty_database_creates_the_schema(database: Database) -> None:
    with Store(database.url) as store:
        assert store.needs_upgrade()
        store.upgrade()
        store.upgrade()  # idempotent: the app runs it on every start

        assert not store.needs_upgrade()
        assert current_revision(store.engine) == head_revision()
        assert set(sa.inspect(store.engine).get_table_names()) >= TABLES


def test_models_and_migrations_agree(database: Database) -> None:
    with Store(database.url) as store:
        store.upgrade()
        assert schema_diff(store.engine) == []


def test_diff_detects_a_drifted_model(database: Database) -> None:
    # Proves the agreement test can fail: drop an index the models declare.
    with Store(database.url) as store:
        store.upgrade()
        with store.engine.begin() as conn:
            conn.exec_driver_sql("DROP INDEX ix_events_screening")
        assert any(d[0] == "add_index" for d in schema_diff(store.engine))


def test_downgrade_to_base_and_back(database: Database) -> None:
    with Store(database.url) as store:
        store.upgrade()
        downgrade(store.engine, "base")
        assert not TABLES & set(sa.inspect(store.engine).get_table_names())
        store.upgrade()
        assert schema_diff(store.engine) == []
