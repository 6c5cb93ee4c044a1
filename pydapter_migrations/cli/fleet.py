"""Fleets on the command line: ``upgrade``, ``downgrade``, ``current`` and ``status`` over
many databases.

:func:`with_fleet` gives those commands ``--targets FILE``, ``--parallel N``,
``--shard I/N``, ``--skip-locked``, ``--fail-fast`` (and ``--json`` to the migrating
ones; the others have it) and runs them as a fleet (:mod:`pydapter_migrations.fleet`)
when targets are given: a targets file, or an ``-e`` value that is a glob over the
config's environments (``-e 'tenant_*'``). Otherwise the command runs as before.
``upgrade --json`` alone runs a fleet of the one configured database, for its JSON.

On a terminal a fleet shows one progress line per target in flight and an overall bar;
elsewhere one line per target as it finishes. A table sums it up at the end; ``--json``
prints the list of per-target results instead. Exit status 0 only when every target
succeeded (1 otherwise; 2 for a usage or configuration error).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click

from .options import current_state

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from ..fleet import FleetEvent, FleetResult, Target, TargetResult

__all__ = ["with_fleet"]

_MIGRATING = ("upgrade", "downgrade")
#: Up to this many targets the closing table has a row for each; beyond, only for those
#: that did not succeed or waited.
_TABLE_ROWS = 50


def _options(operation: str) -> list[click.Option]:
    options = [
        click.Option(
            ["--targets", "targets_file"],
            metavar="FILE",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Run on every database of FILE: one 'NAME URL' per line, # comments, "
            "${VAR} from the environment (or -e 'GLOB' over the config's environments).",
        ),
        click.Option(
            ["--parallel"],
            metavar="N",
            type=click.IntRange(min=1),
            help="Targets migrated at once, each by its own worker process (default 1).",
        ),
        click.Option(
            ["--shard"],
            metavar="I/N",
            help="Take only share I of N of the targets (I from 1; stable across machines).",
        ),
        click.Option(
            ["--skip-locked"],
            is_flag=True,
            help="When another runner holds a target's lock, move on and come back to it "
            "at the end (several machines share a fleet this way; reads take no lock).",
        ),
        click.Option(
            ["--fail-fast"],
            is_flag=True,
            help="Start no more targets after one fails (default: the others go on).",
        ),
    ]
    if operation in _MIGRATING:
        options.append(
            click.Option(
                ["--json", "as_json"], is_flag=True, help="Print the per-target results as JSON."
            )
        )
    return options


def with_fleet(command: click.Command, operation: str) -> click.Command:
    """Give ``command`` the fleet options, and run it as a fleet when targets are given."""
    callback = command.callback
    assert callback is not None
    present = {param.name for param in command.params}
    added = [option for option in _options(operation) if option.name not in present]
    # Before the global options, so that --help lists them with the command's own.
    first_global = next(
        (i for i, param in enumerate(command.params) if param.name == "backend"),
        len(command.params),
    )
    command.params[first_global:first_global] = added
    mine = {option.name for option in added}

    @functools.wraps(callback)
    def run(**kwargs: Any) -> Any:
        fleet = {name: kwargs.pop(name) for name in list(kwargs) if name in mine}
        state = current_state()
        from ..fleet.targets import is_env_pattern

        if fleet.get("targets_file") is None and not is_env_pattern(state.env):
            given = [
                flag
                for flag, name in (
                    ("--parallel", "parallel"),
                    ("--shard", "shard"),
                    ("--skip-locked", "skip_locked"),
                    ("--fail-fast", "fail_fast"),
                )
                if fleet.get(name) not in (None, False)
            ]
            if given:
                raise click.UsageError(
                    f"{given[0]} applies to a fleet: give --targets FILE, or -e with a "
                    "pattern over the config's environments such as 'tenant_*'"
                )
            if not fleet.get("as_json"):
                return callback(**kwargs)
        _run(operation, {**kwargs, **fleet})

    command.callback = run
    return command


def _run(operation: str, values: dict[str, Any]) -> None:
    from .. import fleet as fleets

    ctx = click.get_current_context()
    revision = values.get("revision")
    if operation in _MIGRATING:
        revision = _check_target(str(revision))
    if values.get("sql"):
        raise click.UsageError("--sql prints the SQL of one database; it does not take a fleet")
    if values.get("dry_run"):
        # Never dropped on the way: a dry run that migrated would be the worst surprise.
        raise click.UsageError(
            "--dry-run previews one database as text; it takes neither a fleet nor --json "
            "(status --targets FILE --json lists what each target would get)"
        )
    targets, backend, directory = _targets(values.get("targets_file"))
    if values.get("shard"):
        targets = fleets.select_shard(targets, str(values["shard"]))
    as_json = bool(values.get("as_json"))
    reporter = FleetReporter(operation, targets, quiet=as_json)
    common: dict[str, Any] = {
        "directory": directory,
        "backend": backend,
        "parallel": values.get("parallel") or 1,
        "fail_fast": bool(values.get("fail_fast")),
        "progress": reporter,
    }
    with reporter:
        if operation == "upgrade":
            result = fleets.upgrade_many(
                targets,
                revision or "head",
                skip_locked=bool(values.get("skip_locked")),
                lock_timeout=values.get("lock_timeout"),
                allow_changed=tuple(values.get("allow_changed") or ()),
                **common,
            )
        elif operation == "downgrade":
            assert revision is not None
            result = fleets.downgrade_many(
                targets,
                revision,
                skip_locked=bool(values.get("skip_locked")),
                lock_timeout=values.get("lock_timeout"),
                **common,
            )
        elif operation == "current":
            result = fleets.current_many(targets, **common)
        else:
            result = fleets.status_many(targets, **common)
    if as_json:
        from .output import echo_json

        echo_json(result.to_json())
    else:
        reporter.summarise(result, values.get("shard"))
    if not result.ok:
        ctx.exit(1)
    if values.get("check") and any(r.pending for r in result):
        ctx.exit(3)  # status --check: revisions are pending somewhere


def _check_target(target: str) -> str:
    # As for one database: -1 is a target, anything else starting with a dash a typo.
    from ..revisions import relative_steps

    if target.startswith("-") and relative_steps(target) is None:
        raise click.UsageError(f"No such option: {target}")
    return target


def _targets(targets_file: Path | None) -> tuple[list[Target], str, Path]:
    """The fleet's targets, backend and directory, from the targets file, the -e glob or
    (for ``--json`` alone) the one configured database."""
    from ..fleet import Target, read_targets, targets_from_envs
    from ..fleet.targets import TargetsError, is_env_pattern
    from .options import require_url

    state = current_state()
    if is_env_pattern(state.env):
        if targets_file is not None:
            raise TargetsError(f"give either --targets or an -e pattern ({state.env!r}), not both")
        if state.url is not None:
            raise TargetsError(
                f"--url names one database; the -e pattern {state.env!r} names the targets"
            )
        assert state.env is not None
        found = targets_from_envs(state.env, backend=state.backend, directory=state.directory)
        return found.targets, found.backend, found.directory
    settings = state.settings()
    if targets_file is not None:
        targets = read_targets(targets_file)
        if not targets:
            # A file rendered empty by mistake must not make a deploy look done.
            raise TargetsError(f"the targets file {targets_file} lists no target")
        return targets, settings.backend, settings.directory
    url = require_url(settings, "the fleet")
    return [Target(state.env or "default", url)], settings.backend, settings.directory


# -- what is drawn -----------------------------------------------------------------


class FleetReporter:
    """The ``progress`` callback of a fleet on the command line, and its closing table.

    On a terminal (rich, imported only then): a line per target in flight with its own
    bar, an overall bar, and a permanent line per target as it finishes. Elsewhere: the
    permanent lines only (upgrades and downgrades). ``quiet`` (``--json``) draws nothing.
    """

    def __init__(
        self,
        operation: str,
        targets: Sequence[Target],
        *,
        quiet: bool = False,
        out: TextIO | None = None,
    ) -> None:
        self.operation = operation
        self.total = len(targets)
        self.quiet = quiet
        self.out = out if out is not None else sys.stdout
        self.terminal = self.out.isatty() and not quiet
        self._progress: Progress | None = None
        self._overall: TaskID | None = None
        self._tasks: dict[int, TaskID] = {}
        self._width = max((len(t.name) for t in targets), default=0)

    def __enter__(self) -> FleetReporter:
        if self.terminal:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(file=self.out, highlight=False),
                transient=True,
                # Redrawn on each event, with no thread of its own: a fleet forks its
                # worker processes only while no other thread runs.
                auto_refresh=False,
            )
            self._progress.start()
            self._overall = self._progress.add_task(
                f"{self.operation} fleet ({self.total} targets)", total=self.total
            )
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def __call__(self, event: FleetEvent) -> None:
        if self.quiet:
            return
        progress = self._progress
        if event.kind == "started" and progress is not None:
            self._tasks[event.index] = progress.add_task(
                f"  {event.name.ljust(self._width)}", total=None
            )
        elif event.kind == "planned" and progress is not None and event.index in self._tasks:
            progress.update(self._tasks[event.index], total=event.total or 0)
        elif event.kind == "revision" and progress is not None and event.index in self._tasks:
            progress.advance(self._tasks[event.index])
        elif event.kind == "waiting":
            if progress is not None and event.index in self._tasks:
                progress.remove_task(self._tasks.pop(event.index))
            self._line(
                f"{'waiting':<8} {event.name.ljust(self._width)}  another runner holds its "
                "lock; back to it at the end"
            )
        elif event.kind == "finished" and event.result is not None:
            if progress is not None:
                if event.index in self._tasks:
                    progress.remove_task(self._tasks.pop(event.index))
                assert self._overall is not None
                progress.advance(self._overall)
            if self.operation in _MIGRATING or not event.result.ok:
                self._line(self._describe(event.result))
        if progress is not None:
            progress.refresh()

    def _line(self, text: str) -> None:
        if self._progress is not None:
            self._progress.console.print(text, markup=False, highlight=False, soft_wrap=True)
        else:
            click.echo(text, file=self.out)

    def _describe(self, result: TargetResult) -> str:
        name = result.name.ljust(self._width)
        if not result.ok:
            return f"{result.status.upper():<8} {name}  {result.error}"
        took = f" in {result.seconds:.2f}s"
        if self.operation not in _MIGRATING:
            return f"{'ok':<8} {name}  {result.revision or '(nothing applied)'}{took}"
        moved = f"{result.from_revision or 'base'} -> {result.to_revision or 'base'}"
        if result.status == "unchanged":
            text = f"nothing to do, at {result.to_revision or 'base'}"
        else:
            verb = "applied" if self.operation == "upgrade" else "reverted"
            count = len(result.revisions)
            noun = "revision" if count == 1 else "revisions"
            text = f"{count} {noun} {verb} ({moved})" if count else f"{moved}"
        waited = " after waiting for another runner" if result.waited else ""
        return f"{'ok':<8} {name}  {text}{took}{waited}"

    # -- the closing table ---------------------------------------------------

    def summarise(self, result: FleetResult, shard: str | None = None) -> None:
        """The table of the results and one closing line."""
        if not len(result):
            where = f" in shard {shard}" if shard else ""
            click.echo(f"no targets{where}: nothing to do", file=self.out)
            return
        rows = list(result)
        if len(rows) > _TABLE_ROWS:
            rows = [r for r in rows if not r.ok or r.waited or r.status == "pending"]
        if rows:
            self._table(rows)
        line = result.summary()
        if shard:
            line = f"shard {shard}: {line}"
        click.echo(line, file=self.out)

    def _table(self, rows: Sequence[TargetResult]) -> None:
        from rich import box
        from rich.console import Console
        from rich.table import Table

        table = Table(box=box.SIMPLE_HEAD, show_edge=False)
        for column in self._columns():
            table.add_column(column, no_wrap=column != "error", overflow="fold")
        for row in rows:
            table.add_row(*self._cells(row))
        width = None if self.out.isatty() else 200
        Console(file=self.out, highlight=False, width=width, soft_wrap=False).print(table)

    def _columns(self) -> list[str]:
        if self.operation in _MIGRATING:
            return ["target", "status", "from", "to", "revisions", "seconds", "error"]
        if self.operation == "current":
            return ["target", "status", "revision", "seconds", "error"]
        return ["target", "status", "current", "head", "pending", "seconds", "error"]

    def _cells(self, row: TargetResult) -> list[str]:
        status = row.status + (" (waited)" if row.waited else "")
        seconds = f"{row.seconds:.2f}"
        error = row.error or ""
        if self.operation in _MIGRATING:
            return [
                row.name,
                status,
                row.from_revision or "-",
                row.to_revision or "-",
                str(len(row.revisions)),
                seconds,
                error,
            ]
        if self.operation == "current":
            return [row.name, status, row.revision or "-", seconds, error]
        pending = str(len(row.pending)) if row.pending is not None else "-"
        head = ", ".join(row.heads) or "-"
        return [row.name, status, row.revision or "-", head, pending, seconds, error]
