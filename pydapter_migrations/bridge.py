"""Crossing between sync and async code without blocking anybody's event loop."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

# asyncio is imported inside the functions: it is a third of the package's import time,
# and quick commands (``pydapter-migrate --help``) never need it.

__all__ = ["run_async", "run_sync"]

P = ParamSpec("P")
T = TypeVar("T")


async def run_sync(func: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Await a blocking call made on a worker thread; the caller's loop stays free.

    Context variables are copied to the thread, as :func:`asyncio.to_thread` does.
    """
    import asyncio

    return await asyncio.to_thread(func, *args, **kwargs)


def run_async(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run the coroutine made by ``factory`` to completion from synchronous code.

    With no loop running in this thread it gets a fresh loop here; otherwise (sync code
    called from a coroutine) it runs on a fresh loop in a helper thread, since a running
    loop cannot be re-entered.
    """
    import asyncio
    import concurrent.futures

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="pydapter-loop") as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()
