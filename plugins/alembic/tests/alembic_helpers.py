"""Helpers shared by the plugin's tests: the plugin's own revision writers, and one more."""

from __future__ import annotations

from pathlib import Path

from pydapter_migrations_alembic.testing import (
    revision_file,
    write_revision,
    write_revision_bodies,
)

__all__ = ["revision_file", "table_revision", "write_revision", "write_revision_bodies"]


def table_revision(directory: Path, table: str) -> str:
    """A new revision of ``directory`` that creates ``table`` (and drops it going down)."""
    from pydapter_migrations_alembic import AlembicAdapter

    rev = AlembicAdapter.create_migration(f"create {table}", False, directory=directory)
    write_revision(directory, rev, [f"CREATE TABLE {table} (id integer)"], [f"DROP TABLE {table}"])
    return rev
