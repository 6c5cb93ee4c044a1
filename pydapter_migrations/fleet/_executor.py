"""Running one :class:`~._work.Job` over many targets with N workers.

Workers are processes by default: Alembic's ``command`` functions and ``context`` proxy
are module-global state, so one process migrates one database at a time. A worker
process takes one target at a time over a pipe and answers with its progress and its
result; it exits when its pipe closes, so a fleet killed mid-way leaves no worker behind
once the targets in flight are done. By default the fleet reads the directory's history
in the calling process and then forks the workers (on POSIX, while no other thread
runs), so they start with the backend imported; otherwise, and for ``workers="process"``, each is
a fresh interpreter (``python -m pydapter_migrations.fleet._worker``) that never
re-imports the caller's ``__main__``. Threads are used where the adapter declares
``thread_safe = True`` (or when asked), and ``parallel=1`` runs in the calling thread.

Scheduling is the same for all three: each idle worker takes the next target; with
``skip_locked`` a target whose lock another runner holds is put last and tried again,
waiting for the lock this time, once every other target has been started (and each
runner starts at a random place in the list, so runners started together spread out); with
``fail_fast`` the first failure stops the start of new targets (those in flight finish).
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import queue
import random
import signal
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from typing import Any

from ..urls import DatabaseURL
from ._work import Job, run_target
from .results import FAILED, LOCKED, NOT_RUN, WORKER_KINDS, FleetEvent, TargetResult
from .targets import Target

__all__ = ["WORKER_KINDS", "execute"]

#: How the workers run: ``auto`` (this thread for one worker, else threads when the
#: adapter is ``thread_safe``, else processes), ``process``, ``thread``, ``inline``.
#: Worker processes that die before finishing any target, in a row, before the fleet
#: stops starting new ones.
_MAX_START_FAILURES = 3
_WORKER_MODULE = "pydapter_migrations.fleet._worker"

Progress = Callable[[FleetEvent], None]


@dataclass(frozen=True)
class _Task:
    index: int
    target: Target
    lock_timeout: float | None
    #: First attempt under skip_locked: try the lock once.
    skip_locked: bool
    #: A second attempt, after another runner held the lock.
    waited: bool = False


class _Schedule:
    """Which target runs next, and what became of each."""

    def __init__(
        self,
        job: Job,
        targets: Sequence[Target],
        *,
        skip_locked: bool,
        fail_fast: bool,
        lock_timeout: float | None,
    ) -> None:
        self.job = job
        self.targets = targets
        self.skip_locked = skip_locked
        self.fail_fast = fail_fast
        self.lock_timeout = lock_timeout
        self.queue: deque[int] = deque(range(len(targets)))
        if skip_locked and targets:
            # Runners started together each begin at a place of their own in the list,
            # rather than all queueing behind the first target's lock.
            self.queue.rotate(random.randrange(len(targets)))
        self.later: deque[int] = deque()
        self.results: dict[int, TargetResult] = {}
        #: Why no more targets start (fail_fast, or workers that cannot start).
        self.stopped: str | None = None
        self.aborted = False

    def next(self) -> _Task | None:
        if self.stopped is not None:
            return None
        if self.queue:
            index = self.queue.popleft()
            skip = self.skip_locked and self.job.operation in ("upgrade", "downgrade")
            return _Task(index, self.targets[index], self.lock_timeout, skip)
        if self.later:
            index = self.later.popleft()
            return _Task(index, self.targets[index], self.lock_timeout, False, waited=True)
        return None

    def record(self, task: _Task, result: TargetResult) -> TargetResult | None:
        """Record ``result``; ``None`` when the target was put last (its lock was held)."""
        if result.status == LOCKED:
            self.later.append(task.index)
            return None
        if task.waited:
            result = replace(result, waited=True)
        self.results[task.index] = result
        if self.fail_fast and not result.ok and self.stopped is None:
            self.stopped = f"not run: fail_fast stopped the fleet after {task.target.name} failed"
        return result

    @property
    def more(self) -> bool:
        """Whether targets are left to start."""
        return self.stopped is None and bool(self.queue or self.later)

    def abort(self, reason: str) -> None:
        """Start no more targets: those left fail with ``reason``."""
        self.stopped = reason
        self.aborted = True

    def finish(self) -> list[TargetResult]:
        """Every target's result, in order; those never run say why."""
        reason = self.stopped or "not run"
        results = []
        for index, target in enumerate(self.targets):
            result = self.results.get(index)
            if result is None:
                result = TargetResult(
                    target.name,
                    str(target.url),
                    self.job.operation,
                    FAILED if self.aborted else NOT_RUN,
                    error=reason,
                )
            results.append(result)
        return results


