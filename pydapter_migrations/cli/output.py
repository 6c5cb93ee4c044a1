"""What ``pydapter-migrate`` draws: JSON, the progress of a run, tables.

rich is imported only when a table is drawn, so quick commands stay quick.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

import click

from ..hookspecs import hookimpl

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar
    from rich.console import Console

    from ..events import MigrationEvent

__all__ = [
    "RunReporter",
    "echo_json",
    "render_backends",
    "render_history",
    "render_status",
    "tolerate_closed_stdout",
]

_VERBS = {"upgrade": "applied", "downgrade": "reverted", "stamp": "stamped"}


class _ClosedStdoutTolerant:
    """Standard output that shrugs off a reader who went away (``| head -1``): the rest of
    the output goes to /dev/null and the command carries on. A migration must never stop
    half-way because nobody reads its progress any more."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._to_devnull()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._to_devnull()

    def _to_devnull(self) -> None:
        import os

        # The descriptor now points at /dev/null: what the stream still holds, and the
        # interpreter's flush at exit, go there without a word.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, self._stream.fileno())
        os.close(devnull)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def tolerate_closed_stdout() -> None:
    """Make ``sys.stdout`` carry on when its reader closes the pipe."""
    if not isinstance(sys.stdout, _ClosedStdoutTolerant):
        sys.stdout = _ClosedStdoutTolerant(sys.stdout)


def echo_json(data: Any) -> None:
    """``data`` as indented JSON, alone on stdout."""
    click.echo(json.dumps(data, indent=2, default=str))


class RunReporter:
    """A hook plugin that shows an upgrade or downgrade as it runs.

    On a terminal it draws a progress bar sized by ``before_migrate``'s pending list;
    elsewhere it prints one line per revision (``applied <rev> (0.01s)``).
    """

    def __init__(self, operation: str, *, out: TextIO | None = None) -> None:
        self.operation = operation
        self.out = out if out is not None else sys.stdout
        self.terminal = self.out.isatty()
        self.started = False
        self.total = 0
        self.done = 0
        self.last: str | None = None
        self.elapsed: float | None = None
        self._bar: ProgressBar[str] | None = None

    @hookimpl
    def before_migrate(self, event: MigrationEvent) -> None:
        self.started, self.total = True, event.total
        if self.terminal and self.total and self.operation != "stamp":
            self._bar = click.progressbar(
                length=self.total,
                label=f"{self.operation.capitalize()} to {event.target}",
                file=self.out,
                show_pos=True,
                item_show_func=lambda item: item,
            )
            self._bar.render_progress()

    @hookimpl
    def after_revision(self, event: MigrationEvent) -> None:
        self.done += 1
        self.last = event.revision
        if self._bar is not None:
            self._bar.update(1, event.revision)
            return
        seconds = event.elapsed or 0.0
        verb = _VERBS.get(self.operation, self.operation)
        click.echo(f"{verb} {event.revision} ({seconds:.2f}s)", file=self.out)

    @hookimpl
    def after_migrate(self, event: MigrationEvent) -> None:
        self.elapsed = event.elapsed
        self.close()

    @hookimpl
    def on_migration_error(self, event: MigrationEvent, error: BaseException) -> None:
        self.close()

    def close(self) -> None:
        """End the progress bar, if one is drawn."""
        if self._bar is not None:
            self._bar.render_finish()
            self._bar = None

    def summary(self, target: str) -> str:
        """The closing line of a successful run."""
        head = f"{self.operation} to {target}"
        if not self.started:
            return f"{head}: done"
        if self.operation == "stamp":
            recorded = self.last or "nothing (base)"
            return f"{head}: the database now records {recorded}; nothing was run"
        if not self.total:
            return f"{head}: nothing to do, the database is already there"
        verb = _VERBS.get(self.operation, self.operation)
        noun = "revision" if self.done == 1 else "revisions"
        took = f" in {self.elapsed:.2f}s" if self.elapsed is not None else ""
        return f"{head}: {self.done} {noun} {verb}{took}"


