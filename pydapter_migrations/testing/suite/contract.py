"""The contract's surface: the adapter declares the protocol, resolves by its key, and can
be called from a process of its own."""

from __future__ import annotations

import inspect
from pathlib import Path
from urllib.parse import quote

from ... import AsyncMigrationProtocol, MigrationProtocol, get_adapter
from ...urls import DatabaseURL
from ._support import SuiteBase

__all__ = ["ContractSuite"]


class ContractSuite(SuiteBase):
    """What an adapter declares, and calling it from a separate process."""

    def test_adapter_declares_the_protocol(self) -> None:
        assert self.adapter.is_async == self.expects_async, (
            "use BaseAsyncMigrationSuite for async adapters and BaseMigrationSuite for sync ones"
        )
        protocol = AsyncMigrationProtocol if self.adapter.is_async else MigrationProtocol
        assert isinstance(self.adapter, protocol)
        key = self.adapter.migration_key
        assert isinstance(key, str) and key
        assert get_adapter(key) is self.adapter, f"{key!r} must resolve to the adapter class"
        for method in ("init_migrations", "create_migration", "upgrade", "downgrade", "stamp",
                       "get_current_revision", "get_migration_history", "verify"):  # fmt: skip
            is_coroutine = inspect.iscoroutinefunction(getattr(self.adapter, method))
            assert is_coroutine == self.adapter.is_async, method
        assert self.adapter.capabilities() <= {"autogenerate", "sql", "async"}

    def test_calls_from_separate_processes(self, directory: Path, url: str) -> None:
        revisions = self.chain(directory, url, 2)
        proc = self.worker("upgrade", "head", directory=str(directory), connection_string=url)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert self.current(directory, url) == revisions[-1]
        # The URL travels in the environment: a command line is every user's to read (ps).
        password = DatabaseURL.parse(url).password
        command_line = str(proc.args)
        assert not password or all(
            form not in command_line for form in (password, quote(password, safe=""))
        )
