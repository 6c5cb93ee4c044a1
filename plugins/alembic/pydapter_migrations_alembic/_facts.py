"""What a project's ``env.py`` decides, learnt once and remembered.

A project's own ``env.py`` may name another version table (and schema), read revisions
from other folders (even set in ``env.py`` itself), and run every revision in one
transaction or each in its own. None of that shows in the ini. The first call on such a
project runs ``env.py`` once the way ``alembic current`` does (reading, never writing) and
records what ``context.configure`` and ``context.script`` said; later calls read the
record, kept in the project's cache folder with the size and times of ``env.py`` and the
ini, and trusted only while those are unchanged. The ``env.py`` that ``init_migrations``
writes needs none of this: its answers are known.

Nothing here imports Alembic.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ._project import Project

__all__ = ["DEFAULT_TABLE", "Facts", "known", "remember"]

DEFAULT_TABLE = "alembic_version"
_FORMAT = 1
_NAME = "pydapter_alembic_env.json"


@dataclass(frozen=True)
class Facts:
    """What ``env.py`` configures: the version table, its schema, where revisions live,
    and whether each revision gets a transaction of its own."""

    version_table: str = DEFAULT_TABLE
    version_table_schema: str | None = None
    version_locations: tuple[str, ...] = ()
    transaction_per_migration: bool = False
    #: The stats of env.py and the ini these facts were learnt from.
    stamp: tuple[tuple[int, int, int], ...] = field(default=(), compare=False)

    def locations(self, project: Project) -> list[Path]:
        """The folders revisions live in, as ``env.py`` sees them."""
        if self.version_locations:
            return [Path(p) for p in self.version_locations]
        return project.version_locations()


def _stamp(project: Project) -> tuple[tuple[int, int, int], ...]:
    stats = []
    for path in (project.script_location / "env.py", project.ini):
        try:
            st = os.stat(path) if path is not None else None
        except OSError:
            st = None
        stats.append((st.st_size, st.st_mtime_ns, st.st_ino) if st else (0, 0, 0))
    return tuple(stats)


def known(project: Project) -> Facts | None:
    """The facts of ``project``, when they are known without running ``env.py``: always
    for a managed one, else from the record while ``env.py`` and the ini are unchanged."""
    if project.managed:
        return Facts(transaction_per_migration=True)
    try:
        data = json.loads((project.cache_dir / _NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    try:
        if data.pop("format") != _FORMAT:
            return None
        recorded = tuple(tuple(st) for st in data.pop("stamp"))
        if recorded != _stamp(project):
            return None
        data["version_locations"] = tuple(data["version_locations"])
        return Facts(**data, stamp=recorded)
    except (KeyError, TypeError, ValueError):
        return None


def remember(project: Project, facts: Facts) -> Facts:
    """Record ``facts`` for ``project`` (best effort: a read-only folder goes without)."""
    facts = Facts(
        facts.version_table,
        facts.version_table_schema,
        facts.version_locations,
        facts.transaction_per_migration,
        stamp=_stamp(project),
    )
    data = {"format": _FORMAT, **asdict(facts)}
    with contextlib.suppress(OSError):
        project.cache_dir.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".env-", dir=project.cache_dir)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(json.dumps(data))
            os.replace(tmp, project.cache_dir / _NAME)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return facts
