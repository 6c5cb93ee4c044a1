"""Crossing between sync and async code without blocking anybody's event loop."""

from __future__ import annotations

import threading
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

# asyncio and concurrent.futures are imported inside the functions: they are a large part
# of the package's import time, and quick commands (``pydapter-migrate --help``) never
# need them.

__all__ = ["run_async", "run_sync"]

P = ParamSpec("P")
T = TypeVar("T")


_workers: ThreadPoolExecutor | None = None
_workers_lock = threading.Lock()


def _migration_workers() -> ThreadPoolExecutor:
    """Threads of our own: migrations waiting on a lock must not use up the
    application's default executor."""
    from concurrent.futures import ThreadPoolExecutor

    global _workers
    with _workers_lock:
        if _workers is None:
            _workers = ThreadPoolExecutor(thread_name_prefix="pydapter-migrations")
        return _workers


async def run_sync(func: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Await a blocking call made on a worker thread; the caller's loop stays free.

    Context variables are copied to the thread, as :func:`asyncio.to_thread` does.
    """
    import asyncio
    import contextvars
    import functools

    call = functools.partial(contextvars.copy_context().run, func, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(_migration_workers(), call)


def run_async(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run the coroutine made by ``factory`` to completion from synchronous code.

    With no loop running in this thread it gets a fresh loop here; otherwise (sync code
    called from a coroutine) it runs on a fresh loop in a helper thread, since a running
    loop cannot be re-entered.
    """
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    with ThreadPoolExecutor(1, thread_name_prefix="pydapter-loop") as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()
