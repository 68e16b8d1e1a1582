"""Programmatic Alembic: the migrations ship inside the package, no alembic.ini at runtime."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlmodel import SQLModel

# Every module declaring tables on SQLModel.metadata: autogenerate and the drift check
# compare the migrations against these.  Imported lazily, as some of them import the
# repository, which imports this module.
TABLE_MODULES: tuple[str, ...] = ("storage.models", "storage.coordination")

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

# Arbitrary constant: workers starting together on one PostgreSQL database take turns
# to migrate instead of racing to create the same tables.
_PG_MIGRATION_LOCK = 0x5C12EE7B07


def load_table_modules() -> None:
    for name in TABLE_MODULES:
        importlib.import_module(name)


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        # ConfigParser interpolation would eat a '%' in a password.
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})")
        config = alembic_config()
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str) -> None:
    with engine.begin() as conn:
        config = alembic_config()
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


def schema_diff(engine: Engine) -> list[Any]:
    """Differences between the models and the database (empty when migrations match)."""
    load_table_modules()
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff: list[Any] = compare_metadata(context, SQLModel.metadata)
        return diff
