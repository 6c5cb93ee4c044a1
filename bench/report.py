"""What a benchmark measured: results, targets (HOLDS / MISSES), checks; their tables and
their JSON (``bench/results/*.json``).

A question's name says its unit: seconds unless it ends with :data:`INSTRUCTIONS_SUFFIX`;
:data:`CPU_SUFFIX` marks the CPU-time twin of a wall-clock question.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import sqlite3
import statistics
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import names

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"

#: Questions whose values are CPU seconds (user + system) rather than wall-clock ones.
CPU_SUFFIX = ", CPU time"
#: Questions whose values are instruction counts (bench/instructions.py), not seconds.
INSTRUCTIONS_SUFFIX = ", instructions"


@dataclass
class Result:
    """The timings of one contender on one question / backend / size."""

    question: str
    backend: str
    n: int
    contender: str
    times: list[float]
    median: float = 0.0
    min: float = 0.0
    note: str = ""

    def __post_init__(self) -> None:
        self.median = statistics.median(self.times)
        self.min = min(self.times)


@dataclass
class Target:
    """``contender`` / ``baseline`` (ratio of medians) must be at most ``ratio``; with no
    baseline, ``contender``'s median must be at most ``ratio`` seconds."""

    question: str
    backend: str
    n: int
    contender: str
    baseline: str | None
    ratio: float
    measured: float | None = None
    holds: bool | None = None
    extra: str = ""


@dataclass
class Report:
    """Everything one script (or ``run_all``) measured."""

    results: list[Result] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    checks: dict[str, Any] = field(default_factory=dict)

    def add(self, question: str, backend: str, n: int, times: dict[str, list[float]]) -> None:
        for contender, values in times.items():
            self.results.append(Result(question, backend, n, contender, values))

    def find(self, question: str, backend: str, n: int, contender: str) -> Result | None:
        for r in self.results:
            if (r.question, r.backend, r.n, r.contender) == (question, backend, n, contender):
                return r
        return None

    def evaluate(self) -> None:
        for t in self.targets:
            subject = self.find(t.question, t.backend, t.n, t.contender)
            if subject is None:
                continue
            if t.baseline is None:
                t.measured = subject.median
            else:
                base = self.find(t.question, t.backend, t.n, t.baseline)
                if base is None:
                    continue
                t.measured = subject.median / base.median
            t.holds = t.measured <= t.ratio

    def merge(self, other: Report) -> None:
        self.results += other.results
        self.targets += other.targets
        self.checks.update(other.checks)

    def to_json(self) -> dict[str, Any]:
        return {
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(),
            "results": [asdict(r) for r in self.results],
            "targets": [asdict(t) for t in self.targets],
            "checks": self.checks,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Report:
        """The report :meth:`to_json` wrote (its ``created`` and ``machine`` left aside);
        medians and minimums are computed again from the times."""
        results = [
            Result(
                r["question"],
                r["backend"],
                r["n"],
                r["contender"],
                r["times"],
                note=r.get("note", ""),
            )
            for r in data["results"]
        ]
        return cls(results, [Target(**t) for t in data["targets"]], dict(data["checks"]))


def machine() -> dict[str, Any]:
    import alembic
    import sqlalchemy
    import yoyo

    cpu = platform.processor() or ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "alembic": alembic.__version__,
        "sqlalchemy": sqlalchemy.__version__,
        "yoyo": getattr(yoyo, "__version__", "?"),
        "sqlite": sqlite3.sqlite_version,
    }


# -- text tables ----------------------------------------------------------------------


def _fmt_value(question: str, value: float) -> str:
    if question.endswith(INSTRUCTIONS_SUFFIX):
        return f"{value / 1e6:,.0f} M"
    return _fmt_time(value)


def _fmt_time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    return f"{seconds * 1000:.1f} ms"


def render(report: Report) -> str:
    """The results as text tables, one per question / backend / size, then the targets."""
    lines: list[str] = []
    groups: dict[tuple[str, str, int], list[Result]] = {}
    for r in report.results:
        groups.setdefault((r.question, r.backend, r.n), []).append(r)
    for (question, backend, n), rows in groups.items():
        title = f"{question} [{backend}" + (f", N={n}]" if n else "]")
        lines += ["", title]
        header = f"  {'contender':<34} {'median':>10} {'min':>10} {'vs raw':>8} {'vs floor':>9}"
        lines += [header, "  " + "-" * (len(header) - 2)]
        by_name = {r.contender: r for r in rows}
        floor = next((by_name[f] for f in names.FLOORS if f in by_name), None)
        for r in rows:
            raw = by_name.get(names.RAW_OF.get(r.contender, ""))
            vs_raw = f"{r.median / raw.median:.2f}x" if raw else ""
            vs_floor = f"{r.median / floor.median:.2f}x" if floor and r is not floor else ""
            lines.append(
                f"  {r.contender:<34} {_fmt_value(question, r.median):>10}"
                f" {_fmt_value(question, r.min):>10}"
                f" {vs_raw:>8} {vs_floor:>9}" + (f"  {r.note}" if r.note else "")
            )
    if report.targets:
        lines += ["", "targets (ratio of medians in this run)"]
        for t in report.targets:
            if t.measured is None and names.ONLY:
                continue  # a contender left out with --only
            if t.measured is None:
                state, value = "not measured", ""
            else:
                state = "HOLDS" if t.holds else "MISSES"
                value = (
                    f"{t.measured:.2f}x" if t.baseline else _fmt_time(t.measured)
                ) + f" (target <= {t.ratio:g}{'x' if t.baseline else ' s'})"
            against = f" vs {t.baseline}" if t.baseline else ""
            size = f" N={t.n}" if t.n else ""
            lines.append(
                f"  {state:<12} {t.question} [{t.backend}{size}]: {t.contender}{against}: "
                f"{value}{('  ' + t.extra) if t.extra else ''}"
            )
    for key, value in report.checks.items():
        lines.append(f"  check {key}: {value}")
    return "\n".join(lines)


# -- JSON -------------------------------------------------------------------------------


def write(report: Report, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.to_json(), indent=2) + "\n")


def read(path: Path) -> Report:
    """A report :func:`write` wrote, e.g. ``bench/results/latest.json``."""
    return Report.from_json(json.loads(path.read_text()))


def finish(report: Report, json_path: Path | None) -> None:
    """Evaluate targets, print the tables and write the JSON."""
    report.evaluate()
    print(render(report))
    if json_path is not None:
        write(report, json_path)
        print(f"\nwrote {json_path}")
