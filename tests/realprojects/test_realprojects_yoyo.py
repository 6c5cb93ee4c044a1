"""The yoyo folders of biocommons.seqrepo and riego, as their wheels ship them, used in
place through this library's public API and its command line.

seqrepo ships two folders (``fastadir``, ``seqaliasdb``) of old-style ``.py`` migrations
(module-level ``step()`` calls) that use the same ids and live in separate databases;
riego ships ``.py`` migrations chained with ``__depends__``, an empty ``__init__.py`` that
yoyo reads as a migration of its own, SQLite-only SQL, one migration without any rollback
and one whose rollback has a typo (``WHERTE``). Every test checks the database it was
given against one that raw yoyo migrated.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from realprojects_support import (
    YOYO_TABLE_PREFIXES,
    Database,
    cli,
    differences,
    raw_yoyo,
    riego_folder,
    schema,
    seqrepo_folders,
)

from pydapter_migrations import MigrationDowngradeError, MigrationEvent, YoyoAdapter, hookimpl

NewDatabase = Callable[[str], Database]

# Defects of the yoyo adapter found by these projects (reported; plugins/yoyo is not this
# folder's to change). strict: once fixed, the test passes and the marker must go.
SEQREPO_REVISIONS = ["0000-base", "0001-initial"]
RIEGO_REVISIONS = ["__init__", "20210131_01_QndU0", "20210214_01_WyOHg", "20220907_01_rrOJA"]


class Seen:
    def __init__(self) -> None:
        self.revisions: list[str] = []

    @hookimpl
    def after_revision(self, event: MigrationEvent) -> None:
        assert event.revision is not None
        self.revisions.append(event.revision)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def backend(request: pytest.FixtureRequest) -> str:
    """SQLite and PostgreSQL only: seqrepo's SQL names a column ``key``, a reserved word on
    MySQL and MariaDB, where raw yoyo fails on its first migration too."""
    return str(request.param)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    monkeypatch.chdir(path)
    return path


def _project_schema(db: Database) -> dict[str, object]:
    """The schema without yoyo's (or this library's) bookkeeping tables."""
    return schema(db, leave_out=YOYO_TABLE_PREFIXES)


def _same_schema(ours: Database, theirs: Database) -> None:
    found = differences(_project_schema(ours), _project_schema(theirs))
    assert found == [], "\n".join(found)


def _files(folder: Path) -> dict[str, bytes]:
    """The folder's files (bytecode caches aside), to prove nothing was written there."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in folder.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def _problems_but_heads(kw: dict[str, object]) -> list[dict[str, object]]:
    """What verify finds, leaving out the several heads of a folder without dependencies
    (:func:`test_seqrepo_verify_finds_nothing_wrong` is about those)."""
    return [p for p in YoyoAdapter.verify(**kw) if p["problem"] != "multiple_heads"]


def _applied(db: Database) -> list[str]:
    """What yoyo's own table records."""
    return sorted(str(row[0]) for row in db.rows("SELECT migration_id FROM _yoyo_migration"))


# -- biocommons.seqrepo ------------------------------------------------------------------


def test_seqrepo_folders_upgrade_and_downgrade_like_raw_yoyo(
    backend: str, new_database: NewDatabase, workdir: Path
) -> None:
    # Both folders in one process: the same ids must not clash between them.
    for part, folder in seqrepo_folders().items():
        files = _files(folder)
        ours = new_database(f"ours_{part}")
        kw = {"directory": folder, "connection_string": ours.url}
        history = YoyoAdapter.get_migration_history(**kw)
        assert [entry["revision"] for entry in history] == SEQREPO_REVISIONS
        assert [entry["applied"] for entry in history] == [False, False]
        assert YoyoAdapter.get_current_revision(**kw) is None

        seen = Seen()
        YoyoAdapter.upgrade(**kw, observers=[seen])
        assert seen.revisions == SEQREPO_REVISIONS
        assert YoyoAdapter.get_current_revision(**kw) == SEQREPO_REVISIONS[-1]
        assert _applied(ours) == SEQREPO_REVISIONS  # yoyo's own record, readable by yoyo
        status = cli("-b", "yoyo", "-d", str(folder), "status", "--json", url=ours.url,
                     cwd=workdir).json()  # fmt: skip
        assert status["current"] == SEQREPO_REVISIONS[-1] and status["pending"] == []
        listed = cli("-b", "yoyo", "-d", str(folder), "history", "--json", url=ours.url,
                     cwd=workdir).json()  # fmt: skip
        assert [(e["revision"], e["applied"]) for e in listed] == [
            (revision, True) for revision in SEQREPO_REVISIONS
        ]
        assert _problems_but_heads(kw) == []

        theirs = new_database(f"raw_{part}")
        raw_yoyo(folder, theirs, "apply")
        _same_schema(ours, theirs)
        rows = "SELECT key, value FROM meta ORDER BY key"
        assert ours.rows(rows) == theirs.rows(rows)

        cli("-b", "yoyo", "-d", str(folder), "downgrade", "base", url=ours.url, cwd=workdir)
        assert YoyoAdapter.get_current_revision(**kw) is None
        raw_yoyo(folder, theirs, "rollback")
        _same_schema(ours, theirs)
        assert _project_schema(ours) == {"<views>": []}
        assert _files(folder) == files, "the project's folder was written to"
    assert list(workdir.iterdir()) == []


