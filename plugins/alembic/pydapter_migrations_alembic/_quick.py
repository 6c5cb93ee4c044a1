"""What the adapter answers without importing Alembic or SQLAlchemy.

Importing Alembic costs a fresh process more than everything else a no-op ``upgrade``
does, so the version table (read on the core's session, with the table and schema
``env.py`` uses) and "already at head?" (from the cached graph) live here; :mod:`._engine`
(which imports Alembic) is loaded only for real work.
"""

from __future__ import annotations

from pydapter_migrations.backend import HEAD, MigrationError, Operation, Session, once_per_run

from . import _graph as graph_cache
from ._facts import Facts, known
from ._graph import RevisionGraph
from ._project import Project

__all__ = ["applied_from_cache", "cached_graph", "current", "heads", "up_to_date"]


def cached_graph(project: Project, facts: Facts) -> RevisionGraph | None:
    """The revision graph from the cache, when the cache proves itself fresh (proven once
    per run: the plan, the applied set and the files each ask)."""

    def read() -> RevisionGraph | None:
        recursive = (project.ini_option("recursive_version_locations") or "").lower() == "true"
        stats = graph_cache.fingerprint(project, facts.locations(project), recursive)
        return graph_cache.read_cache(project, stats)

    return once_per_run(("alembic graph", project, tuple(facts.locations(project))), read)


def applied_from_cache(project: Project, session: Session) -> frozenset[str] | None:
    """The revisions the database has applied, answered from the cached graph without
    importing Alembic; ``None`` when the cache or the env.py facts are not known."""
    facts = known(project)
    graph = cached_graph(project, facts) if facts is not None else None
    if facts is None or graph is None:
        return None
    recorded = heads(session, facts)
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


def current(session: Session, facts: Facts) -> str | None:
    found = heads(session, facts)
    if len(found) > 1:
        raise MigrationError(
            f"the database is at several branch heads ({', '.join(found)}), so it has no "
            "single current revision; upgrade to a merge revision or downgrade to one head"
        )
    return found[0] if found else None


def heads(session: Session, facts: Facts) -> tuple[str, ...]:
    """The rows of the version table ``env.py`` uses, read on the core's session (no
    Alembic, no SQLAlchemy); a database without the table has none."""
    table, schema = facts.version_table, facts.version_table_schema
    if schema is None and session.url is not None:
        # A tenant's URL (its search_path names a schema) keeps the table in that schema:
        # read it there, never from a schema later in the path.
        schema = session.url.schema
    if session.family == "sqlite":
        exists = session.scalar(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        )
        name = _quoted(table)
    elif session.family == "postgresql":
        name = f"{_quoted(schema)}.{_quoted(table)}" if schema else _quoted(table)
        exists = session.scalar("SELECT to_regclass(?)", (name,))
    else:
        exists = session.scalar(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = "
            + ("?" if schema else "DATABASE()")
            + " AND table_name = ?",
            (schema, table) if schema else (table,),
        )
        name = f"`{schema}`.`{table}`" if schema else f"`{table}`"
    if not exists:
        return ()
    rows = session.execute(f"SELECT version_num FROM {name}")
    return tuple(sorted(str(row[0]) for row in rows))


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
