"""``init`` and ``new``: create the migration environment and its revisions."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from .adapter import adapter_for, call
from .options import current_state, global_options

__all__ = ["init", "new"]


@contextmanager
def _project_on_path() -> Iterator[None]:
    """Let ``--models myapp.models`` import from the working directory, as ``python -m`` does."""
    cwd = os.getcwd()
    added = cwd not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        yield
    finally:
        if added and cwd in sys.path:
            sys.path.remove(cwd)


@click.command()
@click.option(
    "--models",
    metavar="MODULE",
    help="Module holding the SQLAlchemy models (metadata) for autogenerate.",
)
@global_options
def init(models: str | None) -> None:
    """Create the migration environment in the migration directory."""
    settings = current_state().settings()
    adapter = adapter_for(settings)
    with _project_on_path():
        call(
            adapter,
            "init_migrations",
            settings.directory,
            connection_string=settings.url,
            models_module=models,
        )
    click.echo(f"initialised {settings.backend} migrations in {settings.directory}")


@click.command()
@click.argument("message")
@click.option(
    "--autogenerate/--no-autogenerate",
    default=None,
    help="Compare the models with the database (default: where the backend can).",
)
@global_options
def new(message: str, autogenerate: bool | None) -> None:
    """Create a revision; its id is printed alone on the last line."""
    settings = current_state().settings()
    adapter = adapter_for(settings)
    with _project_on_path():
        revision = call(
            adapter,
            "create_migration",
            message,
            autogenerate,
            directory=settings.directory,
            connection_string=settings.url,
        )
    where = _where(adapter, settings.directory, revision)
    click.echo(f"created revision {revision}{where}", err=True)
    click.echo(revision)


def _where(adapter: type[Any], directory: Path, revision: str) -> str:
    """`` in FILE``: where the revision was written, as the backend's history says."""
    try:
        history = call(adapter, "get_migration_history", directory=directory)
    except Exception:  # an adapter of its own making may need a URL: the id is enough
        return ""
    paths = [entry.get("path") for entry in history if entry.get("revision") == revision]
    return f" in {paths[0]}" if paths and paths[0] else ""
