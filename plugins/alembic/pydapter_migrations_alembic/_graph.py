"""The revision graph of a project, cached so that most calls import no script.

Alembic learns the graph by importing every revision file. The graph (ids, down
revisions, dependencies, branch labels, messages, files) is kept in the project's
``__pycache__/pydapter_alembic_graph.json`` with the name, size, mtime, ctime and inode of
the ini, of ``env.py`` and of every entry of every folder revisions live in (as the ini
and ``env.py`` name them). The cache is used only when it proves itself fresh: the same
entries with the same stats. A file whose timestamps fall within the clock's granularity
of the scan could change again without its stats showing it ("racy", as git calls it);
for those the cache also holds a digest of the content that was parsed, and they are
trusted only while their content still matches it. Otherwise the scripts are loaded by
Alembic and the cache rewritten.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydapter_migrations.backend import (
    MigrationDowngradeError,
    MigrationUpgradeError,
    relative_steps,
)

from ._project import Project

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory
    from alembic.script.revision import RevisionMap

__all__ = ["RevisionGraph", "RevisionInfo", "fingerprint", "read_cache", "write_cache"]

_FORMAT = 3
_CACHE_NAME = "pydapter_alembic_graph.json"
# Timestamps closer than this to the scan cannot prove a file unchanged since.
_RACY_NS = 2_000_000_000

Stat = tuple[int, int, int, int]
Stats = dict[str, Stat]


@dataclass(frozen=True)
class RevisionInfo:
    """One revision file, as far as ordering and history need it."""

    revision: str
    down_revision: tuple[str, ...]
    depends_on: tuple[str, ...]
    branch_labels: tuple[str, ...]
    description: str
    #: The revision's file.
    path: str = ""


def _tuple(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Iterable):
        return tuple(str(v) for v in value)
    return (str(value),)


@dataclass
class RevisionGraph:
    """All revisions of a directory; builds Alembic's :class:`RevisionMap` on demand."""

    revisions: dict[str, RevisionInfo]
    _map: RevisionMap | None = field(default=None, repr=False)

    @classmethod
    def from_script(cls, script: ScriptDirectory) -> RevisionGraph:
        infos = {}
        for rev in script.walk_revisions():
            module = rev.module
            infos[rev.revision] = RevisionInfo(
                revision=rev.revision,
                down_revision=_tuple(getattr(module, "down_revision", None)),
                depends_on=_tuple(getattr(module, "depends_on", None)),
                branch_labels=_tuple(getattr(module, "branch_labels", None)),
                description=rev.doc or "",
                path=str(rev.path),
            )
        graph = cls(infos)
        graph._map = script.revision_map
        return graph

    @property
    def revision_map(self) -> RevisionMap:
        """Alembic's graph algorithms over plain revisions (no module imported)."""
        if self._map is None:
            from alembic.script.revision import Revision, RevisionMap

            infos = list(self.revisions.values())

            def generate() -> list[Revision]:
                return [
                    Revision(
                        i.revision,
                        i.down_revision or None,
                        dependencies=i.depends_on or None,
                        branch_labels=i.branch_labels or None,
                    )
                    for i in infos
                ]

            self._map = RevisionMap(generate)
        return self._map

    def plan(self, operation: str, target: str, heads: Sequence[str]) -> list[str]:
        """The revisions an upgrade or downgrade to ``target`` runs, in run order
        (the same walk as Alembic's ``upgrade``/``downgrade`` commands)."""
        from alembic.script.revision import ResolutionError, RevisionError

        revmap = self.revision_map
        current = tuple(heads)
        try:
            if operation == "upgrade":
                revs = revmap.iterate_revisions(target, current, implicit_base=True)
                return [r.revision for r in reversed(list(revs))]
            revs = revmap.iterate_revisions(current, target, select_for_downgrade=True)
            return [r.revision for r in revs]
        except RevisionError as error:
            steps = relative_steps(target)
            if steps is None or isinstance(error, ResolutionError):
                raise
            # As the core's linear plan says it (the yoyo backend's words), not Alembic's
            # "Relative revision -1 didn't produce 1 migrations".
            kind = MigrationUpgradeError if operation == "upgrade" else MigrationDowngradeError
            applied = len(self.applied(heads))
            raise kind(
                f"relative target {target} goes past the {'first' if steps < 0 else 'last'} "
                f"revision ({applied} of {len(self.revisions)} applied)"
            ) from error

    def oldest_first(self) -> list[RevisionInfo]:
        revs = self.revision_map.iterate_revisions(
            "heads", "base", inclusive=True, assert_relative_length=False
        )
        return [self.revisions[r.revision] for r in reversed(list(revs))]

    def applied(self, heads: Iterable[str]) -> set[str]:
        """The revisions a database at ``heads`` has applied (heads and their ancestry)."""
        seen: set[str] = set()
        todo = [h for h in heads if h in self.revisions]
        while todo:
            rev = todo.pop()
            if rev in seen:
                continue
            seen.add(rev)
            info = self.revisions[rev]
            todo += [r for r in (*info.down_revision, *info.depends_on) if r in self.revisions]
        return seen