def _failure(task: _Task, operation: str, message: str) -> TargetResult:
    return TargetResult(
        task.target.name,
        str(task.target.url),
        operation,
        FAILED,
        error=message,
        error_type="WorkerDied",
    )


def choose_workers(workers: str, adapter: type[Any], parallel: int, count: int) -> str:
    """The worker kind ``workers`` means for this adapter and fleet."""
    if workers not in WORKER_KINDS:
        raise ValueError(f"workers must be one of {', '.join(WORKER_KINDS)}, not {workers!r}")
    if workers != "auto":
        return workers
    if parallel <= 1 or count <= 1:
        return "inline"
    return "thread" if getattr(adapter, "thread_safe", False) is True else "process"


def execute(
    job: Job,
    targets: Sequence[Target],
    *,
    parallel: int,
    workers: str,
    skip_locked: bool,
    fail_fast: bool,
    lock_timeout: float | None,
    progress: Progress | None,
) -> tuple[list[TargetResult], str]:
    """Run ``job`` on every target; the results in order, and the worker kind used."""
    schedule = _Schedule(
        job, targets, skip_locked=skip_locked, fail_fast=fail_fast, lock_timeout=lock_timeout
    )
    kind = choose_workers(workers, job.adapter, parallel, len(targets))
    if not targets:
        return [], kind

    def notify(kind: str, index: int, payload: Any = None) -> None:
        if progress is None:
            return
        name = targets[index].name
        if kind == "planned":
            progress(FleetEvent(kind, index, name, total=int(payload)))
        elif kind == "revision":
            progress(FleetEvent(kind, index, name, revision=str(payload)))
        elif kind == "finished":
            progress(FleetEvent(kind, index, name, result=payload))
        else:
            progress(FleetEvent(kind, index, name))

    if kind == "inline":
        _run_inline(schedule, notify)
    else:
        if kind == "process":
            _check_importable(job)
        size = max(1, min(parallel, len(targets)))
        _run_pool(schedule, notify, kind, size, warm=workers == "auto")
    return schedule.finish(), kind


Notify = Callable[..., None]


def _settle(schedule: _Schedule, task: _Task, result: TargetResult, notify: Notify) -> None:
    recorded = schedule.record(task, result)
    if recorded is None:
        notify("waiting", task.index)
    else:
        notify("finished", task.index, recorded)


def _work(task: _Task, job: Job, emit: Callable[[str, Any], None]) -> TargetResult:
    return run_target(
        job,
        task.target.name,
        task.target.url,
        lock_timeout=task.lock_timeout,
        skip_locked=task.skip_locked,
        emit=emit,
    )


def _run_inline(schedule: _Schedule, notify: Notify) -> None:
    while (task := schedule.next()) is not None:
        notify("started", task.index)

        def emit(kind: str, payload: Any, index: int = task.index) -> None:
            notify(kind, index, payload)

        _settle(schedule, task, _work(task, schedule.job, emit), notify)


def _warm_up(job: Job) -> None:
    """Read the migration directory's history here, before forking the workers: the
    backend and the revisions it loads are then imported once, by this process, rather
    than by each worker (for Alembic, most of what a process costs). It touches no
    database; a failure is left for the targets to report."""
    from ._work import call

    with contextlib.suppress(Exception):
        call(job.adapter, "get_migration_history", directory=job.directory)


