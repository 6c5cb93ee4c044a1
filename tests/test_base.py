"""The base classes: the original documentation's custom adapter, init rollback, the async twin."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, ClassVar

import pytest

from pydapter_migrations import (
    AsyncMigrationProtocol,
    MigrationError,
    MigrationInitError,
    MigrationProtocol,
    MigrationUpgradeError,
    get_adapter,
    register_adapter,
)
from pydapter_migrations.testing.reference import (
    AsyncReferenceAdapter,
    ReferenceAdapter,
    write_reference_revision,
)


def test_the_original_docs_custom_adapter_works_as_written() -> None:
    # The "Extending the Migrations Framework" example, with our import name.
    from typing import Dict, List, Optional  # noqa: UP035

    from pydapter_migrations.base import SyncMigrationAdapter

    class CustomDatabaseAdapter(SyncMigrationAdapter):
        """Custom migration adapter for a specific database system."""

        migration_key: ClassVar[str] = "custom_db"

        @classmethod
        def init_migrations(cls, directory: str, **kwargs) -> None:  # type: ignore[no-untyped-def,override]
            calls.append(("init", directory))

        @classmethod
        def create_migration(cls, message: str, autogenerate: bool = True, **kwargs) -> str:  # type: ignore[no-untyped-def,override]
            calls.append(("create", message))
            return "0001"

        @classmethod
        def upgrade(cls, revision: str = "head", **kwargs) -> None:  # type: ignore[no-untyped-def,override]
            calls.append(("upgrade", revision))

        @classmethod
        def downgrade(cls, revision: str, **kwargs) -> None:  # type: ignore[no-untyped-def,override]
            calls.append(("downgrade", revision))

        @classmethod
        def get_current_revision(cls, **kwargs) -> Optional[str]:  # type: ignore[no-untyped-def,override]  # noqa: UP045
            return "0001"

        @classmethod
        def get_migration_history(cls, **kwargs) -> List[Dict[str, Any]]:  # type: ignore[no-untyped-def,override]  # noqa: UP006
            return [{"revision": "0001", "description": "first", "down_revision": None,
                     "applied": True}]  # fmt: skip

    calls: list[tuple[str, str]] = []
    register_adapter(CustomDatabaseAdapter, replace=True)
    adapter = get_adapter("custom_db")
    assert adapter is CustomDatabaseAdapter
    assert isinstance(adapter, MigrationProtocol)
    adapter.init_migrations(directory="migrations")
    assert adapter.create_migration(message="m", directory="migrations") == "0001"
    adapter.upgrade(revision="head", directory="migrations", connection_string="sqlite://")
    adapter.downgrade(revision="base", directory="migrations", connection_string="sqlite://")
    assert adapter.get_current_revision() == "0001"
    assert adapter.get_migration_history()[0]["revision"] == "0001"
    assert calls == [("init", "migrations"), ("create", "m"), ("upgrade", "head"),
                     ("downgrade", "base")]  # fmt: skip
    # Methods added since, which it does not implement, say so.
    with pytest.raises(MigrationError, match="does not offer verify"):
        adapter.verify(directory="migrations", connection_string="sqlite://")


class _FailingInit(ReferenceAdapter):
    migration_key: ClassVar[str] = "failing_init"

    @classmethod
    def _init(cls, directory: Path, **kwargs: Any) -> None:
        (directory / "versions").mkdir()
        (directory / "half-written.txt").write_text("x")
        raise OSError("disk full")


@pytest.mark.parametrize("exists", [False, True])
def test_a_failed_init_leaves_the_directory_as_it_was(tmp_path: Path, exists: bool) -> None:
    target = tmp_path / "nested" / "migrations" if not exists else tmp_path / "empty"
    if exists:
        target.mkdir()
    with pytest.raises(MigrationInitError) as info:
        _FailingInit.init_migrations(str(target))
    assert "disk full" in str(info.value) and isinstance(info.value.__cause__, OSError)
    assert info.value.adapter == "failing_init"
    if exists:
        assert list(target.iterdir()) == []
    else:
        assert not target.exists()


def test_the_async_twin_runs_under_its_own_key(tmp_path: Path, sqlite_url: str) -> None:
    assert isinstance(AsyncReferenceAdapter, AsyncMigrationProtocol)
    assert AsyncReferenceAdapter.capabilities() == {"sql", "async"}
    assert ReferenceAdapter.capabilities() == {"sql"}
    directory = str(tmp_path / "m")

    async def scenario() -> str | None:
        await AsyncReferenceAdapter.init_migrations(directory)
        revision = await AsyncReferenceAdapter.create_migration("one", directory=directory)
        write_reference_revision(Path(directory), revision, ["SELECT * FROM nowhere"], [])
        with pytest.raises(MigrationUpgradeError) as info:
            await AsyncReferenceAdapter.upgrade(directory=directory, connection_string=sqlite_url)
        assert info.value.adapter == "async_reference"
        assert info.value.revision == revision
        return await AsyncReferenceAdapter.get_current_revision(
            directory=directory, connection_string=sqlite_url
        )

    assert asyncio.run(scenario()) is None


def test_an_unsupported_database_is_refused(tmp_path: Path) -> None:
    class SQLiteOnly(ReferenceAdapter):
        migration_key: ClassVar[str] = "sqlite_only"
        supported_databases = frozenset({"sqlite"})

    SQLiteOnly.init_migrations(str(tmp_path / "m"))
    with pytest.raises(MigrationError, match="does not support postgresql"):
        SQLiteOnly.get_current_revision(
            directory=str(tmp_path / "m"), connection_string="postgresql://u:pw@h/db"
        )


def test_a_subclass_without_steps_fails_when_created() -> None:
    from pydapter_migrations import SyncMigrationAdapter

    with pytest.raises(TypeError, match="must implement _is_initialised, _init, _create"):

        class Bare(SyncMigrationAdapter):  # type: ignore[type-arg]
            migration_key: ClassVar[str] = "bare"

    with pytest.raises(TypeError, match="must implement _render_sql"):

        class NoSQL(ReferenceAdapter):
            migration_key: ClassVar[str] = "no_sql"
            supports_sql: ClassVar[bool] = True
            _render_sql = SyncMigrationAdapter._render_sql  # type: ignore[assignment]

    class Abstract(SyncMigrationAdapter):  # type: ignore[type-arg]
        """No key: a base for backends, checked in its subclasses."""


def test_unknown_keywords_are_refused_before_anything_is_touched(tmp_path: Path) -> None:
    directory = tmp_path / "m"
    calls = [
        ("init_migrations", (str(directory),), {"model_module": "x"}),
        ("create_migration", ("one",), {"directory": str(directory), "autogen": True}),
        ("upgrade", (), {"directory": str(directory), "connection_string": "sqlite://",
                         "dry_run": True}),
        ("downgrade", ("base",), {"directory": str(directory), "connection_string": "sqlite://",
                                  "dry_run": True}),
        ("get_current_revision", (), {"directory": str(directory), "connection_string": "x",
                                      "verbose": 1}),
        ("get_migration_history", (), {"directory": str(directory), "revison": "x"}),
    ]  # fmt: skip
    for method, args, kwargs in calls:
        unknown = next(k for k in kwargs if k not in ("directory", "connection_string"))
        with pytest.raises(TypeError, match=f"ReferenceAdapter.{method}.*'{unknown}'"):
            getattr(ReferenceAdapter, method)(*args, **kwargs)

        async def call_async(
            method: str = method, args: tuple[Any, ...] = args, kwargs: dict[str, Any] = kwargs
        ) -> Any:
            return await getattr(AsyncReferenceAdapter, method)(*args, **kwargs)

        with pytest.raises(TypeError, match=f"{unknown}"):
            asyncio.run(call_async())
    assert not directory.exists()


def test_async_calls_run_on_threads_of_their_own(tmp_path: Path) -> None:
    """Migrations waiting on a lock must not use up the application's default executor."""
    import threading

    seen: list[str] = []

    class Spy(ReferenceAdapter):
        migration_key: ClassVar[str] = "spy"

        @classmethod
        def _is_initialised(cls, directory: Path) -> bool:
            seen.append(threading.current_thread().name)
            return super()._is_initialised(directory)

    class AsyncSpy(AsyncReferenceAdapter):
        migration_key: ClassVar[str] = "async_spy"
        sync_adapter = Spy

    directory = str(tmp_path / "m")
    Spy.init_migrations(directory)

    async def scenario() -> None:
        await AsyncSpy.get_migration_history(directory=directory)

    asyncio.run(scenario())
    assert seen and seen[0].startswith("pydapter-migrations")


