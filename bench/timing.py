"""Interleaved timing: every contender once per repetition in a rotating order, garbage
collected before each timed run, wall-clock and CPU seconds, in this process or of a
whole one.

Each repetition runs every contender once, the first one changing from one repetition to
the next, so that drift on a shared machine hits them all alike. Each contender starts
from the logging state of a fresh process, and its output goes to memory.
"""

from __future__ import annotations

import contextlib
import gc
import io
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import names
from report import CPU_SUFFIX

#: A contender's round: untimed preparation, then timed phases; returns seconds per phase.
Run = Callable[[], dict[str, float]]


def timed(fn: Callable[[], Any]) -> float:
    collect_garbage()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def collect_garbage() -> None:
    """Collect the garbage of earlier runs before a timed one starts.

    A migration run leaves tens of thousands of objects in reference cycles (loaded
    revision modules, SQLAlchemy metadata). Left alone, they are freed by whichever later
    run happens to trigger a full collection, which then pays 0.15-0.25 s for work that
    was not its own: at N=500 that swung a contender's time by a quarter from one
    repetition to the next. Each run still pays for collecting its own garbage.
    """
    gc.collect()


def timed_cpu(fn: Callable[[], Any]) -> tuple[float, float]:
    """Wall-clock and CPU seconds of this process (all threads) spent in ``fn``.

    The CPU time leaves out waiting (for a busy machine's scheduler, for the PostgreSQL
    server), so it isolates the client-side work that differs between contenders."""
    collect_garbage()
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def run_process(
    argv: Sequence[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> tuple[float, float]:
    """Wall-clock and CPU (user + system) seconds of a whole process, which must exit 0.

    CPU time is what the process itself spent; on a busy machine it moves far less than
    the wall clock does."""
    full_env = {**os.environ, **(env or {})}
    start = time.perf_counter()
    proc = subprocess.Popen(
        list(argv), env=full_env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    took = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stderr.close()
    if proc.returncode != 0:
        text = err.decode(errors="replace")[-2000:]
        raise RuntimeError(f"{' '.join(argv[:3])}... exited {proc.returncode}: {text}")
    return took, usage.ru_utime + usage.ru_stime


def wall_and_cpu(question: str, wall_cpu: tuple[float, float]) -> dict[str, float]:
    """A run as two phases: its wall-clock time and its CPU time."""
    return {question: wall_cpu[0], question + CPU_SUFFIX: wall_cpu[1]}


def interleave(
    contenders: dict[str, Run], repeat: int, warmup: int = 1
) -> dict[str, dict[str, list[float]]]:
    """Run every contender once per repetition, rotating who goes first, after ``warmup``
    untimed rounds (imports, bytecode, caches). Returns phase -> contender -> seconds."""
    chosen = [name for name in contenders if names.chosen(name)]
    if not chosen:
        return {}  # --only left none of these
    for _ in range(warmup):
        for name in chosen:
            reset_logging()
            contenders[name]()
    times: dict[str, dict[str, list[float]]] = {}
    for i in range(repeat):
        shift = i % len(chosen)
        for name in chosen[shift:] + chosen[:shift]:
            reset_logging()
            for phase, seconds in contenders[name]().items():
                times.setdefault(phase, {}).setdefault(name, []).append(seconds)
        progress(".")
    progress("\n")
    # Keep the contenders' order (not the rotated one) in the tables.
    return {phase: {n: by[n] for n in chosen if n in by} for phase, by in times.items()}


def progress(text: str) -> None:
    sys.stderr.write(text)
    sys.stderr.flush()


_LOGGING_SNAPSHOT: dict[str, Any] = {}


def reset_logging() -> None:
    """Undo what a previous contender's ``fileConfig`` (Alembic's env.py) did, so that
    each contender starts from the logging state of a fresh process."""
    root = logging.getLogger()
    if not _LOGGING_SNAPSHOT:
        _LOGGING_SNAPSHOT.update(level=root.level, handlers=list(root.handlers))
    root.setLevel(_LOGGING_SNAPSHOT["level"])
    root.handlers[:] = _LOGGING_SNAPSHOT["handlers"]
    for name, logger in list(logging.Logger.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger) and name.startswith(("alembic", "sqlalchemy")):
            logger.setLevel(logging.NOTSET)
            logger.handlers.clear()
            logger.disabled = False
            logger.propagate = True


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Alembic's log lines and yoyo's prints go to memory, not the terminal: the work of
    producing them is measured, the terminal's speed is not."""
    sink = io.StringIO()
    with contextlib.redirect_stderr(sink), contextlib.redirect_stdout(sink):
        yield


def compile_project() -> None:
    """Write the bytecode of the core and both plugins, as installing a wheel does.

    An editable install under ``PYTHONDONTWRITEBYTECODE=1`` (set on some machines) never
    writes it, so every process would recompile our modules from source, a cost that no
    user with an installed package pays and that Alembic's and yoyo's own modules (compiled
    when pip installed them) are spared.
    """
    import compileall
    import importlib.util

    for package in (
        "pydapter_migrations",
        "pydapter_migrations_alembic",
        "pydapter_migrations_yoyo",
    ):
        spec = importlib.util.find_spec(package)
        for location in (spec.submodule_search_locations or []) if spec else []:
            compileall.compile_dir(location, quiet=1)
