"""The migration directory on disk: its marker file, revision ids and SQL file headers.

Nothing here imports yoyo, so creating a revision stays cheap even with hundreds of files.

Layout::

    <directory>/yoyo.ini                        marker + settings for the plain yoyo command
    <directory>/versions/<id>.sql               upgrade SQL, with ``-- message:`` / ``-- depends:``
    <directory>/versions/<id>.rollback.sql      downgrade SQL
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

CONFIG_NAME = "yoyo.ini"
VERSIONS = "versions"
DEFAULT_MIGRATION_TABLE = "_yoyo_migration"
ROLLBACK_SUFFIX = ".rollback.sql"

_MARKER = "# pydapter-migrations yoyo environment"
_CONFIG = f"""{_MARKER}
# The database URL is never stored here: pass it on each call (or to the yoyo
# command with --database). The settings below also serve the plain yoyo command.
[DEFAULT]
sources = %(here)s/{VERSIONS}
migration_table = {DEFAULT_MIGRATION_TABLE}
batch_mode = on
verbosity = 0
"""

_ID_FORMAT = "%Y%m%d_%H%M%S_%f"
_ID_PATTERN = re.compile(r"^\d{8}_\d{6}_\d{6}$")
# The same directive syntax yoyo reads (yoyo.migrations.parse_metadata_from_sql_comments).
_HEADER_LINE = re.compile(r"^\s*--\s*(message|depends)\s*:\s*(.*?)\s*$")
_COMMENT_OR_BLANK = re.compile(r"^\s*(--.*)?$")
_PY_DEPENDS = re.compile(r"^__depends__\s*=\s*(.+)$", re.MULTILINE)
_MAX_ATTEMPTS = 1000


# -- the environment ------------------------------------------------------


def write_config(directory: Path) -> None:
    """Lay out a fresh environment in the existing, empty ``directory``."""
    (directory / VERSIONS).mkdir()
    (directory / CONFIG_NAME).write_text(_CONFIG, encoding="utf-8")


def is_environment(directory: Path) -> bool:
    """Whether ``directory`` was laid out by :func:`write_config`."""
    config = directory / CONFIG_NAME
    if not config.is_file() or not (directory / VERSIONS).is_dir():
        return False
    try:
        return config.read_text(encoding="utf-8").startswith(_MARKER)
    except (OSError, UnicodeDecodeError):
        return False


def migration_table(directory: Path) -> str:
    """The table yoyo records applied revisions in (``migration_table`` in yoyo.ini)."""
    import configparser  # here, not at the top: `pydapter-migrate backends` imports this module

    parser = configparser.RawConfigParser()
    parser.read(directory / CONFIG_NAME, encoding="utf-8")
    return parser.get("DEFAULT", "migration_table", fallback=DEFAULT_MIGRATION_TABLE).strip()


def versions_dir(directory: Path) -> Path:
    return directory / VERSIONS


# -- revision files --------------------------------------------------------


@dataclass(frozen=True)
class Header:
    """What the leading comment lines of a revision file say."""

    message: str | None
    depends: tuple[str, ...]


def revision_paths(versions: Path) -> dict[str, Path]:
    """Revision id -> upgrade file, for the ``.sql`` and ``.py`` files yoyo would read."""
    return {revision: versions / name for revision, name in _revision_files(versions)}


def revision_ids(versions: Path) -> set[str]:
    """The ids of :func:`revision_paths`, without building a path per file."""
    return {revision for revision, _ in _revision_files(versions)}


def _revision_files(versions: Path) -> Iterator[tuple[str, str]]:
    # scandir's entries know their type without a stat per file (1000s of revisions).
    with os.scandir(versions) as entries:
        for entry in entries:
            name = entry.name
            if name.endswith(ROLLBACK_SUFFIX) or name.startswith((".", "_tmp_yoyonew")):
                continue
            stem, suffix = os.path.splitext(name)
            if suffix in {".sql", ".py"} and entry.is_file():
                yield stem, name


def read_header(path: Path) -> Header:
    """The ``-- message:`` and ``-- depends:`` lines at the top of ``path``."""
    with path.open(encoding="utf-8", errors="replace") as handle:
        if path.suffix == ".py":
            match = _PY_DEPENDS.search(handle.read())
            depends = re.findall(r"""["']([^"']+)["']""", match.group(1)) if match else []
            return Header(None, tuple(depends))
        # Only the leading comment block is read: revision files can be large.
        return parse_header(itertools.takewhile(_COMMENT_OR_BLANK.match, handle))


def parse_header(lines: Iterable[str] | str) -> Header:
    """The header of a ``.sql`` revision whose text (or lines) is ``lines``."""
    if isinstance(lines, str):
        lines = re.split(r"\r\n|\r|\n", lines)
    message: str | None = None
    depends: list[str] = []
    for line in lines:
        if not _COMMENT_OR_BLANK.match(line):
            break
        directive = _HEADER_LINE.match(line)
        if directive is None:
            continue
        name, value = directive.groups()
        if name == "message" and message is None:
            message = unescape_message(value)
        elif name == "depends":
            depends.extend(value.split())
    return Header(message, tuple(depends))


def heads(versions: Path) -> list[str]:
    """Revisions no other revision depends on: what a new revision should follow."""
    paths = revision_paths(versions)
    depended_on: set[str] = set()
    for path in paths.values():
        depended_on.update(read_header(path).depends)
    return sorted(set(paths) - depended_on)


def escape_message(message: str) -> str:
    """``message`` on one line: backslash, CR and LF escaped."""
    return message.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")


def unescape_message(text: str) -> str:
    """The inverse of :func:`escape_message`."""
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "r": "\r"}.get(m.group(1), m.group(1)), text)


def render_upgrade(message: str, depends: Iterable[str]) -> str:
    lines = [f"-- message: {escape_message(message)}"]
    depends = list(depends)
    if depends:
        lines.append(f"-- depends: {' '.join(depends)}")
    lines += [
        "--",
        "-- Upgrade SQL below; separate statements with ';'. The statements and the",
        "-- record of this revision commit in one transaction.",
        "",
    ]
    return "\n".join(lines)


def render_rollback() -> str:
    return (
        "-- Downgrade SQL below, undoing the upgrade file of the same name; separate\n"
        "-- statements with ';'. They run in the order written, in one transaction.\n"
    )


def new_revision_id(existing: Iterable[str], now: datetime | None = None) -> str:
    """A fresh id (UTC ``YYYYMMDD_HHMMSS_ffffff``), after every id of that form in ``existing``."""
    stamp = (now or datetime.now(UTC)).replace(tzinfo=None)
    newest = max((i for i in existing if _ID_PATTERN.match(i)), default=None)
    if newest is not None:
        # A clock that went back, or ids made in the same microsecond: stay after the newest.
        stamp = max(stamp, datetime.strptime(newest, _ID_FORMAT) + timedelta(microseconds=1))
    return stamp.strftime(_ID_FORMAT)


def _bump(revision: str) -> str:
    return (datetime.strptime(revision, _ID_FORMAT) + timedelta(microseconds=1)).strftime(
        _ID_FORMAT
    )


def create_revision(directory: Path, message: str) -> str:
    """Write ``<id>.sql`` and ``<id>.rollback.sql`` for a new revision after the current
    heads; return the id.

    Each file appears complete or not at all (written aside, then hard-linked into place,
    which fails if the name is taken), so a concurrent upgrade never reads a half-written
    revision and two processes never get the same id.
    """
    versions = versions_dir(directory)
    depends = heads(versions)
    upgrade_text = render_upgrade(message, depends)
    # The header must read back as written; a message yoyo would misread is refused.
    if parse_header(upgrade_text) != Header(message, tuple(depends)):
        raise ValueError(f"the message {message!r} cannot be stored in a SQL comment")
    with contextlib.ExitStack() as cleanup:
        upgrade_tmp = _write_aside(versions, upgrade_text)
        cleanup.callback(upgrade_tmp.unlink, missing_ok=True)
        rollback_tmp = _write_aside(versions, render_rollback())
        cleanup.callback(rollback_tmp.unlink, missing_ok=True)
        revision = new_revision_id(revision_paths(versions))
        for _ in range(_MAX_ATTEMPTS):
            rollback = versions / f"{revision}{ROLLBACK_SUFFIX}"
            upgrade = versions / f"{revision}.sql"
            try:
                os.link(rollback_tmp, rollback)
            except FileExistsError:
                revision = _bump(revision)
                continue
            try:
                if (versions / f"{revision}.py").exists():
                    raise FileExistsError(revision)
                os.link(upgrade_tmp, upgrade)
            except FileExistsError:
                rollback.unlink(missing_ok=True)
                revision = _bump(revision)
                continue
            return revision
    raise FileExistsError(f"could not find a free revision id in {versions}")


def _write_aside(versions: Path, text: str) -> Path:
    # A dot-name without a .sql/.py suffix: neither yoyo nor revision_paths reads it.
    fd, name = tempfile.mkstemp(prefix=".pydapter-", suffix=".tmp", dir=versions)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(name, 0o644)
    return Path(name)
