"""Checks for your own project's migrations, as plain functions and pytest fixtures.

Each runs your revisions through the adapter you use, on a database you give it (a
throwaway one: each migrates and reverts freely):

* :func:`assert_round_trip`: every revision goes up, down and up again, and the schema is
  the same each time it is at that revision (a downgrade that forgets an index is caught);
* :func:`assert_single_head`: the revisions end in one head (two branches merged);
* :func:`assert_models_match`: at head, the database is what the models describe (for
  backends that know models: Alembic).

The fixtures ``migration_checks`` (bound to a fresh SQLite database per test) and
``migration_database`` (that database's URL) load with the package's pytest plugin.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..connections import connect
from ..drift import Schema, compare, snapshot
from ..ledger import default_table
from ..urls import DatabaseURL

__all__ = [
    "MigrationChecks",
    "assert_models_match",
    "assert_round_trip",
    "assert_single_head",
]


def assert_round_trip(adapter: type[Any], directory: str | Path, url: str) -> None:
    """Every revision of ``directory``, oldest first: upgrade to it, downgrade one step,
    upgrade again; the schema must be the same before and after each step back. Leaves
    the database at head."""
    kw = {"directory": str(directory), "connection_string": url}
    revisions = [entry["revision"] for entry in _call(adapter, "get_migration_history", **kw)]
    ignore = _ignored(adapter, directory)
    before = _schema(url, ignore)
    for revision in revisions:
        _call(adapter, "upgrade", revision, **kw)
        after = _schema(url, ignore)
        _call(adapter, "downgrade", "-1", **kw)
        _same(before, _schema(url, ignore), f"downgrading {revision} did not undo it")
        _call(adapter, "upgrade", revision, **kw)
        _same(after, _schema(url, ignore), f"upgrading {revision} again built another schema")
        before = after


def assert_single_head(adapter: type[Any], directory: str | Path) -> None:
    """The revisions end in one head."""
    history = _call(adapter, "get_migration_history", directory=str(directory))
    parents: set[str] = set()
    for entry in history:
        down = entry.get("down_revision")
        parents.update([down] if isinstance(down, str) else down or ())
    heads = [entry["revision"] for entry in history if entry["revision"] not in parents]
    assert len(heads) <= 1, f"the revisions end in {len(heads)} heads: {', '.join(heads)}"


def assert_models_match(adapter: type[Any], directory: str | Path, url: str) -> None:
    """Upgraded to head, the database is what the models describe (and what the revisions
    build): ``check`` finds nothing."""
    kw = {"directory": str(directory), "connection_string": url}
    _call(adapter, "upgrade", "head", **kw)
    differences = _call(adapter, "check", **kw)
    assert not differences, "; ".join(d["message"] for d in differences)


@dataclass
class MigrationChecks:
    """The three checks bound to one database (the ``migration_checks`` fixture)."""

    url: str

    def round_trip(self, adapter: type[Any], directory: str | Path) -> None:
        assert_round_trip(adapter, directory, self.url)

    def single_head(self, adapter: type[Any], directory: str | Path) -> None:
        assert_single_head(adapter, directory)

    def models_match(self, adapter: type[Any], directory: str | Path) -> None:
        assert_models_match(adapter, directory, self.url)


def _call(adapter: type[Any], method: str, *args: Any, **kwargs: Any) -> Any:
    result = getattr(adapter, method)(*args, **kwargs)
    return asyncio.run(_wait(result)) if inspect.isawaitable(result) else result


async def _wait(result: Any) -> Any:
    return await result


def _ignored(adapter: type[Any], directory: str | Path) -> Sequence[str]:
    """Bookkeeping tables: their rows change with every run, their shape never."""
    sync = getattr(adapter, "sync_adapter", adapter)
    own = getattr(sync, "_bookkeeping_tables", lambda _: ())(Path(directory))
    return [default_table(), *own]


def _schema(url: str, ignore: Sequence[str]) -> Schema:
    with connect(DatabaseURL.parse(url).sync(), purpose="test") as session:
        return snapshot(session, ignore=ignore)


def _same(expected: Schema, actual: Schema, what: str) -> None:
    differences = compare(actual, expected)
    assert not differences, f"{what}: " + "; ".join(d["message"] for d in differences)
