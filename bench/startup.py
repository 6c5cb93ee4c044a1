"""Process start: ``pydapter-migrate --help`` / ``backends`` vs ``alembic --help``,
``yoyo --help`` and ``python -c pass``.

Targets: ``pydapter-migrate --help`` and ``backends`` <= 100 ms median, and neither
imports a backend (alembic, sqlalchemy, yoyo), checked in a separate run.

    python bench/startup.py [--repeat 10]
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

QUESTION = "process start"
PYTHON = "python -c pass"
NO_SITE = "python -S -c pass (no site)"
HELP = "pydapter-migrate --help"
BACKENDS = "pydapter-migrate backends"
#: The libraries the command line is built on, imported and nothing else: what `backends`
#: cannot do without on this interpreter (click for the CLI, importlib.metadata for the
#: entry points, pluggy for hook plugins).
LIBRARIES = "import click+metadata+pluggy"


def contenders(cwd: Path) -> dict[str, c.Run]:
    def one(argv: list[str]) -> c.Run:
        return lambda: c.wall_and_cpu(QUESTION, c.run_process(argv, cwd=cwd))

    pydm = c.script("pydapter-migrate")
    return {
        PYTHON: one([sys.executable, "-c", "pass"]),
        # What this interpreter's site-packages .pth files add to every start above.
        NO_SITE: one([sys.executable, "-S", "-c", "pass"]),
        LIBRARIES: one([sys.executable, "-c", "import click, importlib.metadata, pluggy"]),
        HELP: one([pydm, "--help"]),
        BACKENDS: one([pydm, "backends"]),
        "alembic --help": one([c.script("alembic"), "--help"]),
        "yoyo --help": one([c.script("yoyo"), "--help"]),
    }


def measure(repeat: int) -> c.Report:
    report = c.Report(
        targets=[
            c.Target(QUESTION, "-", 0, HELP, None, 0.1),
            c.Target(QUESTION, "-", 0, BACKENDS, None, 0.1),
        ]
    )
    with c.scratch_dir("pydm-bench-start-") as cwd:
        c.progress("process start: ")
        times = c.interleave(contenders(cwd), repeat, warmup=1)
    for question, by_contender in times.items():
        report.add(question, "-", 0, by_contender)
    # What this project adds to an interpreter start, whatever that start costs here (the
    # site-packages .pth files of a machine can make `python -c pass` alone 50 ms or more).
    floor = statistics.median(times[QUESTION][PYTHON]) if PYTHON in times[QUESTION] else None
    for name in (HELP, BACKENDS):
        if floor is not None and name in times[QUESTION]:
            over = statistics.median(times[QUESTION][name]) - floor
            report.checks[f"{name} over `{PYTHON}`"] = f"{over * 1000:.0f} ms"
    if LIBRARIES in times[QUESTION] and BACKENDS in times[QUESTION]:
        own = statistics.median(times[QUESTION][BACKENDS]) - statistics.median(
            times[QUESTION][LIBRARIES]
        )
        report.checks[f"{BACKENDS} over importing its libraries"] = f"{own * 1000:.0f} ms"
    for args, name in ((["--help"], HELP), (["backends"], BACKENDS)):
        imported = c.backend_imports(args)
        report.checks[f"{name} imports no backend"] = (
            "yes" if not imported else f"NO: imports {', '.join(imported)}"
        )
        if imported:
            for t in report.targets:
                if t.contender == name:
                    t.extra = f"but imports {', '.join(imported)}"
    return report


def main() -> None:
    args = c.parser(__doc__.splitlines()[0], "0", 10).parse_args()
    c.choose(args)
    c.finish(measure(args.repeat), args.json)


if __name__ == "__main__":
    main()
