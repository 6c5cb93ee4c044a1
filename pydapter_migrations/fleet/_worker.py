"""A fleet's worker process: ``python -m pydapter_migrations.fleet._worker TASKS RESULTS``.

``TASKS`` and ``RESULTS`` are the pipe descriptors the fleet handed over. The first
message gives the caller's ``sys.path`` and the pickled :class:`~._work.Job`; each next one
a target, answered with its progress events and then its result. End of the task pipe
(the fleet finished, or died) ends the worker, once the target in hand is done.
"""

from __future__ import annotations

import contextlib
import logging
import pickle
import sys
from multiprocessing.connection import Connection
from typing import Any

from ..errors import describe
from ._work import Job, run_target
from .results import FAILED, TargetResult


def _quiet() -> None:
    # Results carry the errors; library log lines and warnings stay off the terminal, as
    # the command line keeps them off for a single database.
    logging.captureWarnings(True)
    logging.getLogger().addHandler(logging.NullHandler())


def main(argv: list[str]) -> int:
    tasks = Connection(int(argv[1]), writable=False)
    results = Connection(int(argv[2]), readable=False)
    _quiet()
    try:
        _, path, operation, job_bytes = tasks.recv()
    except (EOFError, OSError):
        return 0
    sys.path[:] = [*path, *(entry for entry in sys.path if entry not in path)]
    try:
        job: Job | str = pickle.loads(job_bytes)
    except Exception as error:
        job = f"a worker process could not load the fleet's adapter: {describe(error)}"
    return serve(tasks, results, job, operation)


def serve(tasks: Connection, results: Connection, job: Job | str, operation: str) -> int:
    """Answer targets from ``tasks`` until its end; ``job`` is the fleet's, or why it could
    not be loaded (each target then fails with that). Also what a forked worker runs."""

    def send(message: Any) -> None:
        try:
            results.send(message)
        except OSError:
            raise SystemExit(0) from None  # the fleet is gone

    while True:
        try:
            message = tasks.recv()
        except (EOFError, OSError):
            return 0
        if message is None:
            return 0
        _, index, name, url, lock_timeout, skip_locked = message
        if isinstance(job, str):
            send(("done", index, TargetResult(name, str(url), operation, FAILED, error=job)))
            continue

        def emit(kind: str, payload: Any, index: int = index) -> None:
            # Progress is best effort; the result says the rest.
            with contextlib.suppress(OSError):
                results.send(("event", index, kind, payload))

        result = run_target(
            job, name, url, lock_timeout=lock_timeout, skip_locked=skip_locked, emit=emit
        )
        send(("done", index, result))


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group: the fleet reports
        sys.exit(130)
