"""What an upgrade checks before it runs anything, asked without running it: ``upgrade
--dry-run`` refuses (exit 1, the upgrade's own error) what ``upgrade`` refuses; a revision
whose run still holds the lock is in progress, not dead; ``allow_changed`` names applied
revisions only."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pydapter_migrations_yoyo import YoyoAdapter
from yoyo_folders import yoyo_folder

from pydapter_migrations import MigrationUpgradeError
from pydapter_migrations.connections import connect
from pydapter_migrations.ledger import Ledger, LedgerRow, now
from pydapter_migrations.locking import database_lock, lock_in_use, run_in_progress

CLI = [sys.executable, "-m", "pydapter_migrations"]


def _cli(url: str, folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url}
    command = [*CLI, "-b", "yoyo", "-d", str(folder), *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)


def _started(url: str, revision: str) -> None:
    """The row a run leaves when it starts ``revision`` and dies (or is still at it)."""
    with connect(url) as session:
        Ledger().insert(
            session,
            LedgerRow(
                run_id="f2run", seq=1, revision=revision, operation="upgrade",
                outcome="started", backend="yoyo", started_at=now(), os_user="ci", host="h",
            ),
        )  # fmt: skip


@pytest.fixture
def url(each_database_url: str) -> str:
    return each_database_url


def _same_refusal(url: str, folder: Path, *extra: str) -> str:
    dry = _cli(url, folder, "upgrade", "--dry-run", *extra)
    real = _cli(url, folder, "upgrade", *extra)
    assert dry.returncode == real.returncode == 1, (dry, real)
    assert dry.stderr == real.stderr and dry.stderr.startswith("Error: "), (dry, real)
    assert "would apply" not in dry.stdout
    return dry.stderr


def test_a_dry_run_refuses_what_the_upgrade_refuses(tmp_path: Path, url: str) -> None:
    folder = yoyo_folder(tmp_path, 2)
    kw = {"directory": folder, "connection_string": url}
    YoyoAdapter.upgrade("0001", **kw)

    # An applied revision changed: refused, unless accepted; an unknown id refused by name.
    (folder / "0001.sql").write_text(
        (folder / "0001.sql").read_text() + "CREATE TABLE x (i int);\n"
    )
    assert "--allow-changed 0001" in _same_refusal(url, folder)
    assert "nope" in _same_refusal(url, folder, "--allow-changed", "nope")
    # 0002 is in the directory but not applied here: nothing to accept on this database
    # (a fleet's targets may stand at different revisions), so 0001's change still refuses.
    assert "changed since it was applied" in _same_refusal(url, folder, "--allow-changed", "0002")
    accepted = _cli(url, folder, "upgrade", "--dry-run", "--allow-changed", "0001")
    assert accepted.returncode == 0 and "would apply 1 revision" in accepted.stdout, accepted
    (folder / "0001.sql").write_text("-- revision 1\nCREATE TABLE t1 (id integer);\n")

    # A revision that never finished (its run died): refused, with the advice to repair.
    _started(url, "0002")
    assert "never finished" in _same_refusal(url, folder)
    assert _cli(url, folder, "repair", "--not-applied").returncode == 0

    # The database ahead of the directory.
    YoyoAdapter.upgrade(**kw)
    (folder / "0002.sql").unlink()
    (folder / "0002.rollback.sql").unlink()
    assert "does not contain" in _same_refusal(url, folder)


def test_a_downgrade_dry_run_is_a_usage_error(tmp_path: Path, sqlite_url: str) -> None:
    folder = yoyo_folder(tmp_path, 1)
    result = _cli(sqlite_url, folder, "downgrade", "base", "--dry-run")
    assert result.returncode == 2
    assert "--dry-run previews an upgrade; for a downgrade use --sql" in result.stderr
    assert "unexpected extra argument" not in result.stderr


def test_a_dry_run_on_a_database_it_cannot_reach_fails_as_the_upgrade(tmp_path: Path) -> None:
    folder = yoyo_folder(tmp_path, 1)
    # Nothing listens on port 1: both fail at once, with the same error.
    message = _same_refusal("mysql://app:secret@127.0.0.1:1/shop", folder)
    assert message.startswith("Error: upgrade failed: ") and "secret" not in message


def test_allow_changed_takes_revision_ids_of_the_directory(tmp_path: Path, sqlite_url: str) -> None:
    folder = yoyo_folder(tmp_path, 2)
    kw = {"directory": folder, "connection_string": sqlite_url}
    with pytest.raises(TypeError, match="collection of revision ids"):
        YoyoAdapter.upgrade(**kw, allow_changed="0001")  # type: ignore[arg-type]
    with pytest.raises(MigrationUpgradeError, match=r"typo.*unknown"):
        YoyoAdapter.upgrade(**kw, allow_changed=["typo"])  # nothing applied yet
    YoyoAdapter.upgrade("0001", allow_changed=["0001"], **kw)  # known: nothing to accept
    with pytest.raises(MigrationUpgradeError, match=r"no-such-id.*unknown"):
        YoyoAdapter.upgrade(**kw, allow_changed=["0001", "no-such-id"])
    assert YoyoAdapter.get_current_revision(**kw) == "0001"
    YoyoAdapter.upgrade(**kw, allow_changed=["0001"])  # applied, unchanged: fine
    assert YoyoAdapter.get_current_revision(**kw) == "0002"


def test_a_revision_whose_run_holds_the_lock_is_in_progress(tmp_path: Path, url: str) -> None:
    """While the run that started it holds the migration lock, a started row is its
    revision at work: status says in progress (--check exits 3, as for pending), verify
    does not fail, and nobody is told to repair; once that run is gone the same row is a
    run that died, whoever holds the lock then."""
    folder = yoyo_folder(tmp_path, 2)
    YoyoAdapter.upgrade("0001", directory=folder, connection_string=url)
    _started(url, "0002")
    with database_lock(url, timeout=5):
        # Another holder (a new deployer, a repair, a script) is not the run that died.
        with connect(url) as session:
            assert lock_in_use(url, session) and not run_in_progress(url, session, "f2run")
        verify = _cli(url, folder, "verify")
        assert verify.returncode == 1 and verify.stdout.startswith("dirty: "), verify
        check = _cli(url, folder, "status", "--check")
        assert check.returncode == 1 and "never finished" in check.stdout, check
    with database_lock(url, timeout=5) as lock:
        lock.mark_run("f2run")  # the run that started it
        with connect(url) as session:
            assert run_in_progress(url, session, "f2run")
        status = _cli(url, folder, "status")
        assert status.returncode == 0, status
        assert (
            "in progress: revision 0002" in status.stdout
            and "repair" not in status.stdout + status.stderr
        )
        check = _cli(url, folder, "status", "--check")
        assert check.returncode == 3, check
        verify = _cli(url, folder, "verify")
        assert verify.returncode == 0, verify
        assert (
            "in progress: revision 0002" in verify.stdout
            and "repair" not in verify.stdout + verify.stderr
        )
        dry = _cli(url, folder, "upgrade", "--dry-run")
        assert dry.returncode == 0 and "in progress" in dry.stdout, dry
    with connect(url) as session:
        assert not lock_in_use(url, session) and not run_in_progress(url, session, "f2run")
    status = _cli(url, folder, "status", "--check")
    assert status.returncode == 1 and "never finished" in status.stdout, status
    verify = _cli(url, folder, "verify")
    assert verify.returncode == 1 and verify.stdout.startswith("dirty: "), verify


def test_a_real_run_at_work_is_in_progress_and_dead_once_killed(
    tmp_path: Path, mariadb_url: str
) -> None:
    # MariaDB commits a revision's started row with its DDL, while it still runs.
    folder = yoyo_folder(tmp_path, 2)
    (folder / "0002.sql").write_text(
        "-- depends: 0001\nCREATE TABLE t2 (id integer);\nSELECT SLEEP(30);\n"
    )
    env = {**os.environ, "DATABASE_URL": mariadb_url}
    command = [*CLI, "-b", "yoyo", "-d", str(folder), "upgrade"]
    run = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while "0002" not in _cli(mariadb_url, folder, "verify").stdout:
            assert run.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        verify = _cli(mariadb_url, folder, "verify")
        assert verify.returncode == 0 and "in progress: revision 0002" in verify.stdout, verify
    finally:
        run.kill()
        run.communicate()
    deadline = time.monotonic() + 30
    while (verify := _cli(mariadb_url, folder, "verify")).returncode != 1:
        assert time.monotonic() < deadline, verify  # the server notices the dead client
        time.sleep(0.2)
    assert verify.stdout.startswith("dirty: revision 0002"), verify


def test_repair_of_a_database_that_does_not_exist_creates_nothing(tmp_path: Path) -> None:
    """A repair never creates a database (as reads do not): a missing SQLite file has
    nothing to repair, and the error is the repair's, not a stamp's."""
    folder = yoyo_folder(tmp_path, 1)
    for path in (tmp_path / "fresh.db", tmp_path / "nodir" / "x.db"):
        result = _cli(f"sqlite:///{path}", folder, "repair", "--applied")
        assert result.returncode == 1, result
        assert "nothing to repair" in result.stderr and "does not exist" in result.stderr
        assert "stamp" not in result.stderr
        assert not list(path.parent.glob(f"{path.name}*"))
    assert not (tmp_path / "nodir").exists()
    unreachable = _cli("postgresql://u:pw@127.0.0.1:1/x", folder, "repair", "--applied")
    assert unreachable.returncode == 1 and "repair failed" in unreachable.stderr, unreachable
    assert "stamp" not in unreachable.stderr