def test_seqrepo_database_migrated_by_yoyo_is_adopted(
    backend: str, new_database: NewDatabase, workdir: Path
) -> None:
    folder = seqrepo_folders()["seqaliasdb"]
    db = new_database("built")
    raw_yoyo(folder, db, "apply")
    before = _project_schema(db)
    kw = {"directory": folder, "connection_string": db.url}
    # What yoyo itself recorded is what the adapter reads.
    assert YoyoAdapter.get_current_revision(**kw) == SEQREPO_REVISIONS[-1]
    history = YoyoAdapter.get_migration_history(**kw)
    assert [entry["applied"] for entry in history] == [True, True]
    seen = Seen()
    YoyoAdapter.upgrade(**kw, observers=[seen])
    assert seen.revisions == []
    assert _project_schema(db) == before
    assert _problems_but_heads(kw) == []


def test_seqrepo_verify_finds_nothing_wrong(
    backend: str, new_database: NewDatabase, workdir: Path
) -> None:
    """A folder without ``-- depends:`` has a head per file by design (yoyo orders it by
    file name): nothing there for verify to report, nothing to merge."""
    folder = seqrepo_folders()["fastadir"]
    db = new_database("ours")
    kw = {"directory": folder, "connection_string": db.url}
    YoyoAdapter.upgrade(**kw)
    assert YoyoAdapter.verify(**kw) == []
    cli("-b", "yoyo", "-d", str(folder), "verify", url=db.url, cwd=workdir)


def test_seqrepo_database_without_yoyo_record_is_stamped(
    backend: str, new_database: NewDatabase, workdir: Path
) -> None:
    """seqrepo's tables without yoyo's record of them: stamped, not run again."""
    folder = seqrepo_folders()["seqaliasdb"]
    db = new_database("built")
    raw_yoyo(folder, db, "apply")
    before = _project_schema(db)
    db.execute("DELETE FROM _yoyo_migration")
    kw = {"directory": folder, "connection_string": db.url}
    assert YoyoAdapter.get_current_revision(**kw) is None
    status = cli("-b", "yoyo", "-d", str(folder), "status", "--json", url=db.url,
                 cwd=workdir).json()  # fmt: skip
    assert status["pending"] == SEQREPO_REVISIONS
    cli("-b", "yoyo", "-d", str(folder), "stamp", "head", url=db.url, cwd=workdir)
    assert _applied(db) == SEQREPO_REVISIONS
    history = YoyoAdapter.get_migration_history(**kw)
    assert [entry["applied"] for entry in history] == [True, True]
    YoyoAdapter.upgrade(**kw)
    assert _project_schema(db) == before
    assert db.rows("SELECT count(*) FROM log") == [(1,)]  # the inserts did not run twice
    assert YoyoAdapter.verify(**kw) == []


# -- riego (SQLite only: its SQL is SQLite's) -------------------------------------------


@pytest.fixture
def sqlite_database(tmp_path: Path) -> Callable[[str], Database]:
    return lambda name: Database.sqlite(tmp_path / "databases" / f"{name}.db")


