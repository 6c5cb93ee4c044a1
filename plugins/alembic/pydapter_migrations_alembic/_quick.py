"""What the adapter answers without importing Alembic or SQLAlchemy.

Importing Alembic costs a fresh process more than everything else a no-op ``upgrade``
does, so the layout check, the version table (read with the plain driver) and "already at
head?" live here; :mod:`._engine` (which imports Alembic) is loaded only for real work.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from pydapter_migrations.errors import MigrationError
from pydapter_migrations.locking import lock_connection
from pydapter_migrations.revisions import HEAD
from pydapter_migrations.urls import DatabaseURL

from . import _graph as graph_cache
from ._graph import RevisionGraph

__all__ = ["VERSION_TABLE", "cached_graph", "current", "heads", "is_initialised", "up_to_date"]

VERSION_TABLE = "alembic_version"


def is_initialised(directory: Path) -> bool:
    return (
        (directory / "alembic.ini").is_file()
        and (directory / "env.py").is_file()
        and (directory / "versions").is_dir()
    )


def cached_graph(directory: Path) -> RevisionGraph | None:
    """The revision graph from the cache, when the cache proves itself fresh."""
    return graph_cache.read_cache(directory, graph_cache.fingerprint(directory))


def up_to_date(
    graph: RevisionGraph, current_heads: tuple[str, ...], operation: str, target: str
) -> bool:
    """Whether ``operation`` to ``target`` has nothing to do, proven from ``graph`` alone.

    True only for head, when the graph has a single tip (a revision no other names as
    down revision or dependency; every other revision is then its ancestor or
    dependency) and the database is at exactly that tip. Anything else (other targets,
    several heads) goes the full way through Alembic.
    """
    if operation != "upgrade" or target not in (HEAD, "heads"):
        return False
    named = {
        r for info in graph.revisions.values() for r in (*info.down_revision, *info.depends_on)
    }
    tips = set(graph.revisions) - named
    return len(tips) == 1 and set(current_heads) == tips


# -- reading the version table directly ----------------------------------


def current(url: DatabaseURL) -> str | None:
    found = heads(url)
    if len(found) > 1:
        raise MigrationError(
            f"the database is at several branch heads ({', '.join(found)}), so it has no "
            "single current revision; upgrade to a merge revision or downgrade to one head"
        )
    return found[0] if found else None


def heads(url: DatabaseURL) -> tuple[str, ...]:
    """The rows of the version table, read with the plain driver (no Alembic, no
    SQLAlchemy); a database without the table (or without a file) has none."""
    if url.backend == "sqlite":
        return _sqlite_heads(url)
    if url.backend == "postgresql":
        return _postgresql_heads(url)
    raise ValueError(f"unsupported database {url.backend}")


def _sqlite_heads(url: DatabaseURL) -> tuple[str, ...]:
    path = url.sqlite_path
    if path is None or not path.exists():
        return ()
    # Read-only: asking for the revision never creates or changes the database.
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        found = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (VERSION_TABLE,)
        ).fetchone()
        if not found:
            return ()
        rows = conn.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchall()
    finally:
        conn.close()
    return tuple(sorted(str(r[0]) for r in rows))


def _postgresql_heads(url: DatabaseURL) -> tuple[str, ...]:
    # Under the migration lock, its connection answers: one connection fewer per run.
    held = lock_connection(url)
    if held is not None:
        return _read_postgresql_heads(held)
    import psycopg

    kwargs = url.sync().psycopg_kwargs()
    kwargs.setdefault("connect_timeout", 10)
    with psycopg.connect(autocommit=True, **kwargs) as conn:
        return _read_postgresql_heads(conn)


def _read_postgresql_heads(conn: Any) -> tuple[str, ...]:
    found = conn.execute("SELECT to_regclass(%s)", (VERSION_TABLE,)).fetchone()
    if not found or found[0] is None:
        return ()
    rows = conn.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchall()
    return tuple(sorted(str(r[0]) for r in rows))
