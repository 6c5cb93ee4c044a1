"""The fleet API on real SQLite files, through real Alembic and yoyo projects."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import Project
from fleet_helpers import applied_counts, query

from pydapter_migrations import MigrationError
from pydapter_migrations.fleet import (
    FleetError,
    FleetEvent,
    Target,
    current_many,
    downgrade_many,
    status_many,
    upgrade_many,
    upgrade_many_async,
)
from pydapter_migrations.fleet._executor import choose_workers

# Revision 2 of a project made with this code kills its own process, once per database
# that has a '<file>.die' marker: a worker process dying mid-revision.
DIE = """\
    import os, signal
    from pathlib import Path
    rows = op.get_bind().exec_driver_sql("PRAGMA database_list").fetchall()
    marker = Path(rows[0][2] + ".die")
    if marker.exists():
        marker.unlink()
        os.kill(os.getpid(), signal.SIGKILL)
"""

HOLD_LOCK = """
import sys, time
from pydapter_migrations.locking import database_lock
with database_lock(sys.argv[1], timeout=30):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _sqlite_targets(folder: Path, count: int) -> dict[str, str]:
    folder.mkdir(exist_ok=True)
    return {f"db{i:02d}": f"sqlite:///{folder / f'db{i:02d}.db'}" for i in range(count)}


def test_fifty_databases_in_worker_processes_each_migrated_once(
    project: Project, tmp_path: Path
) -> None:
    directory, ids = project("alembic", 3)
    targets = _sqlite_targets(tmp_path / "dbs", 50)
    events: list[FleetEvent] = []
    result = upgrade_many(targets, directory=directory, parallel=2, progress=events.append)
    assert result.ok, result.failed
    assert [r.name for r in result] == list(targets)  # in the order given
    for r in result:
        assert (r.status, r.from_revision, r.to_revision) == ("migrated", None, ids[-1])
        assert r.revisions == tuple(ids) and r.url == targets[r.name]
    for url in targets.values():
        assert applied_counts(url) == dict.fromkeys(ids, 1)
    kinds = {e.kind for e in events}
    assert kinds == {"started", "planned", "revision", "finished"}
    assert sum(e.kind == "revision" for e in events) == 150

    again = upgrade_many(targets, directory=directory, parallel=2)
    assert {r.status for r in again} == {"unchanged"} and again.ok

    down = downgrade_many(targets, "-1", directory=directory)
    assert {(r.status, r.revisions, r.to_revision) for r in down} == {
        ("migrated", (ids[-1],), ids[-2])
    }
    status = status_many(targets, directory=directory)
    assert {(r.status, r.pending, r.head) for r in status} == {("pending", (ids[-1],), ids[-1])}
    current = current_many(targets, directory=directory)
    assert {r.revision for r in current} == {ids[-2]}
    assert current.to_json()[0] == {
        "name": "db00",
        "url": targets["db00"],
        "operation": "current",
        "ok": True,
        "status": "ok",
        "revision": ids[-2],
        "seconds": current[0].to_json()["seconds"],
        "error": None,
        "error_type": None,
    }


def test_a_failing_target_is_reported_while_the_rest_finish(
    project: Project, tmp_path: Path
) -> None:
    directory, ids = project("yoyo", 3)
    targets = _sqlite_targets(tmp_path / "dbs", 6)
    # db02 already has revision 2's table: revision 2 fails there, after revision 1.
    query(targets["db02"], "CREATE TABLE t_2 (id INTEGER)")
    targets["gone"] = f"sqlite:///{tmp_path / 'no-such-folder' / 'gone.db'}"
    result = upgrade_many(targets, directory=directory, backend="yoyo", parallel=3)
    assert not result.ok
    assert [r.name for r in result.failed] == ["db02", "gone"]
    failed = result.get("db02")
    assert failed is not None and failed.status == "failed" and ids[1] in str(failed.error)
    assert failed.error_type == "MigrationUpgradeError"
    assert applied_counts(targets["db02"]) == {ids[0]: 1}  # revision 1 committed, 2 rolled back
    # The failed target's result still says what committed before the failure.
    moved = (failed.from_revision, failed.to_revision, failed.revisions)
    assert moved == (None, ids[0], tuple(ids[:1]))
    gone = result.get("gone")
    assert gone is not None and (gone.from_revision, gone.to_revision, gone.revisions) == (
        None, None, (),
    )  # fmt: skip
    assert all(r.status == "migrated" for r in result if r.name not in ("db02", "gone"))
    assert "failed: db02, gone" in result.summary()
    with pytest.raises(FleetError, match="5 of 7 targets succeeded") as info:
        result.raise_on_failure()
    assert info.value.results is result

    # Fixed, the next run retries what failed and finishes it.
    query(targets["db02"], "DROP TABLE t_2")
    del targets["gone"]
    rerun = upgrade_many(targets, directory=directory, backend="yoyo", parallel=3)
    assert rerun.ok and rerun.get("db02") is not None
    assert rerun.get("db02").revisions == tuple(ids[1:])  # type: ignore[union-attr]
    assert applied_counts(targets["db02"]) == dict.fromkeys(ids, 1)


def test_fail_fast_starts_no_more_targets(project: Project, tmp_path: Path) -> None:
    directory, _ = project("yoyo", 2)
    targets = _sqlite_targets(tmp_path / "dbs", 5)
    query(targets["db01"], "CREATE TABLE t_2 (id INTEGER)")
    result = upgrade_many(targets, directory=directory, backend="yoyo", fail_fast=True)
    assert [r.status for r in result] == ["migrated", "failed", "not_run", "not_run", "not_run"]
    assert "fail_fast stopped the fleet after db01 failed" in str(result[2].error)
    assert not Path(targets["db04"].removeprefix("sqlite:///")).exists()