def test_riego_upgrades_like_raw_yoyo(sqlite_database: NewDatabase, workdir: Path) -> None:
    folder = riego_folder()
    ours = sqlite_database("ours")
    kw = {"directory": folder, "connection_string": ours.url}
    history = YoyoAdapter.get_migration_history(**kw)
    assert [entry["revision"] for entry in history] == RIEGO_REVISIONS
    assert [entry["down_revision"] for entry in history[1:]] == RIEGO_REVISIONS[:-1]

    cli("-b", "yoyo", "-d", str(folder), "upgrade", url=ours.url, cwd=workdir)
    assert _applied(ours) == sorted(RIEGO_REVISIONS)
    listed = cli("-b", "yoyo", "-d", str(folder), "history", "--json", url=ours.url,
                 cwd=workdir).json()  # fmt: skip
    assert [(e["revision"], e["applied"]) for e in listed] == [
        (revision, True) for revision in RIEGO_REVISIONS
    ]
    status = cli("-b", "yoyo", "-d", str(folder), "status", "--json", url=ours.url,
                 cwd=workdir).json()  # fmt: skip
    assert status["pending"] == []

    theirs = sqlite_database("raw")
    raw_yoyo(folder, theirs, "apply")
    _same_schema(ours, theirs)
    for sql in ("SELECT key, value FROM parameters ORDER BY key",
                "SELECT identity, is_superuser FROM users"):  # fmt: skip
        assert ours.rows(sql) == theirs.rows(sql)
    # And the database raw yoyo migrated is up to date for the adapter.
    adopted = YoyoAdapter.get_migration_history(directory=folder, connection_string=theirs.url)
    assert all(entry["applied"] for entry in adopted)
    assert YoyoAdapter.verify(**kw) == []


def test_riego_current_is_the_end_of_its_dependency_chain(
    sqlite_database: NewDatabase, workdir: Path
) -> None:
    folder = riego_folder()
    db = sqlite_database("ours")
    kw = {"directory": folder, "connection_string": db.url}
    YoyoAdapter.upgrade(RIEGO_REVISIONS[2], **kw)
    assert YoyoAdapter.get_current_revision(**kw) == RIEGO_REVISIONS[2]
    YoyoAdapter.upgrade(**kw)
    current = cli("-b", "yoyo", "-d", str(folder), "current", "--json", url=db.url,
                  cwd=workdir)  # fmt: skip
    assert current.json() == {"revision": RIEGO_REVISIONS[-1]}


def test_riego_revision_without_rollback_is_not_reverted(
    sqlite_database: NewDatabase, workdir: Path
) -> None:
    """20220907_01_rrOJA adds three columns and has no rollback: nothing to revert it."""
    folder = riego_folder()
    db = sqlite_database("ours")
    kw = {"directory": folder, "connection_string": db.url}
    YoyoAdapter.upgrade(**kw)
    before = _project_schema(db)
    with pytest.raises(MigrationDowngradeError) as failed:
        YoyoAdapter.downgrade("-1", **kw)
    assert failed.value.revision == RIEGO_REVISIONS[-1]
    assert RIEGO_REVISIONS[-1] in str(failed.value)
    assert _applied(db) == sorted(RIEGO_REVISIONS)
    assert _project_schema(db) == before
    assert YoyoAdapter.verify(**kw) == []


def test_riego_broken_rollback_stops_at_its_revision_with_a_consistent_database(
    sqlite_database: NewDatabase, workdir: Path
) -> None:
    """20210131_01_QndU0's rollback drops ``valves`` and then fails on ``WHERTE``: the
    revision after it is reverted, that one stays applied and whole."""
    folder = riego_folder()
    db = sqlite_database("ours")
    kw = {"directory": folder, "connection_string": db.url}
    YoyoAdapter.upgrade(RIEGO_REVISIONS[2], **kw)
    assert _applied(db) == sorted(RIEGO_REVISIONS[:3])
    reference = sqlite_database("reference")
    YoyoAdapter.upgrade(RIEGO_REVISIONS[1], directory=folder, connection_string=reference.url)

    seen = Seen()
    with pytest.raises(MigrationDowngradeError) as failed:
        YoyoAdapter.downgrade("__init__", **kw, observers=[seen])
    assert failed.value.revision == RIEGO_REVISIONS[1]
    assert RIEGO_REVISIONS[1] in str(failed.value)
    assert "WHERTE" in str(failed.value) or "WHERTE" in str(failed.value.__cause__)
    assert seen.revisions == [RIEGO_REVISIONS[2]]  # reverted and committed before it

    assert _applied(db) == sorted(RIEGO_REVISIONS[:2])
    history = YoyoAdapter.get_migration_history(**kw)
    assert [entry["applied"] for entry in history] == [True, True, False, False]
    # The failed rollback left nothing half-done: same as a database never past it.
    _same_schema(db, reference)
    assert db.rows("SELECT key FROM parameters ORDER BY key") == [
        ("max_duration",), ("start_time_1",),
    ]  # fmt: skip
    assert YoyoAdapter.verify(**kw) == []
    status = cli("-b", "yoyo", "-d", str(folder), "status", "--json", url=db.url,
                 cwd=workdir).json()  # fmt: skip
    assert status["pending"] == RIEGO_REVISIONS[2:]
