"""Counting instructions instead of seconds: a command under valgrind's callgrind that
counts only inside ``operator.call``, so that only the phases run through :func:`counted`
are counted, each in a count of its own.

The same work gives the same count whatever else the machine does, to within a few
percent. What a count leaves out: waiting (disk, scheduler) and the work of any other
process (a PostgreSQL server).
"""

from __future__ import annotations

import operator
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from timing import collect_garbage

#: Callgrind counts only inside this C function, and writes a count each time it returns:
#: the measured phase runs as ``operator.call(phase)``.
_MARK = "_operator_call"


def require_valgrind() -> None:
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")


def counted(phase: Callable[[], Any]) -> None:
    """Run ``phase`` counted (in a process started by :func:`count`)."""
    collect_garbage()  # as the timed bench does, outside the counted phase
    operator.call(phase)


def count(argv: Sequence[str], out: Path, env: dict[str, str], what: str) -> tuple[list[int], int]:
    """Run ``argv`` under callgrind, its counts written next to ``out``. Returns the
    instructions of each :func:`counted` phase, in order, and those counted outside them
    (none, unless something else calls ``operator.call``). ``what`` names the run in the
    error raised when the process fails."""
    command = [
        "valgrind",
        "--tool=callgrind",
        "--quiet",
        f"--callgrind-out-file={out}",
        "--collect-atstart=no",
        f"--toggle-collect={_MARK}",
        f"--dump-after={_MARK}",
        *argv,
    ]
    proc = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if proc.returncode != 0:
        tail = proc.stderr.decode(errors="replace")[-3000:]
        raise RuntimeError(f"{what} failed:\n{tail}")
    dumps = sorted(out.parent.glob(out.name + ".*"), key=lambda d: int(d.suffix[1:]))
    return [_totals(d) for d in dumps], _totals(out)


def _totals(dump: Path) -> int:
    for line in dump.read_text().splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {dump}")
