"""Alembic environment and revisions, shipped inside the package (see storage.schema)."""