def fingerprint(project: Project, locations: Iterable[Path], recursive: bool = False) -> Stats:
    """Stats of the ini, ``env.py`` and every entry of the revision folders (bar
    ``__pycache__``), keyed by path."""
    stats: Stats = {}
    for path in (project.ini, project.script_location / "env.py"):
        if path is not None:
            with contextlib.suppress(FileNotFoundError):
                st = path.stat()
                stats[str(path)] = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
    todo = [Path(location) for location in locations]
    while todo:
        folder = todo.pop()
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            stats[str(folder)] = (-1, 0, 0, 0)  # its appearing later changes the answer
            continue
        for entry in entries:
            if entry.name == "__pycache__":
                continue
            st = entry.stat(follow_symlinks=True)
            stats[entry.path] = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
            if recursive and entry.is_dir():
                todo.append(Path(entry.path))
    return stats


def _cache_path(project: Project) -> Path:
    return project.cache_dir / _CACHE_NAME


@functools.cache  # the installed Alembic does not change under a running process
def _alembic_version() -> str:
    from importlib.metadata import version

    return version("alembic")


def racy(stats: Stats, scanned_ns: int) -> list[str]:
    """The entries whose stats cannot prove them unchanged since ``scanned_ns``."""
    return [name for name, st in stats.items() if max(st[1], st[2]) > scanned_ns - _RACY_NS]


def digests(names: Iterable[str]) -> dict[str, str]:
    """Content digests of the files ``names``."""
    found = {}
    for name in names:
        try:
            found[name] = hashlib.sha256(Path(name).read_bytes()).hexdigest()
        except OSError:
            found[name] = ""
    return found


@dataclass(frozen=True)
class _Parsed:
    """A cache file as read: its proofs, and the graph it holds."""

    valid: bool  # this format, written by this Alembic
    stats: Stats
    scanned_ns: int
    digests: dict[str, str]
    graph: RevisionGraph


#: Cache files parsed in this process, by path, with the stat of the file when parsed: a
#: run asks for the graph several times (plan, applied, files), a fleet for every target.
_PARSED: dict[str, tuple[tuple[int, ...], _Parsed]] = {}


def _parsed(path: Path) -> _Parsed | None:
    try:
        st = path.stat()
        key = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
        memo = _PARSED.get(str(path))
        if memo is not None and memo[0] == key:
            return memo[1]
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    try:
        parsed = _Parsed(
            valid=data["format"] == _FORMAT and data["alembic"] == _alembic_version(),
            stats={name: tuple(stat) for name, stat in data["stats"].items()},
            scanned_ns=int(data["scanned_ns"]),
            digests=dict(data["digests"]),
            graph=RevisionGraph(
                {
                    item["revision"]: RevisionInfo(
                        revision=item["revision"],
                        down_revision=tuple(item["down_revision"]),
                        depends_on=tuple(item["depends_on"]),
                        branch_labels=tuple(item["branch_labels"]),
                        description=item["description"],
                        path=item.get("path", ""),
                    )
                    for item in data["revisions"]
                }
            ),
        )
    except (KeyError, TypeError, ValueError):
        return None
    _PARSED[str(path)] = (key, parsed)
    return parsed


def read_cache(project: Project, stats: Stats) -> RevisionGraph | None:
    """The cached graph if it provably matches ``stats``; ``None`` otherwise."""
    parsed = _parsed(_cache_path(project))
    if parsed is None or not parsed.valid or parsed.stats != stats:
        return None
    unsure = racy(stats, parsed.scanned_ns)
    known = parsed.digests
    if any(name not in known for name in unsure):
        return None
    if digests(unsure) != {name: known[name] for name in unsure}:
        return None
    return parsed.graph


def write_cache(
    project: Project,
    graph: RevisionGraph,
    stats: Stats,
    scanned_ns: int,
    content: dict[str, str],
) -> None:
    """Store ``graph`` for ``stats`` taken at ``scanned_ns``, with the ``content`` digests
    of the racy entries; best effort (read-only folders just go without)."""
    data: dict[str, Any] = {
        "format": _FORMAT,
        "alembic": _alembic_version(),
        "scanned_ns": scanned_ns,
        "stats": stats,
        "digests": content,
        "revisions": [
            {
                "revision": i.revision,
                "down_revision": i.down_revision,
                "depends_on": i.depends_on,
                "branch_labels": i.branch_labels,
                "description": i.description,
                "path": i.path,
            }
            for i in graph.revisions.values()
        ],
    }
    path = _cache_path(project)
    try:
        path.parent.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".graph-", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                # dumps, not dump: json.dump always takes the pure-Python encoder.
                f.write(json.dumps(data))
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError:
        return


def now_ns() -> int:
    return time.time_ns()