def _run_pool(schedule: _Schedule, notify: Notify, kind: str, size: int, warm: bool) -> None:
    """Run the schedule on ``size`` workers of ``kind``. ``warm``: fork the worker
    processes from this one, once it has read the directory (see :func:`_warm_up`)."""
    forking = warm and kind == "process" and can_fork()
    if forking:
        _warm_up(schedule.job)
        forking = can_fork()  # an async adapter's read leaves its threads behind
    outbox: queue.Queue[tuple[Any, ...]] = queue.Queue()
    workers: dict[int, _ThreadWorker | _ProcessWorker] = {}
    inherited: list[int] = []
    serial = 0
    start_failures = 0

    def spawn(fork: bool = False) -> None:
        nonlocal serial
        worker: _ThreadWorker | _ProcessWorker
        if kind == "process":
            process = _ProcessWorker(serial, schedule.job, outbox, fork=fork, inherited=inherited)
            if not fork:
                process.listen()
            worker = process
        else:
            worker = _ThreadWorker(serial, schedule.job, outbox)
        workers[serial] = worker
        serial += 1

    aborted = True
    try:
        if forking:
            # What the workers inherit stays out of their collections: a collection
            # would write to every inherited object, copying the pages they share.
            gc.freeze()
        try:
            for _ in range(size):
                spawn(fork=forking)
        finally:
            if forking:
                gc.unfreeze()
        for started in workers.values():
            if isinstance(started, _ProcessWorker):
                started.listen()
        while True:
            for idle in list(workers.values()):
                if idle.task is None:
                    task = schedule.next()
                    if task is None:
                        break
                    notify("started", task.index)
                    idle.start(task)
            if not any(busy.task is not None for busy in workers.values()):
                break
            message = outbox.get()
            what, serial_of = message[0], message[1]
            worker = workers.get(serial_of)
            if worker is None:
                continue  # a worker already replaced
            if what == "event":
                notify(message[3], message[2], message[4])
            elif what == "done":
                task = worker.task
                worker.task = None
                worker.finished += 1
                start_failures = 0
                if task is not None and task.index == message[2]:
                    _settle(schedule, task, message[3], notify)
            elif what == "died":
                del workers[serial_of]
                code = message[2]
                how = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
                if worker.task is not None:
                    result = _failure(
                        worker.task,
                        schedule.job.operation,
                        f"the worker process migrating it died ({how}); run the fleet again "
                        "to finish it",
                    )
                    _settle(schedule, worker.task, result, notify)
                if worker.finished == 0:
                    start_failures += 1
                    if start_failures >= _MAX_START_FAILURES:
                        schedule.abort(
                            f"not run: {start_failures} worker processes in a row died before "
                            f"finishing a target ({how}); see the error output above"
                        )
                if schedule.more:
                    spawn()
        aborted = False
    finally:
        for worker in workers.values():
            worker.close(abort=aborted)


def _check_importable(job: Job) -> None:
    adapter = job.adapter
    if adapter.__module__ == "__main__" or "<locals>" in adapter.__qualname__:
        raise TypeError(
            f"worker processes import the adapter {adapter.__qualname__} by its module, and "
            "it is defined in __main__ or inside a function; define it in a module, or pass "
            "workers='thread' (or parallel=1)"
        )
    try:
        pickle.dumps(job)
    except Exception as error:
        raise TypeError(
            f"the fleet's settings cannot be sent to a worker process: {error}"
        ) from None


# -- workers ---------------------------------------------------------------------


class _ThreadWorker:
    """A thread of this process taking one target at a time."""

    def __init__(self, serial: int, job: Job, outbox: queue.Queue[tuple[Any, ...]]) -> None:
        self.serial = serial
        self.job = job
        self.outbox = outbox
        self.task: _Task | None = None
        self.finished = 0
        self._inbox: queue.Queue[_Task | None] = queue.Queue()
        self._thread = threading.Thread(
            target=self._loop, name=f"pydapter-fleet-{serial}", daemon=True
        )
        self._thread.start()

    def _loop(self) -> None:
        while (task := self._inbox.get()) is not None:

            def emit(kind: str, payload: Any, index: int = task.index) -> None:
                self.outbox.put(("event", self.serial, index, kind, payload))

            try:
                result = _work(task, self.job, emit)
            except BaseException as error:  # an interrupt: say so, and stop
                result = _failure(task, self.job.operation, f"interrupted: {error!r}")
                self.outbox.put(("done", self.serial, task.index, result))
                raise
            self.outbox.put(("done", self.serial, task.index, result))

    def start(self, task: _Task) -> None:
        self.task = task
        self._inbox.put(task)

    def close(self, *, abort: bool) -> None:
        self._inbox.put(None)
        if not abort:
            self._thread.join()