def render_backends(rows: Sequence[Mapping[str, Any]]) -> None:
    """The ``backends`` listing as aligned plain text (no rich: this command must be fast)."""
    adapters = [row for row in rows if row["kind"] == "adapter"]
    plugins = [row for row in rows if row["kind"] == "plugin"]
    if not adapters:
        click.echo(
            "no migration backends installed; install one, e.g. "
            "pip install pydapter-migrations-alembic"
        )
    table = [("KEY", "DISTRIBUTION", "MODE", "CAPABILITIES")]
    for row in adapters:
        dist = " ".join(str(p) for p in (row["distribution"], row["version"]) if p) or "-"
        if row["error"]:
            table.append((row["key"], dist, "-", f"error: {row['error']}"))
            continue
        mode = "async" if row["async"] else "sync"
        table.append((row["key"], dist, mode, ", ".join(row["capabilities"]) or "-"))
    if adapters:
        widths = [max(len(line[i]) for line in table) for i in range(3)]
        for line in table:
            cells = [cell.ljust(width) for cell, width in zip(line, widths, strict=False)]
            click.echo("  ".join([*cells, line[3]]).rstrip())
    for row in plugins:
        dist = f" from {row['distribution']}" if row["distribution"] else ""
        click.echo(f"hook plugin {row['key']}{dist} failed to load: {row['error']}")


def _console() -> Console:
    from rich.console import Console

    terminal = sys.stdout.isatty()
    # Off a terminal rich assumes 80 columns; let long revision ids through unwrapped.
    return Console(highlight=False, width=None if terminal else 160, soft_wrap=False)


def _applied_text(applied: Any) -> str:
    if applied is None:
        return "?"
    return "yes" if applied else "no"


def render_history(entries: Sequence[Mapping[str, Any]]) -> None:
    """``history`` as a table, oldest revision first."""
    if not entries:
        click.echo("no revisions yet; create one with: pydapter-migrate new MESSAGE")
        return
    from rich import box
    from rich.table import Table

    with_db = any(entry.get("applied") is not None for entry in entries)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    table.add_column("revision", no_wrap=True)
    table.add_column("parent", no_wrap=True)
    table.add_column("description")
    if with_db:
        table.add_column("applied")
    for entry in entries:
        cells = [
            str(entry.get("revision")),
            str(entry.get("down_revision") or "-"),
            str(entry.get("description") or ""),
        ]
        if with_db:
            cells.append(_applied_text(entry.get("applied")))
        table.add_row(*cells)
    _console().print(table)


def render_status(status: Mapping[str, Any], entries: Sequence[Mapping[str, Any]]) -> None:
    """``status``: every revision marked applied or pending, with current and head."""
    current, heads = status["current"], status.get("heads") or []
    pending = status["pending"]
    click.echo(f"backend:   {status['backend']}")
    click.echo(f"directory: {status['directory']}")
    click.echo(f"database:  {status['database']}")
    click.echo(f"current:   {current or '(nothing applied)'}")
    label = "heads:    " if len(heads) > 1 else "head:     "
    click.echo(f"{label} {', '.join(heads) or '(no revisions)'}")
    problems = status.get("problems") or []
    # With the database ahead of the directory, which of its revisions are applied is
    # not known here: only the problems are true.
    if entries and not problems:
        from rich import box
        from rich.table import Table

        table = Table(box=box.SIMPLE_HEAD, show_edge=False)
        table.add_column("", no_wrap=True)
        table.add_column("revision", no_wrap=True)
        table.add_column("description")
        table.add_column("state", no_wrap=True)
        for entry in entries:
            revision = entry.get("revision")
            marks = ["current"] if revision == current else []
            marks += ["head"] if revision in heads else []
            state = "pending" if revision in pending else "applied"
            table.add_row(
                "*" if revision == current else "",
                str(revision),
                str(entry.get("description") or ""),
                state + (f" ({', '.join(marks)})" if marks else ""),
            )
        _console().print(table)
    for problem in problems:
        click.echo(f"problem: {problem['message']}")
    if problems:
        return
    if pending:
        noun = "revision" if len(pending) == 1 else "revisions"
        click.echo(f"{len(pending)} {noun} pending; run: pydapter-migrate upgrade")
    else:
        click.echo("up to date")
