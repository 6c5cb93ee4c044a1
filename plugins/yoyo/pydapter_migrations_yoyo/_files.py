"""The migration folder on disk: where its revisions live, their ids and SQL headers.

Nothing here imports yoyo unless a folder has a yoyo.ini of its own, so creating a
revision stays cheap even with hundreds of files.

Two layouts are used in place:

* the one ``init_migrations`` lays out::

    <directory>/yoyo.ini                        marker + settings for the plain yoyo command
    <directory>/versions/<id>.sql               upgrade SQL, with ``-- message:`` / ``-- depends:``
    <directory>/versions/<id>.rollback.sql      downgrade SQL

* a plain yoyo folder, as ``yoyo new`` leaves it: ``<id>.sql``, ``<id>.rollback.sql`` and
  ``<id>.py`` files side by side, ``post-apply*`` hooks among them, with or without a
  ``yoyo.ini`` (its ``sources``, ``migration_table`` and ``prefix`` are honoured).
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import re
import secrets
import string
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


@dataclass(frozen=True)
class Folder:
    """A migration directory as this backend uses it."""

    root: Path  # what the caller passed
    sources: tuple[Path, ...]  # the folders holding revision files, in yoyo's order
    migration_table: str
    native: bool = False  # a plain yoyo folder: new revisions follow yoyo's own naming
    prefix: str = ""  # yoyo.ini's prefix for new file names

    @property
    def first(self) -> Path:
        """Where a new revision goes (``yoyo new`` writes to the first source too)."""
        return self.sources[0]


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


def locate(directory: Path) -> Folder | None:
    """The migration folder ``directory`` is (or whose ``yoyo.ini`` it is), if any."""
    if directory.is_file():
        return _configured(directory) if directory.suffix == ".ini" else None
    if is_environment(directory):
        return Folder(directory, (directory / VERSIONS,), _table(directory / CONFIG_NAME))
    if (directory / CONFIG_NAME).is_file():
        return _configured(directory / CONFIG_NAME)
    if has_revision_files(directory):
        return Folder(directory, (directory,), DEFAULT_MIGRATION_TABLE, native=True)
    return None


def _table(config: Path) -> str:
    import configparser  # here, not at the top: `pydapter-migrate backends` imports this module

    parser = configparser.RawConfigParser()
    parser.read(config, encoding="utf-8")
    return parser.get("DEFAULT", "migration_table", fallback=DEFAULT_MIGRATION_TABLE).strip()


def _configured(config: Path) -> Folder | None:
    """A plain yoyo project's folder, as its ``yoyo.ini`` describes it."""
    from yoyo.config import read_config  # %inherit, %include, %(here)s: yoyo's own reading

    try:
        parser = read_config(str(config))
    except Exception:
        return None
    if not parser.has_option("DEFAULT", "migration_table"):
        table = DEFAULT_MIGRATION_TABLE
    else:
        table = parser.get("DEFAULT", "migration_table").strip() or DEFAULT_MIGRATION_TABLE
    prefix = parser.get("DEFAULT", "prefix", fallback="").strip()
    listed = parser.get("DEFAULT", "sources", fallback="").split()
    # The yoyo command reads yoyo.ini from the current directory, so its relative sources
    # start there: the folder holding the ini.
    sources = [path for source in listed for path in _expand(source, config.parent)]
    if not listed and has_revision_files(config.parent):
        sources = [config.parent]
    if not sources:
        return None
    return Folder(config.parent, tuple(sources), table, native=True, prefix=prefix)


def _expand(source: str, base: Path) -> list[Path]:
    package = re.match(r"^package:([^\s/:]+):(.*)$", source)
    if package:
        from importlib.resources import files

        try:
            found = Path(str(files(package.group(1)).joinpath(package.group(2))))
        except (ModuleNotFoundError, TypeError):
            return []
        return [found] if found.is_dir() else []
    pattern = source if os.path.isabs(source) else str(base / source)
    return [Path(p) for p in sorted(glob.glob(pattern)) if os.path.isdir(p)]


def has_revision_files(directory: Path) -> bool:
    """Whether ``directory`` holds a file yoyo would read as a revision."""
    try:
        return next(_revision_files(directory), None) is not None
    except OSError:
        return False


