"""Checksums of revision files, as the history table keeps them and ``verify`` compares them.

A revision's checksum covers all of its files (a yoyo revision's upgrade and rollback SQL,
an Alembic revision's script), in a stable order. Two are kept:

* ``exact``: SHA-256 of the bytes; any edit changes it.
* ``content``: SHA-256 of the text with comments and whitespace taken out (SQL ``--`` and
  ``/* */`` comments outside quotes; for Python, what ``ast`` sees, docstrings left out),
  so an edit of comments or layout alone can be told apart from a real one.

Files unchanged since they were last read (same size, same modification time) are not read
again: their checksums are remembered in a small cache file per directory, under the
user's cache folder (a migration folder may be read-only, or installed in site-packages).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ast

__all__ = ["Checksum", "checksum_files", "checksums_of"]

_CACHE_FORMAT = 2  # 2: stamps hold ctime and inode too


@dataclass(frozen=True)
class Checksum:
    """The two checksums of one revision's files (see the module docstring)."""

    exact: str
    content: str

    def __str__(self) -> str:
        return self.exact


#: A revision file's path, as a backend lists it (a plain string costs less to make, for
#: directories of thousands of revisions).
RevisionPath = str | os.PathLike[str]


def checksum_files(paths: Sequence[RevisionPath]) -> Checksum:
    """The checksums of one revision made of ``paths`` (read now, no cache)."""
    exact, content = hashlib.sha256(), hashlib.sha256()
    for name in paths:
        path = Path(name)
        data = path.read_bytes()
        exact.update(_framed(path.name.encode(), data))
        content.update(_framed(b"", _normalised(path, data)))
    return Checksum(exact.hexdigest(), content.hexdigest())


def checksums_of(
    revisions: Mapping[str, Sequence[RevisionPath]], *, cache_key: str | None = None
) -> dict[str, Checksum]:
    """``revisions`` (id -> its files) to their checksums, reading only the files whose size,
    mtime, ctime or inode changed since the last call with the same ``cache_key``."""
    cache = _Cache(cache_key) if cache_key else None
    # Entries of other revisions are kept: a run reading some keeps what another read.
    entries = cache.load() if cache else {}
    settled_ns = time.time_ns() - _RACY_NS
    result: dict[str, Checksum] = {}
    changed = False
    for revision, paths in revisions.items():
        try:
            stamps = [_stamp(path) for path in paths]
        except OSError:
            continue  # a file gone between listing and reading: no checksum
        key = "\0".join([os.fspath(path) for path in paths])
        known = entries.get(key)
        if known is not None and known[0] == stamps:
            result[revision] = Checksum(str(known[1]), str(known[2]))
            continue
        try:
            checksum = checksum_files(paths)
        except OSError:
            continue
        result[revision] = checksum
        if any(_racy(stamp, settled_ns) for stamp in stamps):
            changed |= entries.pop(key, None) is not None  # read again next time
        else:
            entries[key] = [stamps, checksum.exact, checksum.content]
            changed = True
    if cache is not None and changed:
        cache.save(entries)
    return result


def _stamp(path: RevisionPath) -> list[int]:
    """What git's index compares too: ``cp -p``, ``touch -r`` or ``tar x`` can give an
    edited file its old size and mtime, but not its old ctime or inode."""
    stat = os.stat(path)
    return [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino]


#: A file changed this recently may change again within the clock's resolution without
#: its stamp changing: its checksum is not cached (git's "racily clean" entries).
_RACY_NS = 2_000_000_000


def _racy(stamp: list[int], settled_ns: int | None = None) -> bool:
    """Whether the file changed after ``settled_ns`` (default: two seconds ago)."""
    if settled_ns is None:
        settled_ns = time.time_ns() - _RACY_NS
    return max(stamp[1], stamp[2]) > settled_ns


def _framed(name: bytes, data: bytes) -> bytes:
    return len(name).to_bytes(8, "big") + name + len(data).to_bytes(8, "big") + data


# -- what a comment-only edit does not change ---------------------------------

# SQL: quoted text (kept as is), comments (dropped), whitespace runs (one space).
_SQL_TOKENS = re.compile(
    r"""
    (?P<quoted>'(?:[^']|'')*'|"(?:[^"]|"")*"|`[^`]*`|(?P<tag>\$[A-Za-z_]*\$)[\s\S]*?(?P=tag))
    | (?P<comment>--[^\n]*|/\*[\s\S]*?\*/)
    | (?P<space>\s+)
    """,
    re.VERBOSE,
)


def _normalised(path: Path, data: bytes) -> bytes:
    text = data.decode("utf-8", errors="replace")
    if path.suffix == ".py":
        import ast  # only when a Python revision's checksum is computed, not on a cache hit

        try:
            return ast.dump(_without_docstrings(ast.parse(text))).encode()
        except (SyntaxError, ValueError):
            return " ".join(text.split()).encode()
    return _normalised_sql(text).encode()


def _normalised_sql(text: str) -> str:
    def token(match: re.Match[str]) -> str:
        if match.group("quoted") is not None:
            return match.group("quoted")
        return " "

    return " ".join(_SQL_TOKENS.sub(token, text).split())


def _without_docstrings(tree: ast.Module) -> ast.Module:
    import ast

    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                body[0] = ast.Pass()
    return tree


# -- the cache ---------------------------------------------------------------


#: Cache files read in this process, with their stat then: a fleet or a long-lived
#: process reads one per run otherwise.
_LOADED: dict[Path, tuple[tuple[int, ...], dict[str, list[object]]]] = {}


class _Cache:
    """One JSON file per directory: files' sizes and modification times and checksums."""

    def __init__(self, key: str) -> None:
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        self.path = _cache_root() / f"checksums-{digest}.json"

    def load(self) -> dict[str, list[object]]:
        try:
            st = self.path.stat()
            stamp = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
            memo = _LOADED.get(self.path)
            if memo is not None and memo[0] == stamp:
                return dict(memo[1])
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("format") != _CACHE_FORMAT:
            return {}
        entries = data.get("entries")
        if not isinstance(entries, dict):
            return {}
        _LOADED[self.path] = (stamp, entries)
        return dict(entries)

    def save(self, entries: Mapping[str, Iterable[object]]) -> None:
        # Written aside and renamed: a reader never sees half a file. A cache that cannot
        # be written only costs a re-read next time.
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            import tempfile

            fd, name = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    json.dump({"format": _CACHE_FORMAT, "entries": entries}, handle)
                os.replace(name, self.path)
            except OSError:
                Path(name).unlink(missing_ok=True)


def _cache_root() -> Path:
    configured = os.environ.get("PYDAPTER_MIGRATIONS_CACHE")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pydapter-migrations"