def test_skip_locked_comes_back_to_a_locked_target_at_the_end(
    project: Project, tmp_path: Path
) -> None:
    directory, ids = project("yoyo", 2)
    targets = _sqlite_targets(tmp_path / "dbs", 4)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, targets["db00"], "1.5"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        events: list[FleetEvent] = []
        result = upgrade_many(
            targets,
            directory=directory,
            backend="yoyo",
            skip_locked=True,
            lock_timeout=30,
            progress=events.append,
        )
    finally:
        holder.wait()
    assert result.ok
    # db00 is put last when its turn comes, and done once the other run let go.
    ends = [(e.kind, e.name) for e in events if e.kind in ("waiting", "finished")]
    assert ends[-1] == ("finished", "db00") and ends.count(("waiting", "db00")) == 1
    assert sorted(ends[:-1]) == [("finished", f"db0{i}") for i in (1, 2, 3)] + [("waiting", "db00")]
    assert result[0].waited and result[0].revisions == tuple(ids)
    assert not any(r.waited for r in result[1:])

    # Without skip_locked, a lock that stays held past lock_timeout fails its target only.
    fresh = _sqlite_targets(tmp_path / "more", 3)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, fresh["db01"], "5"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        result = upgrade_many(fresh, directory=directory, backend="yoyo", lock_timeout=0.3)
    finally:
        holder.kill()
        holder.wait()
    assert [r.status for r in result] == ["migrated", "failed", "migrated"]
    assert result[1].error_type == "MigrationLockError" and "timed out" in str(result[1].error)


def test_a_worker_process_that_dies_fails_its_target_and_the_fleet_goes_on(
    project: Project, tmp_path: Path
) -> None:
    directory, ids = project("alembic", 3, extra=DIE)
    targets = _sqlite_targets(tmp_path / "dbs", 6)
    victim = Path(targets["db01"].removeprefix("sqlite:///"))
    Path(f"{victim}.die").touch()
    result = upgrade_many(targets, directory=directory, parallel=2, workers="process")
    assert [r.name for r in result.failed] == ["db01"]
    assert "worker process migrating it died (killed by signal 9)" in str(result[1].error)
    assert all(r.revisions == tuple(ids) for r in result if r.name != "db01")
    assert applied_counts(targets["db01"]) == {ids[0]: 1}  # revision 2 rolled back with it

    rerun = upgrade_many(targets, directory=directory, parallel=2)
    assert rerun.ok and rerun[1].revisions == tuple(ids[1:])
    assert all(applied_counts(url) == dict.fromkeys(ids, 1) for url in targets.values())


def test_threads_inline_and_async(project: Project, tmp_path: Path) -> None:
    directory, ids = project("yoyo", 2)
    targets = [Target(name, url) for name, url in _sqlite_targets(tmp_path / "dbs", 8).items()]
    threaded = upgrade_many(
        targets[:4], directory=directory, backend="yoyo", parallel=3, workers="thread"
    )
    assert threaded.ok and {r.revisions for r in threaded} == {tuple(ids)}

    async def main() -> tuple[int, object]:
        ticks = 0
        task = asyncio.create_task(
            upgrade_many_async(targets[4:], directory=directory, backend="yoyo")
        )
        while not task.done():
            ticks += 1
            await asyncio.sleep(0.001)
        return ticks, await task

    ticks, result = asyncio.run(main())
    assert ticks > 1  # the loop stayed free
    assert getattr(result, "ok", False) and len(result) == 4  # type: ignore[arg-type]

    class ThreadSafe:
        thread_safe = True

    assert choose_workers("auto", ThreadSafe, 4, 10) == "thread"
    assert choose_workers("auto", object, 4, 10) == "process"
    assert choose_workers("auto", object, 1, 10) == "inline"


def test_wrong_arguments_are_refused_before_anything_runs(project: Project, tmp_path: Path) -> None:
    directory, _ = project("yoyo", 1)
    targets = _sqlite_targets(tmp_path / "dbs", 2)
    with pytest.raises(ValueError, match="parallel"):
        upgrade_many(targets, directory=directory, backend="yoyo", parallel=0)
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        upgrade_many(targets, directory=directory, backend="yoyo", colour="blue")
    with pytest.raises(MigrationError, match="does not exist"):
        upgrade_many(targets, directory=tmp_path / "nope", backend="yoyo")
    with pytest.raises(ValueError, match="lock_timeout"):
        upgrade_many(targets, directory=directory, backend="yoyo", lock_timeout=-1)
    with pytest.raises(ValueError, match="workers must be one of"):
        upgrade_many(targets, directory=directory, backend="yoyo", parallel=2, workers="fibres")

    class Local:  # defined in a function: a worker process could not import it
        migration_key = "local"

        @classmethod
        def upgrade(cls) -> None: ...

    with pytest.raises(TypeError, match="workers='thread'"):
        upgrade_many(targets, directory=directory, backend=Local, parallel=2)
    assert not any(Path(url.removeprefix("sqlite:///")).exists() for url in targets.values())


def test_an_empty_shard_and_an_empty_fleet(project: Project, tmp_path: Path) -> None:
    directory, _ = project("yoyo", 1)
    started = time.perf_counter()
    result = upgrade_many([], directory=directory, backend="yoyo", parallel=4)
    assert result.ok and len(result) == 0 and time.perf_counter() - started < 5
    one = {"only": f"sqlite:///{tmp_path / 'only.db'}"}
    shards = [upgrade_many(one, directory=directory, backend="yoyo", shard=(i, 2)) for i in (1, 2)]
    assert sorted(len(s) for s in shards) == [0, 1]