def test_a_run_that_migrated_another_database_is_not_reported_as_done(
    tmp_path: Path, sqlite_url: str
) -> None:
    """The core reads the target's version state after every run: a backend (an env.py,
    say) that migrated some other database cannot report success."""
    other = f"sqlite:///{tmp_path / 'other.db'}"

    class Misdirected(ReferenceAdapter):
        migration_key: ClassVar[str] = "misdirected"
        misdirected_hint: ClassVar[str] = "make it use the URL it is given"

        @classmethod
        def _apply(cls, run: Any, plan: Any) -> None:
            ReferenceAdapter.upgrade(directory=run.directory, connection_string=other)
            for revision in plan.revisions:
                run.revision_done(revision)

    directory = str(tmp_path / "m")
    Misdirected.init_migrations(directory)
    revision = Misdirected.create_migration("one", directory=directory)
    write_reference_revision(Path(directory), revision, ["CREATE TABLE t (id integer)"], [])
    with pytest.raises(MigrationUpgradeError) as info:
        Misdirected.upgrade(directory=directory, connection_string=sqlite_url)
    assert "does not record" in str(info.value) and "make it use the URL" in str(info.value)
    assert info.value.revision == revision
    assert (
        Misdirected.get_current_revision(directory=directory, connection_string=sqlite_url) is None
    )
    assert (
        ReferenceAdapter.get_current_revision(directory=directory, connection_string=other)
        == revision
    )
