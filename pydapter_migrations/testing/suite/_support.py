"""What every topic of the kit builds on: the suite's settings and fixtures, calling the
adapter the same way whether it is sync or async, and small helpers the tests share."""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest

from ... import MigrationEvent, hookimpl
from ...base import AsyncMigrationAdapter, SyncMigrationAdapter
from ...urls import DatabaseURL
from .._worker import SPEC_VARIABLE
from ..requirements import Requirements, required
from ._database import KitDatabase

__all__ = ["DATABASES", "Recorder", "SuiteBase", "snapshot", "wait_for"]

#: The values of a suite's ``database``; each names the fixture of its test URL
#: (``sqlite_url``, ``postgresql_url``, ``mariadb_url``: a throwaway MariaDB server, which
#: stands for the MySQL family).
DATABASES = ("sqlite", "postgresql", "mariadb")


@dataclass
class Recorder:
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
        """The events of the hook ``name``, in order."""
        return [event for hook, event in self.events if hook == name]


def snapshot(path: Path) -> dict[str, bytes | None]:
    """Every file and folder under ``path`` with its content, to prove nothing changed."""
    if not path.exists():
        return {}
    return {
        str(p.relative_to(path)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(path.rglob("*"))
        if "__pycache__" not in p.parts
    }


def wait_for(condition: Callable[[], bool], timeout: float) -> None:
    """Poll ``condition`` until it holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(0.05)


async def _await(awaitable: Any) -> Any:
    return await awaitable


class SuiteBase:
    """The settings an adapter's suite fills in, the fixtures, and the calls the tests make."""

    #: The adapter under test. Typed so that mypy reports a backend class that misses one
    #: of its steps ("Can only assign concrete classes").
    adapter: ClassVar[type[SyncMigrationAdapter[Any]] | type[AsyncMigrationAdapter]]
    #: Which test database the suite runs on: one of :data:`DATABASES`.
    database: ClassVar[str] = "sqlite"
    #: Judges the tests' declared requirements; subclass :class:`Requirements` to change it.
    requirements: ClassVar[type[Requirements]] = Requirements
    #: Whether the suite is for async adapters (set by the two public suites).
    expects_async: ClassVar[bool]

    @staticmethod
    def write_revision(
        directory: Path, revision: str, upgrade: list[str], downgrade: list[str]
    ) -> None:
        """Make ``revision`` run the statements ``upgrade`` / ``downgrade`` (override this)."""
        raise TypeError("a conformance suite must define write_revision")

    @staticmethod
    def remove_revision(directory: Path, revision: str) -> None:
        """Delete ``revision``'s files (override for a layout where they are not the files
        of ``versions/`` named after the revision id)."""
        for path in (Path(directory) / "versions").iterdir():
            if path.name.startswith(revision):
                path.unlink()

    # -- fixtures ---------------------------------------------------------------

    @pytest.fixture(autouse=True)
    def _kit_requirements(self, request: pytest.FixtureRequest) -> None:
        """Skip a test whose declared requirements the adapter or database does not meet."""
        names = required(request.function)
        if not names:
            return
        judge = self.requirements(
            self.adapter, self.database, lambda: str(request.getfixturevalue("url"))
        )
        unmet = judge.unmet(names)
        if unmet:
            pytest.skip("; ".join(requirement.reason for requirement in unmet))

    @pytest.fixture
    def url(self, request: pytest.FixtureRequest) -> str:
        if self.database not in DATABASES:
            raise ValueError(
                f"database must be one of {', '.join(map(repr, DATABASES))}, not {self.database!r}"
            )
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
    def recorder(self) -> Iterator[Recorder]:
        """A recorder that observes every upgrade and downgrade of the test (passed to each
        run as an observer, not registered for the whole process)."""
        recorder = Recorder()
        self._observers = (recorder,)
        yield recorder
        self._observers = ()

    # -- calling the adapter the same way whether it is sync or async ------------

    @property
    def async_adapter(self) -> type[AsyncMigrationAdapter]:
        """The adapter under test, for the async-only tests."""
        assert issubclass(self.adapter, AsyncMigrationAdapter), "not an async adapter"
        return self.adapter

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

    #: The test's observers of every run (the recorder fixture sets them per test instance).
    _observers: tuple[object, ...] = ()

    def upgrade(self, directory: Path, url: str, target: str = "head", **kw: Any) -> Any:
        if self._observers and not kw.get("sql"):
            kw.setdefault("observers", self._observers)
        return self.call("upgrade", target, directory=str(directory), connection_string=url, **kw)

    def downgrade(self, directory: Path, url: str, target: str, **kw: Any) -> Any:
        if self._observers and not kw.get("sql"):
            kw.setdefault("observers", self._observers)
        return self.call("downgrade", target, directory=str(directory), connection_string=url, **kw)

    def stamp(self, directory: Path, url: str, target: str, **kw: Any) -> Any:
        if self._observers:
            kw.setdefault("observers", self._observers)
        return self.call("stamp", target, directory=str(directory), connection_string=url, **kw)

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

    def cli(self, directory: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
        """``pydapter-migrate -b <key> -d <directory> ARGS`` in a process of its own, the URL
        in ``DATABASE_URL`` (never on a command line)."""
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
        }
        key = self.adapter.migration_key
        return subprocess.run(
            [sys.executable, "-m", "pydapter_migrations", "-b", key, "-d", str(directory), *args],
            capture_output=True, text=True, env=env, cwd=Path(directory).parent, timeout=300,
        )  # fmt: skip

    def status_text(self, directory: Path, url: str) -> str:
        """What ``pydapter-migrate status`` prints."""
        result = self.cli(directory, url, "status")
        return result.stdout + result.stderr

    def repair(self, directory: Path, url: str, *, applied: bool) -> None:
        """Record the revision that started and never finished as applied or not (what
        ``pydapter-migrate repair --applied`` / ``--not-applied`` does)."""
        self.call("repair", applied, directory=str(directory), connection_string=url)

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
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
            SPEC_VARIABLE: json.dumps(spec),  # not an argument: ps shows those to all
        }
        return subprocess.Popen(
            [sys.executable, "-m", "pydapter_migrations.testing._worker"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