class _ProcessWorker:
    """A worker process taking one target at a time over a pipe; a thread of ours
    (:meth:`listen`) reads its answers into the outbox.

    Started either as a fresh interpreter (``python -m pydapter_migrations.fleet._worker``)
    or, with ``fork``, as a fork of this process once it has run a target itself: the
    worker then starts with the backend already imported (for Alembic, most of a
    process's start-up). ``inherited`` collects the pipe ends of the workers forked so far,
    which a forked worker closes: each pipe has one writer, so a worker sees the end of
    its pipe when this process goes away.
    """

    def __init__(
        self,
        serial: int,
        job: Job,
        outbox: queue.Queue[tuple[Any, ...]],
        *,
        fork: bool = False,
        inherited: list[int] | None = None,
    ) -> None:
        self.serial = serial
        self.outbox = outbox
        self.task: _Task | None = None
        self.finished = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._code: int | None = None
        self._reader: threading.Thread | None = None
        task_read, task_write = os.pipe()
        result_read, result_write = os.pipe()
        try:
            if fork:
                self.pid = _fork(
                    job, task_read, result_write, [task_write, result_read, *(inherited or [])]
                )
            else:
                self.process = subprocess.Popen(
                    [sys.executable, "-m", _WORKER_MODULE, str(task_read), str(result_write)],
                    pass_fds=(task_read, result_write),
                    stdin=subprocess.DEVNULL,
                    # What a migration prints must not mix with the caller's output (--json).
                    stdout=2,
                )
                self.pid = self.process.pid
        finally:
            os.close(task_read)
            os.close(result_write)
        if inherited is not None:
            inherited += [task_write, result_read]
        self._tasks = Connection(task_write, readable=False)
        self._results = Connection(result_read, writable=False)
        if not fork:
            self._send(("init", list(sys.path), job.operation, pickle.dumps(job)))

    def listen(self) -> None:
        """Start reading the worker's answers (after every fork: no thread may run
        while this process forks)."""
        if self._reader is None:
            self._reader = threading.Thread(
                target=self._read, name=f"pydapter-fleet-reader-{self.serial}", daemon=True
            )
            self._reader.start()

    def _send(self, message: Any) -> None:
        # A worker that died is noticed by the reader, which fails its target.
        with contextlib.suppress(OSError):
            self._tasks.send(message)

    def _read(self) -> None:
        while True:
            try:
                message = self._results.recv()
            except Exception:  # closed (the worker died), or a message it could not send
                break
            self.outbox.put((message[0], self.serial, *message[1:]))
        self.outbox.put(("died", self.serial, self._wait()))

    def _wait(self) -> int:
        """The worker's exit status, once it has exited."""
        if self._code is None:
            if self.process is not None:
                self._code = self.process.wait()
            else:
                _, status = os.waitpid(self.pid, 0)
                self._code = os.waitstatus_to_exitcode(status)
        return self._code

    def start(self, task: _Task) -> None:
        self.task = task
        url: DatabaseURL = task.target.url
        self._send(("task", task.index, task.target.name, url, task.lock_timeout, task.skip_locked))

    def close(self, *, abort: bool) -> None:
        self._send(None)
        with contextlib.suppress(OSError):
            self._tasks.close()
        if abort:
            # The caller is going away (an interrupt, an error): a revision cut short rolls
            # back, and its lock goes with the process.
            with contextlib.suppress(OSError):
                os.kill(self.pid, signal.SIGTERM)
        self.listen()  # its reader reaps it
        assert self._reader is not None
        self._reader.join(timeout=10 if abort else None)
        if self._reader.is_alive():
            with contextlib.suppress(OSError):
                os.kill(self.pid, signal.SIGKILL)
            self._reader.join(timeout=10)
        with contextlib.suppress(OSError):
            self._results.close()


def can_fork() -> bool:
    """Whether this process may fork workers: POSIX, and no other thread running (a
    thread holding a lock while the process forks would leave it held in the child)."""
    return hasattr(os, "fork") and threading.active_count() == 1


def _fork(job: Job, task_read: int, result_write: int, close: list[int]) -> int:
    """Fork a worker serving ``job`` on the given pipe ends; its pid."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()  # or the child would write the buffered text again
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        for fd in close:
            with contextlib.suppress(OSError):
                os.close(fd)
        # What a migration prints must not mix with the caller's output (--json).
        os.dup2(2, 1)
        from ._worker import serve

        tasks = Connection(task_read, writable=False)
        code = serve(tasks, Connection(result_write, readable=False), job, job.operation)
    except KeyboardInterrupt:
        code = 130
    except SystemExit as exit:
        code = exit.code if isinstance(exit.code, int) else 1
    except BaseException:
        import traceback

        with contextlib.suppress(Exception):
            traceback.print_exc()
    finally:
        os._exit(code)
