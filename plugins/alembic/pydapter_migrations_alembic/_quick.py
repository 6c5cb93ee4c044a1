"""What the adapter answers without importing Alembic or SQLAlchemy.

Importing Alembic costs a fresh process more than everything else a no-op ``upgrade``
does, so the layout check, the version table (read with the plain driver) and "already at
head?" live here; :mod:`._engine` (which imports Alembic) is loaded only for real work.
"""

from __future__ import annotations

from pathlib import Path

from pydapter_migrations.backend import HEAD, MigrationError, Operation, Session

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


def applied_from_cache(directory: Path, session: Session) -> frozenset[str] | None:
    """The revisions the database has applied, answered from the cached graph without
    importing Alembic; ``None`` when the cache cannot prove itself fresh."""
    graph = cached_graph(directory)
    if graph is None:
        return None
    recorded = heads(session)
    return frozenset(graph.applied(recorded)) | {h for h in recorded if h not in graph.revisions}


def up_to_date(
    graph: RevisionGraph, current_heads: tuple[str, ...], operation: str, target: str
) -> bool:
    """Whether ``operation`` to ``target`` has nothing to do, proven from ``graph`` alone.

    True only for head, when the graph has a single tip (a revision no other names as
    down revision or dependency; every other revision is then its ancestor or
    dependency) and the database is at exactly that tip. Anything else (other targets,
    several heads) goes the full way through Alembic.
    """
    if operation != Operation.UPGRADE or target not in (HEAD, "heads"):
        return False
    named = {
        r for info in graph.revisions.values() for r in (*info.down_revision, *info.depends_on)
    }
    tips = set(graph.revisions) - named
    return len(tips) == 1 and set(current_heads) == tips


# -- reading the version table ------------------------------------------------


def current(session: Session) -> str | None:
    found = heads(session)
    if len(found) > 1:
        raise MigrationError(
            f"the database is at several branch heads ({', '.join(found)}), so it has no "
            "single current revision; upgrade to a merge revision or downgrade to one head"
        )
    return found[0] if found else None


def heads(session: Session) -> tuple[str, ...]:
    """The rows of the version table, read on the core's session (no Alembic, no
    SQLAlchemy); a database without the table has none."""
    if session.family == "sqlite":
        exists = session.scalar(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (VERSION_TABLE,)
        )
    elif session.family == "postgresql":
        exists = session.scalar("SELECT to_regclass(?)", (VERSION_TABLE,))
    else:
        exists = session.scalar(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE()"
            " AND table_name = ?",
            (VERSION_TABLE,),
        )
    if not exists:
        return ()
    rows = session.execute(f"SELECT version_num FROM {VERSION_TABLE}")
    return tuple(sorted(str(row[0]) for row in rows))
