"""Async adapters only: a migration leaves the event loop free, and concurrent tasks in
one loop do not get in each other's way."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from ..requirements import requires
from ._database import KitDatabase
from ._support import SuiteBase

__all__ = ["AsyncSuite"]


class AsyncSuite(SuiteBase):
    """Calls awaited inside one running event loop."""

    @requires("async_adapter")
    def test_event_loop_stays_free_during_upgrade(
        self, directory: Path, url: str, db: KitDatabase
    ) -> None:
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
            await self.async_adapter.upgrade(
                "head", directory=str(directory), connection_string=url
            )
            took = time.monotonic() - started
            stop.set()
            await task
            return ticks, took

        ticks, took = asyncio.run(scenario())
        assert self.current(directory, url) == revision
        # A loop blocked by the migration would tick once or twice; a free one ~100 times a
        # second, fewer while the worker thread holds the GIL (importing, compiling scripts).
        assert ticks >= took * 10, (ticks, took)

    @requires("async_adapter")
    def test_concurrent_tasks_in_one_loop(self, tmp_path: Path, url: str, db: KitDatabase) -> None:
        first, second = tmp_path / "first", tmp_path / "second"
        r_first = self.chain(first, url, 2)
        self.init(second, url)
        r_second = [self.new(second, url, "other", ["CREATE TABLE kit_other (id integer)"],
                             ["DROP TABLE kit_other"])]  # fmt: skip

        async def together() -> list[Any]:
            return list(
                await asyncio.gather(
                    self.async_adapter.upgrade("head", directory=str(first), connection_string=url),
                    self.async_adapter.get_migration_history(directory=str(second)),
                    self.async_adapter.get_migration_history(directory=str(first)),
                    self.async_adapter.create_migration("third", directory=str(second)),
                )
            )

        _, history_second, history_first, r_third = asyncio.run(together())
        assert self.current(first, url) == r_first[-1]
        # The history of `second` ran concurrently with the create: either state is right.
        assert [h["revision"] for h in history_second] in (r_second, [*r_second, r_third])
        assert [h["revision"] for h in history_first] == r_first
        history = self.history(second, None)
        assert [h["revision"] for h in history] == [*r_second, r_third]
