"""``upgrade`` and ``downgrade``: run revisions with progress, or print their SQL."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import click

from ..errors import MigrationDowngradeError, MigrationError, MigrationUpgradeError
from ..revisions import HEAD, relative_steps
from .adapter import adapter_for, call
from .options import (
    PROG_NAME,
    current_state,
    global_options,
    lock_timeout_option,
    require_url,
    sql_option,
)

__all__ = ["downgrade", "repair", "stamp", "upgrade"]

_MIGRATE_SETTINGS = {"ignore_unknown_options": True}  # so that `downgrade -1` parses


def _check_target(target: str) -> str:
    # Targets like -1 are let through click's option parser; anything else that
    # starts with a dash is a mistyped option.
    if target.startswith("-") and relative_steps(target) is None:
        raise click.UsageError(f"No such option: {target}")
    return target


def _migrate(
    operation: str,
    target: str,
    sql: bool,
    lock_timeout: float | None,
    allow_changed: tuple[str, ...] = (),
) -> None:
    state = current_state()
    settings = state.settings()
    target = _check_target(target)
    url = require_url(settings, operation)
    adapter = adapter_for(settings)
    kwargs: dict[str, Any] = {"directory": settings.directory, "connection_string": url}
    if lock_timeout is not None:
        kwargs["lock_timeout"] = lock_timeout
    if allow_changed:
        kwargs["allow_changed"] = list(allow_changed)
    if sql:
        if not getattr(adapter, "supports_sql", False):
            error = MigrationUpgradeError if operation == "upgrade" else MigrationDowngradeError
            raise error(
                f"the {settings.backend} backend cannot print SQL; run without --sql",
                adapter=settings.backend,
            )
        text = call(adapter, operation, target, sql=True, **kwargs)
        click.echo(state.mask(str(text or "")).rstrip("\n"))
        return

    from .output import RunReporter

    reporter = RunReporter(operation)
    try:
        if _takes_observers(adapter):
            call(adapter, operation, target, observers=[reporter], **kwargs)
        else:
            _call_with_global_reporter(adapter, operation, target, reporter, kwargs)
    finally:
        reporter.close()
    click.echo(reporter.summary(target))


def _takes_observers(adapter: type[Any]) -> bool:
    """Whether ``adapter`` runs through the core's base classes (which take observers of
    one run), rather than implementing its public methods itself."""
    from ..base import AsyncMigrationAdapter, SyncMigrationAdapter

    return issubclass(adapter, SyncMigrationAdapter | AsyncMigrationAdapter)


def _call_with_global_reporter(
    adapter: type[Any], operation: str, target: str, reporter: object, kwargs: dict[str, Any]
) -> None:
    # An adapter of its own making fires the process's hooks, if any: report through them.
    from ..registry import register_plugin, unregister_plugin

    register_plugin(reporter, name=f"{PROG_NAME}-progress")
    try:
        call(adapter, operation, target, **kwargs)
    finally:
        unregister_plugin(reporter)


@click.command(context_settings=_MIGRATE_SETTINGS)
@click.argument("revision", default=HEAD)
@sql_option
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the revisions the upgrade would apply (and their SQL where the backend can "
    "render it); change nothing.",
)
@click.option(
    "--allow-changed",
    "allow_changed",
    multiple=True,
    metavar="REV",
    help="Accept that applied revision REV changed since it ran (recorded); repeatable.",
)
@lock_timeout_option
@global_options
def upgrade(
    revision: str,
    sql: bool,
    dry_run: bool,
    allow_changed: tuple[str, ...],
    lock_timeout: float | None,
) -> None:
    """Apply revisions up to REVISION (default: head)."""
    if dry_run:
        _dry_run(_check_target(revision), allow_changed)
        return
    _migrate("upgrade", revision, sql, lock_timeout, allow_changed)


def _dry_run(target: str, allow_changed: tuple[str, ...] = ()) -> None:
    """What ``upgrade TARGET`` would apply, read without the lock and without writing;
    refused (exit 1, the upgrade's own error) where the upgrade would refuse to start."""
    state = current_state()
    settings = state.settings()
    url = require_url(settings, "upgrade")
    adapter = adapter_for(settings)
    common = {"directory": settings.directory, "connection_string": url}
    with _failing_as_the_upgrade(settings.backend):
        entries = call(adapter, "get_migration_history", **common)
        in_progress = _refuse_as_upgrade(adapter, common, entries, allow_changed, settings.backend)
    if in_progress:
        click.echo(
            f"dry run: {in_progress}; the upgrade would wait for that run, then apply what is left"
        )
    pending = [entry["revision"] for entry in entries if not entry.get("applied")]
    known = [entry["revision"] for entry in entries]
    if target not in (HEAD, "heads"):
        if target not in known:
            raise MigrationUpgradeError(
                f"revision {target} is not in {settings.directory}", adapter=settings.backend
            )
        pending = [r for r in pending if known.index(r) <= known.index(target)]
    if not pending:
        click.echo(f"dry run: nothing to apply (the database is at {target})")
        return
    noun = "revision" if len(pending) == 1 else "revisions"
    click.echo(f"dry run: upgrade to {target} would apply {len(pending)} {noun}:")
    descriptions = {entry["revision"]: entry.get("description") or "" for entry in entries}
    for revision in pending:
        click.echo(f"  {revision}  {descriptions[revision]}".rstrip())
    if getattr(adapter, "supports_sql", False):
        text = call(adapter, "upgrade", target, sql=True, **common)
        click.echo(state.mask(str(text or "")).rstrip("\n"))
    click.echo("nothing was changed")


@contextlib.contextmanager
def _failing_as_the_upgrade(backend: str) -> Iterator[None]:
    """A dry run's reads fail with the error the upgrade gives (its ``upgrade failed:``),
    not the name of the read that found it."""
    try:
        yield
    except MigrationError as error:
        if isinstance(error, MigrationUpgradeError):
            raise
        action, found, rest = error.message.partition(" failed: ")
        message = f"upgrade failed: {rest}" if found and action in _READS else error.message
        raise MigrationUpgradeError(
            message, adapter=error.adapter or backend, revision=error.revision
        ) from error


_READS = ("get_migration_history", "verify")


def _refuse_as_upgrade(
    adapter: type[Any],
    common: dict[str, Any],
    entries: list[dict[str, Any]],
    allow_changed: tuple[str, ...],
    backend: str,
) -> str | None:
    """Raise the error ``upgrade`` would stop on before applying anything (a revision that
    never finished, a database ahead of the directory, a changed applied revision not
    accepted, an unknown ``--allow-changed``), judged by the core's own checks. Returns
    what to say of a revision another run is applying right now, if any."""
    from ..integrity import upgrade_refusal

    if not callable(getattr(adapter, "verify", None)):
        return None  # an adapter of its own making: its upgrade judges for itself
    problems: list[dict[str, Any]] = call(adapter, "verify", **common)
    known = [entry["revision"] for entry in entries]
    refusal = upgrade_refusal(problems, allow_changed, known)
    if refusal is not None:
        raise MigrationUpgradeError(
            refusal["message"], adapter=backend, revision=refusal.get("revision")
        )
    running = [p["message"] for p in problems if p["problem"] == "in_progress"]
    return running[-1] if running else None


class _Downgrade(click.Command):
    """``downgrade``: a ``--dry-run`` (an upgrade's option) is refused by name."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        options = args[: args.index("--")] if "--" in args else args
        if "--dry-run" in options:
            raise click.UsageError(
                "--dry-run previews an upgrade; for a downgrade use --sql (where the backend "
                "can render it) to see what it would run",
                ctx,
            )
        return super().parse_args(ctx, args)


@click.command(cls=_Downgrade, context_settings=_MIGRATE_SETTINGS)
@click.argument("revision")
@sql_option
@lock_timeout_option
@global_options
def downgrade(revision: str, sql: bool, lock_timeout: float | None) -> None:
    """Revert revisions down to REVISION (an id, -1, or base)."""
    _migrate("downgrade", revision, sql, lock_timeout)


@click.command()
@click.argument("revision")
@lock_timeout_option
@global_options
def stamp(revision: str, lock_timeout: float | None) -> None:
    """Record the database as being at REVISION (head, base, an id) without running
    anything: how to adopt a database built by other means."""
    _migrate("stamp", revision, False, lock_timeout)


@click.command()
@click.option(
    "--applied", is_flag=True, help="The revision's work is there (you checked the schema)."
)
@click.option(
    "--not-applied", is_flag=True, help="The revision's work is not there: it runs again."
)
@lock_timeout_option
@global_options
def repair(applied: bool, not_applied: bool, lock_timeout: float | None) -> None:
    """Resolve a revision that started and never finished (a run that died, or failed
    after the database committed part of it), as Flyway's repair and golang-migrate's
    force do: check the schema by hand, then say whether the revision is applied."""
    if applied == not_applied:
        # Neither, or both: a contradiction must not be settled by the flags' order.
        raise click.UsageError("say what is true: either --applied or --not-applied")
    state = current_state()
    settings = state.settings()
    url = require_url(settings, "repair")
    adapter = adapter_for(settings)
    kwargs: dict[str, Any] = {"directory": settings.directory, "connection_string": url}
    if lock_timeout is not None:
        kwargs["lock_timeout"] = lock_timeout
    call(adapter, "repair", applied, **kwargs)
    click.echo(f"repaired: the revision is recorded as {'applied' if applied else 'not applied'}")
