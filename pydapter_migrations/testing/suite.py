"""The conformance suite. An adapter package runs it by subclassing::

    from pydapter_migrations.testing import BaseMigrationSuite

    class TestMyAdapterOnSQLite(BaseMigrationSuite):
        adapter = MyAdapter
        database = "sqlite"            # or "postgresql"

        @staticmethod
        def write_revision(directory, revision, upgrade, downgrade):
            ...  # make `revision` run the SQL statements `upgrade` / `downgrade`

:class:`BaseAsyncMigrationSuite` is the same for async adapters, with the same test names.
Tests that need a capability the adapter does not declare (``supports_sql``) are skipped,
as are the async-only tests in the sync suite; every skip says why.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest

from .. import (
    AdapterNotFoundError,
    AsyncMigrationProtocol,
    MigrationCreationError,
    MigrationDowngradeError,
    MigrationError,
    MigrationEvent,
    MigrationInitError,
    MigrationLockError,
    MigrationNotFoundError,
    MigrationProtocol,
    MigrationUpgradeError,
    get_adapter,
    hookimpl,
    register_plugin,
    unregister_plugin,
)
from ..locking import database_lock
from ..urls import DatabaseURL
from ._dbapi import connect

__all__ = ["BaseAsyncMigrationSuite", "BaseMigrationSuite", "KitDatabase"]

WriteRevision = Callable[[Path, str, list[str], list[str]], None]


# -- talking to the database behind the adapter's back --------------------------------


@dataclass
class KitDatabase:
    """Direct access to the test database, to check what the adapter did."""

    url: DatabaseURL

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with connect(self.url) as conn:
            return [tuple(row) for row in conn.execute(sql).fetchall()]

    def tables(self) -> set[str]:
        if self.url.backend == "sqlite":
            sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
        else:
            sql = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        return {row[0] for row in self.query(sql)}

    def kit_tables(self) -> set[str]:
        return {t for t in self.tables() if t.startswith("kit_")}

    def is_running(self, statement: str) -> bool:
        """Whether another session runs ``statement`` now (SQLite cannot tell: wait 2 s)."""
        if self.url.backend == "sqlite":
            time.sleep(2.0)
            return True
        quoted = statement.replace("'", "''")
        rows = self.query(
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
            f"AND pid <> pg_backend_pid() AND query LIKE '%{quoted}%'"
        )
        return bool(rows[0][0])

    def slow_statement(self, seconds: float) -> str:
        """A statement that keeps the database busy for about ``seconds``."""
        if self.url.backend == "postgresql":
            return f"SELECT pg_sleep({seconds})"
        # About 2.5 million rows a second on a slow machine; far longer than the test waits.
        rows = int(seconds * 2_500_000)
        return (
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
            f"WHERE x < {rows}) SELECT max(x) FROM c"
        )


@dataclass
class _Recorder:
    """A hook plugin that records every event."""

    events: list[tuple[str, MigrationEvent]] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    check: Callable[[MigrationEvent], None] | None = None

    @hookimpl
    def before_migrate(self, event: MigrationEvent) -> None:
        self.events.append(("before_migrate", event))

    @hookimpl
    def after_revision(self, event: MigrationEvent) -> None:
        self.events.append(("after_revision", event))
        if self.check is not None:
            self.check(event)

    @hookimpl
    def after_migrate(self, event: MigrationEvent) -> None:
        self.events.append(("after_migrate", event))

    @hookimpl
    def on_migration_error(self, event: MigrationEvent, error: BaseException) -> None:
        self.events.append(("on_migration_error", event))
        self.errors.append(error)

    def named(self, name: str) -> list[MigrationEvent]:
        return [event for hook, event in self.events if hook == name]


def _snapshot(path: Path) -> dict[str, bytes | None]:
    """Every file and folder under ``path`` with its content, to prove nothing changed."""
    if not path.exists():
        return {}
    return {
        str(p.relative_to(path)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(path.rglob("*"))
        if "__pycache__" not in p.parts
    }


class _Suite:
    """The tests; :class:`BaseMigrationSuite` and :class:`BaseAsyncMigrationSuite` run them."""

    adapter: ClassVar[type[Any]]
    database: ClassVar[str] = "sqlite"
    #: Seconds a lock waiter is given in the lock-timeout test.
    lock_wait: ClassVar[float] = 1.0
    expects_async: ClassVar[bool]

    @staticmethod
    def write_revision(
        directory: Path, revision: str, upgrade: list[str], downgrade: list[str]
    ) -> None:
        """Make ``revision`` run the statements ``upgrade`` / ``downgrade`` (override this)."""
        raise TypeError("a conformance suite must define write_revision")

    # -- fixtures ---------------------------------------------------------------

    @pytest.fixture
    def url(self, request: pytest.FixtureRequest) -> str:
        if self.database not in ("sqlite", "postgresql"):
            raise ValueError(f"database must be 'sqlite' or 'postgresql', not {self.database!r}")
        raw = request.getfixturevalue(f"{self.database}_url")
        parsed = DatabaseURL.parse(raw)
        parsed = parsed.asynchronous() if self.adapter.is_async else parsed.sync()
        return parsed.render(hide_password=False)

    @pytest.fixture
    def db(self, url: str) -> KitDatabase:
        return KitDatabase(DatabaseURL.parse(url))

    @pytest.fixture
    def directory(self, tmp_path: Path) -> Path:
        return tmp_path / "migrations"

    @pytest.fixture
    def recorder(self) -> Iterator[_Recorder]:
        recorder = _Recorder()
        register_plugin(recorder)
        yield recorder
        unregister_plugin(recorder)

    # -- calling the adapter the same way whether it is sync or async ------------

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        result = getattr(self.adapter, method)(*args, **kwargs)
        if inspect.isawaitable(result):
            return asyncio.run(_await(result))
        return result

    def init(self, directory: Path, url: str) -> None:
        self.call("init_migrations", str(directory), connection_string=url)

    def new(self, directory: Path, url: str, message: str, up: list[str], down: list[str]) -> str:
        revision = self.call(
            "create_migration", message, autogenerate=False, directory=str(directory),
            connection_string=url,
        )  # fmt: skip
        assert isinstance(revision, str) and revision, "create_migration must return the id"
        self.write_revision(directory, revision, up, down)
        return revision

    def chain(self, directory: Path, url: str, count: int) -> list[str]:
        """``count`` revisions; revision i creates table kit_t<i> and logs itself in kit_log."""
        self.init(directory, url)
        revisions = []
        for i in range(1, count + 1):
            up = [f"CREATE TABLE kit_t{i} (id integer)", f"INSERT INTO kit_log VALUES ({i})"]
            if i == 1:
                up.insert(0, "CREATE TABLE kit_log (n integer)")
            down = [f"DELETE FROM kit_log WHERE n = {i}", f"DROP TABLE kit_t{i}"]
            if i == 1:
                down.append("DROP TABLE kit_log")
            revisions.append(self.new(directory, url, f"revision {i}", up, down))
        return revisions

    def upgrade(self, directory: Path, url: str, target: str = "head", **kw: Any) -> Any:
        return self.call("upgrade", target, directory=str(directory), connection_string=url, **kw)

    def downgrade(self, directory: Path, url: str, target: str, **kw: Any) -> Any:
        return self.call("downgrade", target, directory=str(directory), connection_string=url, **kw)

    def current(self, directory: Path, url: str) -> str | None:
        revision: str | None = self.call(
            "get_current_revision", directory=str(directory), connection_string=url
        )
        return revision

    def history(self, directory: Path, url: str | None) -> list[dict[str, Any]]:
        history: list[dict[str, Any]] = self.call(
            "get_migration_history", directory=str(directory), connection_string=url
        )
        return history

    def worker(
        self, method: str, *args: Any, hold: Path | None = None, **kwargs: Any
    ) -> subprocess.Popen[str]:
        """Start the call in a separate process."""
        spec = {
            "adapter": f"{self.adapter.__module__}:{self.adapter.__qualname__}",
            "method": method,
            "args": list(args),
            "kwargs": kwargs,
            "hold": str(hold) if hold else None,
        }
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        return subprocess.Popen(
            [sys.executable, "-m", "pydapter_migrations.testing._worker", json.dumps(spec)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip

    # -- the contract -------------------------------------------------------------

    def test_adapter_declares_the_protocol(self) -> None:
        assert self.adapter.is_async == self.expects_async, (
            "use BaseAsyncMigrationSuite for async adapters and BaseMigrationSuite for sync ones"
        )
        protocol = AsyncMigrationProtocol if self.adapter.is_async else MigrationProtocol
        assert isinstance(self.adapter, protocol)
        key = self.adapter.migration_key
        assert isinstance(key, str) and key
        assert get_adapter(key) is self.adapter, f"{key!r} must resolve to the adapter class"
        for method in ("init_migrations", "create_migration", "upgrade", "downgrade",
                       "get_current_revision", "get_migration_history"):  # fmt: skip
            is_coroutine = inspect.iscoroutinefunction(getattr(self.adapter, method))
            assert is_coroutine == self.adapter.is_async, method
        assert self.adapter.capabilities() <= {"autogenerate", "sql", "async"}

    def test_round_trip(self, directory: Path, url: str, db: KitDatabase) -> None:
        r1, r2 = self.chain(directory, url, 2)
        history = self.history(directory, url)
        assert [h["revision"] for h in history] == [r1, r2]
        assert [h["description"] for h in history] == ["revision 1", "revision 2"]
        assert [h["down_revision"] for h in history] == [None, r1]
        assert [h["applied"] for h in history] == [False, False]
        assert self.current(directory, url) is None

        self.upgrade(directory, url)
        assert self.current(directory, url) == r2
        assert db.kit_tables() == {"kit_log", "kit_t1", "kit_t2"}
        assert [h["applied"] for h in self.history(directory, url)] == [True, True]

        self.downgrade(directory, url, "base")
        assert self.current(directory, url) is None
        assert db.kit_tables() == set()
        assert [h["applied"] for h in self.history(directory, url)] == [False, False]

    def test_history_without_connection_string(self, directory: Path, url: str) -> None:
        revisions = self.chain(directory, url, 2)
        self.upgrade(directory, url)
        history = self.history(directory, None)
        assert [h["revision"] for h in history] == revisions
        assert [h["applied"] for h in history] == [None, None]

    def test_targets_head_base_id_and_relative(
        self, directory: Path, url: str, db: KitDatabase
    ) -> None:
        r1, r2, r3 = self.chain(directory, url, 3)
        self.upgrade(directory, url, r1)
        assert self.current(directory, url) == r1
        assert db.kit_tables() == {"kit_log", "kit_t1"}
        self.upgrade(directory, url, "head")
        assert self.current(directory, url) == r3
        self.downgrade(directory, url, "-1")
        assert self.current(directory, url) == r2
        assert "kit_t3" not in db.kit_tables()
        self.downgrade(directory, url, r1)
        assert self.current(directory, url) == r1
        assert db.kit_tables() == {"kit_log", "kit_t1"}
        self.downgrade(directory, url, "base")
        assert self.current(directory, url) is None
        self.upgrade(directory, url, r2)
        assert self.current(directory, url) == r2
        assert sorted(row[0] for row in db.query("SELECT n FROM kit_log")) == [1, 2]

    def test_second_upgrade_is_a_no_op(
        self, directory: Path, url: str, db: KitDatabase, recorder: _Recorder
    ) -> None:
        revisions = self.chain(directory, url, 2)
        self.upgrade(directory, url)
        recorder.events.clear()
        self.upgrade(directory, url)
        assert self.current(directory, url) == revisions[-1]
        assert sorted(row[0] for row in db.query("SELECT n FROM kit_log")) == [1, 2]
        assert recorder.named("after_revision") == []
        [before] = recorder.named("before_migrate")
        assert before.pending == ()
        assert len(recorder.named("after_migrate")) == 1

    def test_unknown_revision_raises_not_found_and_changes_nothing(
        self, directory: Path, url: str, db: KitDatabase
    ) -> None:
        r1, _ = self.chain(directory, url, 2)
        self.upgrade(directory, url, r1)
        files = _snapshot(directory)
        for call in (self.upgrade, self.downgrade):
            with pytest.raises(MigrationNotFoundError) as info:
                call(directory, url, "feedc0ffee99")
            assert info.value.revision == "feedc0ffee99"
            assert info.value.adapter == self.adapter.migration_key
        assert self.current(directory, url) == r1
        assert db.kit_tables() == {"kit_log", "kit_t1"}
        assert _snapshot(directory) == files

    def test_failing_revision_leaves_the_previous_one(
        self, directory: Path, url: str, db: KitDatabase, recorder: _Recorder
    ) -> None:
        self.init(directory, url)
        r1 = self.new(directory, url, "good", ["CREATE TABLE kit_good (id integer)"],
                      ["DROP TABLE kit_good"])  # fmt: skip
        r2 = self.new(
            directory, url, "breaks halfway",
            ["CREATE TABLE kit_half (id integer)", "INSERT INTO kit_no_such_table VALUES (1)"],
            ["DROP TABLE kit_half"],
        )  # fmt: skip
        with pytest.raises(MigrationUpgradeError) as info:
            self.upgrade(directory, url)
        assert info.value.revision == r2
        assert r2 in str(info.value)
        assert info.value.adapter == self.adapter.migration_key
        assert info.value.__cause__ is not None
        assert self.current(directory, url) == r1
        assert db.kit_tables() == {"kit_good"}
        assert [e.revision for e in recorder.named("after_revision")] == [r1]
        assert recorder.errors == [info.value]

    def test_failing_downgrade_leaves_the_revision_applied(
        self, directory: Path, url: str, db: KitDatabase
    ) -> None:
        self.init(directory, url)
        r1 = self.new(directory, url, "one", ["CREATE TABLE kit_one (id integer)"],
                      ["DROP TABLE kit_one"])  # fmt: skip
        r2 = self.new(directory, url, "two", ["CREATE TABLE kit_two (id integer)"],
                      ["DROP TABLE kit_two", "DROP TABLE kit_no_such_table"])  # fmt: skip
        self.upgrade(directory, url)
        with pytest.raises(MigrationDowngradeError) as info:
            self.downgrade(directory, url, "base")
        assert info.value.revision == r2
        assert self.current(directory, url) == r2
        assert db.kit_tables() == {"kit_one", "kit_two"}
        self.write_revision(directory, r2, ["CREATE TABLE kit_two (id integer)"],
                            ["DROP TABLE kit_two"])  # fmt: skip
        self.downgrade(directory, url, r1)
        assert self.current(directory, url) == r1

    def test_hooks_fire_once_per_revision_after_commit(
        self, directory: Path, url: str, db: KitDatabase, recorder: _Recorder
    ) -> None:
        revisions = self.chain(directory, url, 3)
        committed: list[bool] = []
        # Seen from another connection, the revision's table must already exist.
        recorder.check = lambda event: committed.append(
            event.operation != "upgrade" or f"kit_t{event.index}" in db.tables()
        )
        self.upgrade(directory, url)
        key = self.adapter.migration_key
        [before] = recorder.named("before_migrate")
        assert (before.migration_key, before.operation, before.target) == (key, "upgrade", "head")
        assert before.pending == tuple(revisions)
        assert Path(before.directory) == directory
        after = recorder.named("after_revision")
        assert [e.revision for e in after] == revisions
        assert [e.index for e in after] == [1, 2, 3]
        assert all(e.elapsed is not None and e.elapsed >= 0 for e in after)
        assert committed == [True, True, True]
        assert len(recorder.named("after_migrate")) == 1

        recorder.events.clear()
        self.downgrade(directory, url, "base")
        assert [e.revision for e in recorder.named("after_revision")] == revisions[::-1]
        assert {e.operation for _, e in recorder.events} == {"downgrade"}
        assert recorder.named("on_migration_error") == []

    def test_bad_inputs_raise_their_type_and_change_nothing(
        self, tmp_path: Path, directory: Path, url: str, db: KitDatabase
    ) -> None:
        key = self.adapter.migration_key
        missing = tmp_path / "missing"
        empty = tmp_path / "empty"
        empty.mkdir()
        for where in (missing, empty):
            before = _snapshot(tmp_path)
            calls: list[tuple[type[MigrationError], str, tuple[Any, ...]]] = [
                (MigrationCreationError, "create_migration", ("x",)),
                (MigrationUpgradeError, "upgrade", ("head",)),
                (MigrationDowngradeError, "downgrade", ("base",)),
                (MigrationError, "get_current_revision", ()),
                (MigrationError, "get_migration_history", ()),
            ]
            for error_type, method, args in calls:
                with pytest.raises(error_type) as info:
                    self.call(method, *args, directory=str(where), connection_string=url)
                assert info.value.adapter == key
            assert _snapshot(tmp_path) == before, f"a call on {where.name} changed files"

        not_empty = tmp_path / "not_empty"
        not_empty.mkdir()
        (not_empty / "keep.txt").write_text("mine")
        before = _snapshot(tmp_path)
        with pytest.raises(MigrationInitError):
            self.call("init_migrations", str(not_empty), connection_string=url)
        assert _snapshot(tmp_path) == before

        revisions = self.chain(directory, url, 1)
        before = _snapshot(tmp_path)
        with pytest.raises(MigrationInitError):
            self.init(directory, url)
        with pytest.raises(MigrationCreationError):
            self.call("create_migration", "  ", directory=str(directory), connection_string=url)
        if not self.adapter.supports_autogenerate:
            with pytest.raises(MigrationCreationError):
                self.call("create_migration", "auto", autogenerate=True,
                          directory=str(directory), connection_string=url)  # fmt: skip
        bad_urls = ["not a url", "sqlite://somehost/x.db", "postgresql://u:p@h:notaport/db"]
        for bad in bad_urls:
            with pytest.raises(MigrationUpgradeError):
                self.upgrade(directory, bad)
            with pytest.raises(MigrationDowngradeError):
                self.downgrade(directory, bad, "base")
        assert _snapshot(tmp_path) == before
        assert db.kit_tables() == set()
        self.upgrade(directory, url)
        assert self.current(directory, url) == revisions[-1]

        with pytest.raises(AdapterNotFoundError) as not_found:
            get_adapter("no_such_backend_key")
        assert key in str(not_found.value)

    def test_password_never_reaches_files_or_errors(
        self, directory: Path, url: str, db: KitDatabase
    ) -> None:
        secrets = DatabaseURL.parse(url).secrets()
        if not secrets:
            pytest.skip("this database URL has no password")
        self.chain(directory, url, 1)
        self.upgrade(directory, url)
        self.new(directory, url, "fails", ["INSERT INTO kit_no_such_table VALUES (1)"], [])
        with pytest.raises(MigrationUpgradeError) as info:
            self.upgrade(directory, url)
        wrong = DatabaseURL.parse(url)
        wrong_url = wrong.render(hide_password=False).replace(secrets[0], "wr%40ng%25pass")
        with pytest.raises(MigrationError) as refused:
            self.upgrade(directory, wrong_url)
        for error, secret_forms in (
            (info.value, secrets),
            (refused.value, (*secrets, "wr@ng%pass", "wr%40ng%25pass")),
        ):
            text = "".join(traceback.format_exception(error))
            for secret in secret_forms:
                assert secret not in text, "a password reached an error or its traceback"
        for path in directory.rglob("*"):
            if path.is_file():
                content = path.read_bytes()
                for secret in secrets:
                    assert secret.encode() not in content, f"the password is in {path}"

    def test_offline_sql_touches_nothing(self, directory: Path, url: str, db: KitDatabase) -> None:
        if not self.adapter.supports_sql:
            pytest.skip(f"{self.adapter.__name__} does not declare supports_sql")
        self.chain(directory, url, 2)
        sql = self.upgrade(directory, url, sql=True)
        assert isinstance(sql, str)
        assert "kit_t1" in sql and "kit_t2" in sql
        assert self.current(directory, url) is None
        assert db.kit_tables() == set()

    def test_calls_from_separate_processes(self, directory: Path, url: str) -> None:
        revisions = self.chain(directory, url, 2)
        proc = self.worker("upgrade", "head", directory=str(directory), connection_string=url)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert self.current(directory, url) == revisions[-1]

    # -- locking -----------------------------------------------------------------

    def test_lock_waiter_times_out_with_lock_error(
        self, tmp_path: Path, directory: Path, url: str
    ) -> None:
        revisions = self.chain(directory, url, 2)
        hold = tmp_path / "hold"
        hold.mkdir()
        holder = self.worker(
            "upgrade", "head", directory=str(directory), connection_string=url, hold=hold
        )
        try:
            _wait_for(lambda: (hold / "held").exists() or holder.poll() is not None, 60)
            assert holder.poll() is None, holder.communicate()[1]
            started = time.monotonic()
            with pytest.raises(MigrationLockError) as info:
                self.upgrade(directory, url, lock_timeout=self.lock_wait)
            waited = time.monotonic() - started
            assert self.lock_wait * 0.9 <= waited < self.lock_wait + 10
            assert info.value.adapter == self.adapter.migration_key
        finally:
            (hold / "release").touch()
            _, err = holder.communicate(timeout=120)
        assert holder.returncode == 0, err
        assert self.current(directory, url) == revisions[-1]

    def test_concurrent_processes_apply_each_revision_once(
        self, directory: Path, url: str, db: KitDatabase
    ) -> None:
        revisions = self.chain(directory, url, 3)
        workers = [
            self.worker("upgrade", "head", directory=str(directory), connection_string=url)
            for _ in range(6)
        ]
        results = [(w.wait(timeout=180), w.communicate()[1]) for w in workers]
        assert [code for code, _ in results] == [0] * 6, results
        assert sorted(row[0] for row in db.query("SELECT n FROM kit_log")) == [1, 2, 3]
        assert self.current(directory, url) == revisions[-1]

    def test_killed_process_leaves_no_lock(
        self, directory: Path, url: str, db: KitDatabase
    ) -> None:
        self.init(directory, url)
        slow = db.slow_statement(60)
        revision = self.new(directory, url, "slow",
                            ["CREATE TABLE kit_slow (id integer)", slow],
                            ["DROP TABLE kit_slow"])  # fmt: skip
        victim = self.worker("upgrade", "head", directory=str(directory), connection_string=url)

        def lock_is_held() -> bool:
            try:
                with database_lock(url, timeout=0):
                    return False
            except MigrationLockError:
                return True

        _wait_for(lambda: lock_is_held() or victim.poll() is not None, 60)
        _wait_for(lambda: db.is_running(slow) or victim.poll() is not None, 60)
        assert victim.poll() is None, victim.communicate()[1]
        victim.send_signal(signal.SIGKILL)
        victim.communicate(timeout=30)

        self.write_revision(directory, revision, ["CREATE TABLE kit_slow (id integer)"],
                            ["DROP TABLE kit_slow"])  # fmt: skip
        started = time.monotonic()
        self.upgrade(directory, url, lock_timeout=15)
        assert time.monotonic() - started < 15
        assert self.current(directory, url) == revision
        assert "kit_slow" in db.kit_tables()

    # -- async only ----------------------------------------------------------------

    def test_event_loop_stays_free_during_upgrade(
        self, directory: Path, url: str, db: KitDatabase
    ) -> None:
        if not self.adapter.is_async:
            pytest.skip("the adapter is synchronous")
        self.init(directory, url)
        revision = self.new(directory, url, "slow",
                            ["CREATE TABLE kit_t1 (id integer)", db.slow_statement(1.0)],
                            ["DROP TABLE kit_t1"])  # fmt: skip

        async def scenario() -> tuple[int, float]:
            ticks = 0
            stop = asyncio.Event()

            async def ticker() -> None:
                nonlocal ticks
                while not stop.is_set():
                    ticks += 1
                    await asyncio.sleep(0.01)

            task = asyncio.create_task(ticker())
            started = time.monotonic()
            await self.adapter.upgrade("head", directory=str(directory), connection_string=url)
            took = time.monotonic() - started
            stop.set()
            await task
            return ticks, took

        ticks, took = asyncio.run(scenario())
        assert self.current(directory, url) == revision
        # A loop blocked by the migration would tick once or twice; a free one ~100 times a
        # second, fewer while the worker thread holds the GIL (importing, compiling scripts).
        assert ticks >= took * 10, (ticks, took)

    def test_concurrent_tasks_in_one_loop(self, tmp_path: Path, url: str, db: KitDatabase) -> None:
        if not self.adapter.is_async:
            pytest.skip("the adapter is synchronous")
        first, second = tmp_path / "first", tmp_path / "second"
        r_first = self.chain(first, url, 2)
        self.init(second, url)
        r_second = [self.new(second, url, "other", ["CREATE TABLE kit_other (id integer)"],
                             ["DROP TABLE kit_other"])]  # fmt: skip

        async def together() -> list[Any]:
            return list(
                await asyncio.gather(
                    self.adapter.upgrade("head", directory=str(first), connection_string=url),
                    self.adapter.get_migration_history(directory=str(second)),
                    self.adapter.get_migration_history(directory=str(first)),
                    self.adapter.create_migration("third", directory=str(second)),
                )
            )

        _, history_second, history_first, r_third = asyncio.run(together())
        assert self.current(first, url) == r_first[-1]
        # The history of `second` ran concurrently with the create: either state is right.
        assert [h["revision"] for h in history_second] in (r_second, [*r_second, r_third])
        assert [h["revision"] for h in history_first] == r_first
        history = self.history(second, None)
        assert [h["revision"] for h in history] == [*r_second, r_third]


async def _await(awaitable: Any) -> Any:
    return await awaitable


def _wait_for(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(0.05)


class BaseMigrationSuite(_Suite):
    """Conformance tests for a synchronous adapter (``adapter.is_async`` false)."""

    expects_async = False


class BaseAsyncMigrationSuite(_Suite):
    """Conformance tests for an async adapter: the same tests, each call awaited."""

    expects_async = True