# -- revision files --------------------------------------------------------


@dataclass(frozen=True)
class Header:
    """What the leading comment lines of a revision file say."""

    message: str | None
    depends: tuple[str, ...]


def revision_paths(folder: Folder) -> dict[str, Path]:
    """Revision id -> upgrade file, for the ``.sql`` and ``.py`` files yoyo would read."""
    return {
        revision: source / name
        for source in folder.sources
        for revision, name in _revision_files(source)
    }


def revision_ids(folder: Folder) -> set[str]:
    """The ids of :func:`revision_paths`, without building a path per file."""
    return {revision for source in folder.sources for revision, _ in _revision_files(source)}


def revision_files(folder: Folder) -> dict[str, tuple[str, ...]]:
    """Revision id -> its files (upgrade, then rollback where there is one), from one
    listing per source: what the history table's checksums cover. Plain strings: a
    ``Path`` per file cost a no-op of 1,000 revisions several milliseconds."""
    found: dict[str, tuple[str, ...]] = {}
    for source in folder.sources:
        with os.scandir(source) as entries:
            names = {entry.name for entry in entries}
        prefix = os.path.join(source, "")
        for revision, name in _revision_files(source):
            rollback = f"{revision}{ROLLBACK_SUFFIX}"
            if name.endswith(".sql") and rollback in names:
                found[revision] = (prefix + name, prefix + rollback)
            else:
                found[revision] = (prefix + name,)
    return found


def has_post_apply_hooks(folder: Folder) -> bool:
    """Whether a ``post-apply`` hook sits among the revisions (yoyo runs it after each
    upgrade that applied something)."""
    return any(
        next(_revision_files(source, hooks=True), None) is not None for source in folder.sources
    )


def _revision_files(versions: Path, *, hooks: bool = False) -> Iterator[tuple[str, str]]:
    """(id, file name) of the revisions in ``versions`` (with ``hooks``: of the
    ``post-apply`` hooks instead), as yoyo's ``read_migrations`` tells them apart."""
    # scandir's entries know their type without a stat per file (1000s of revisions).
    with os.scandir(versions) as entries:
        for entry in entries:
            name = entry.name
            if name.endswith(ROLLBACK_SUFFIX) or name.startswith("_tmp_yoyonew"):
                continue
            stem, suffix = os.path.splitext(name)
            if (
                suffix in {".sql", ".py"}
                and stem.startswith("post-apply") == hooks
                and entry.is_file()
            ):
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


def heads(folder: Folder) -> list[str]:
    """Revisions no other revision depends on: what a new revision should follow."""
    paths = revision_paths(folder)
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


def _timestamp_ids(existing: Iterable[str]) -> Iterator[str]:
    revision = new_revision_id(existing)
    while True:
        yield revision
        revision = (datetime.strptime(revision, _ID_FORMAT) + timedelta(microseconds=1)).strftime(
            _ID_FORMAT
        )


# The directives yoyo reads from a SQL file's leading comment.
_YOYO_DIRECTIVE = re.compile(r"^\s*(--)?\s*(transactional|depends)\s*:")
_NUMBERED = re.compile(r"^(\d+)([-_.])")


def _native_ids(folder: Folder, existing: Iterable[str], slug: str) -> Iterator[str]:
    """Ids in the folder's own scheme: the next number where every id starts with one
    (``0001-initial``), else what ``yoyo new`` names (``20240131_01_AbCdE-message``)."""
    slug = slug.replace("_", "-").strip("-")
    existing = list(existing)
    numbered = [_NUMBERED.match(revision) for revision in existing]
    yoyo_named = re.compile(rf"^{re.escape(folder.prefix)}\d{{8}}_\d+_")
    if numbered and all(numbered) and not any(yoyo_named.match(r) for r in existing):
        width = max(len(m.group(1)) for m in numbered if m)
        separator = numbered[-1].group(2) if numbered[-1] else "-"
        number = max(int(m.group(1)) for m in numbered if m) + 1
        while True:
            yield f"{number:0{width}d}{separator}{slug}" if slug else f"{number:0{width}d}"
            number += 1
    today = f"{folder.prefix}{datetime.now(UTC):%Y%m%d}_"
    taken = [r[len(today) :].split("_")[0] for r in existing if r.startswith(today)]
    number = max((int(n) for n in taken if n.isdigit()), default=0) + 1
    alphabet = string.ascii_letters + string.digits
    while True:
        random = "".join(secrets.choice(alphabet) for _ in range(5))
        yield f"{today}{number:02d}_{random}" + (f"-{slug}" if slug else "")
        number += 1


