"""``current``, ``history``, ``status`` and ``verify``: where the database is, what is
pending, and whether the directory and the database agree."""

from __future__ import annotations

from typing import Any

import click

from .adapter import adapter_for, call
from .options import current_state, display_url, global_options, json_option, require_url

__all__ = ["check", "current", "history", "status", "verify"]


@click.command()
@json_option
@global_options
def current(as_json: bool) -> None:
    """Show the revision the database is at."""
    settings = current_state().settings()
    url = require_url(settings, "current")
    revision = call(
        adapter_for(settings),
        "get_current_revision",
        directory=settings.directory,
        connection_string=url,
    )
    if as_json:
        from .output import echo_json

        echo_json({"revision": revision})
    else:
        click.echo(revision if revision is not None else "(nothing applied)")


@click.command()
@json_option
@global_options
def history(as_json: bool) -> None:
    """List every revision, oldest first (applied or not, given a database URL)."""
    from .output import echo_json, render_history

    settings = current_state().settings()
    entries = call(
        adapter_for(settings),
        "get_migration_history",
        directory=settings.directory,
        connection_string=settings.url,
    )
    if as_json:
        echo_json(entries)
    else:
        render_history(entries)


@click.command()
@json_option
@click.option(
    "--check",
    is_flag=True,
    help="Exit 3 while revisions are pending (a start-up gate), 1 on a problem.",
)
@global_options
def status(as_json: bool, check: bool) -> None:
    """Show applied and pending revisions, the current revision and the head."""
    from .output import echo_json, render_status

    state = current_state()
    settings = state.settings()
    url = require_url(settings, "status")
    adapter = adapter_for(settings)
    common = {"directory": settings.directory, "connection_string": url}
    entries = call(adapter, "get_migration_history", **common)
    revision = call(adapter, "get_current_revision", **common)
    found = _problems(adapter, common)
    # A revision another run is applying right now is pending, not a problem.
    running = [problem for problem in found if problem["problem"] == "in_progress"]
    problems = [problem for problem in found if problem["problem"] != "in_progress"]
    pending = [entry["revision"] for entry in entries if not entry.get("applied")]
    heads = _heads(entries)
    report = {
        "backend": settings.backend,
        "directory": str(settings.directory),
        "database": display_url(url, state),
        "current": revision,
        "head": heads[0] if len(heads) == 1 else (heads or None),
        "heads": heads,
        "pending": pending,
        "applied": [entry["revision"] for entry in entries if entry.get("applied")],
        "up_to_date": not pending and not problems,
        "problems": problems,
        "in_progress": running,
    }
    if as_json:
        echo_json(report)
    else:
        render_status(report, entries)
        for problem in running:
            click.echo(f"in progress: {problem['message']}")
    if problems:
        click.get_current_context().exit(1)
    if check and pending:
        click.get_current_context().exit(3)


@click.command()
@json_option
@click.option(
    "--strict", is_flag=True, help="Report edits of comments or layout alone too (reformatted)."
)
@global_options
def verify(as_json: bool, strict: bool) -> None:
    """Check that the directory and the database agree; exit 1 when they do not."""
    from .output import echo_json

    settings = current_state().settings()
    url = require_url(settings, "verify")
    adapter = adapter_for(settings)
    options = {"strict": True} if strict else {}
    problems = call(
        adapter, "verify", directory=settings.directory, connection_string=url, **options
    )
    # A revision another run is applying right now (it holds the lock) is reported on a
    # line of its own, and is no failure.
    failures = [problem for problem in problems if problem["problem"] != "in_progress"]
    if as_json:
        echo_json(problems)
    elif problems:
        for problem in problems:
            label = "in progress" if problem["problem"] == "in_progress" else problem["problem"]
            click.echo(f"{label}: {problem['message']}")
        if not failures:
            click.echo("ok: the directory and the database agree, but for the run in progress")
    else:
        click.echo("ok: the directory and the database agree")
    if failures:
        click.get_current_context().exit(1)


@click.command()
@json_option
@global_options
def check(as_json: bool) -> None:
    """Schema drift: compare the database with what its revisions build (and with the
    models, where the backend knows them); exit 1 on any difference."""
    from .output import echo_json

    settings = current_state().settings()
    url = require_url(settings, "check")
    adapter = adapter_for(settings)
    differences = call(adapter, "check", directory=settings.directory, connection_string=url)
    if as_json:
        echo_json(differences)
    elif differences:
        for difference in differences:
            click.echo(f"{difference['source']}: {difference['message']}")
    else:
        click.echo("no drift: the database is what its revisions build")
    if differences:
        click.get_current_context().exit(1)


def _heads(entries: list[dict[str, Any]]) -> list[str]:
    """Revisions no other revision follows, oldest first."""
    parents: set[str] = set()
    for entry in entries:
        down = entry.get("down_revision")
        parents.update([down] if isinstance(down, str) else down or ())
    return [entry["revision"] for entry in entries if entry["revision"] not in parents]


def _problems(adapter: type[Any], common: dict[str, Any]) -> list[dict[str, Any]]:
    # An adapter of its own making may not offer verify; status then shows no problems.
    if not callable(getattr(adapter, "verify", None)):
        return []
    problems: list[dict[str, Any]] = call(adapter, "verify", **common)
    # Several heads are shown as such; status fails only on what stops a run.
    return [problem for problem in problems if problem["problem"] != "multiple_heads"]