def render_native_sql(message: str, depends: Iterable[str]) -> str:
    """A revision as ``yoyo new --sql`` writes it: the message as its leading comment."""
    lines = [f"-- {line}".rstrip() for line in message.splitlines() or [""]]
    return "\n".join([*lines, f"-- depends: {'  '.join(depends)}".rstrip(), "", ""])


def render_python(message: str, depends: Iterable[str]) -> str:
    """A revision as ``yoyo new`` writes it in Python, with no step yet."""
    doc = message.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    listed = ", ".join(repr(d) for d in depends)
    return (
        f'"""\n{doc}\n"""\n\nfrom yoyo import step\n\n__depends__ = {{{listed}}}\n\n'
        'steps = [\n    # step("CREATE TABLE ...", "DROP TABLE ..."),\n]\n'
    )


def create_revision(folder: Folder, message: str, slug: str = "") -> Path:
    """Write a new revision after the current heads, in the folder's layout; return the
    path of its upgrade file (its stem is the id).

    Each file appears complete or not at all (written aside, then hard-linked into place,
    which fails if the name is taken), so a concurrent upgrade never reads a half-written
    revision and two processes never get the same id.
    """
    depends = heads(folder)
    existing = sorted(revision_ids(folder))
    files: dict[str, str]
    if not folder.native:
        upgrade_text = render_upgrade(message, depends)
        # The header must read back as written; a message yoyo would misread is refused.
        if parse_header(upgrade_text) != Header(message, tuple(depends)):
            raise ValueError(f"the message {message!r} cannot be stored in a SQL comment")
        files = {ROLLBACK_SUFFIX: render_rollback(), ".sql": upgrade_text}
        ids = _timestamp_ids(existing)
    else:
        paths = revision_paths(folder).values()
        if paths and all(path.suffix == ".py" for path in paths):
            files = {".py": render_python(message, depends)}
        else:
            if any(_YOYO_DIRECTIVE.match(line) for line in message.splitlines()):
                raise ValueError(f"the message {message!r} would read as a yoyo directive")
            upgrade_text = render_native_sql(message, depends)
            files = {ROLLBACK_SUFFIX: render_rollback(), ".sql": upgrade_text}
        ids = _native_ids(folder, existing, slug)
    return _publish(folder.first, files, ids)


def _publish(versions: Path, files: dict[str, str], ids: Iterator[str]) -> Path:
    """Link ``files`` (suffix -> text, the upgrade file last) into ``versions`` under the
    first id of ``ids`` whose names are all free."""
    with contextlib.ExitStack() as cleanup:
        aside = {}
        for suffix, text in files.items():
            aside[suffix] = tmp = _write_aside(versions, text)
            cleanup.callback(tmp.unlink, missing_ok=True)
        for revision, _ in zip(ids, range(_MAX_ATTEMPTS), strict=False):
            placed: list[Path] = []
            try:
                if any((versions / f"{revision}{s}").exists() for s in (".sql", ".py")):
                    raise FileExistsError(revision)
                for suffix, tmp in aside.items():
                    target = versions / f"{revision}{suffix}"
                    os.link(tmp, target)
                    placed.append(target)
            except FileExistsError:
                for path in placed:
                    path.unlink(missing_ok=True)
                continue
            return placed[-1]
    raise FileExistsError(f"could not find a free revision id in {versions}")


def _write_aside(versions: Path, text: str) -> Path:
    # A dot-name without a .sql/.py suffix: neither yoyo nor revision_paths reads it.
    fd, name = tempfile.mkstemp(prefix=".pydapter-", suffix=".tmp", dir=versions)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(name, 0o644)
    return Path(name)
