"""Shared helpers of the yoyo plugin's tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydapter_migrations.testing import KitDatabase
from pydapter_migrations.urls import DatabaseURL


def write_revision(
    directory: Path, revision: str, upgrade: list[str], downgrade: list[str]
) -> None:
    """Give ``revision`` these upgrade and downgrade statements, keeping its header lines."""
    versions = Path(directory) / "versions"
    path = versions / f"{revision}.sql"
    header = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("--"):
            break
        if line.startswith(("-- message:", "-- depends:")):
            header.append(line)
    body = [f"{statement};" for statement in upgrade]
    path.write_text("\n".join([*header, "", *body]) + "\n", encoding="utf-8")
    rollback = versions / f"{revision}.rollback.sql"
    rollback.write_text("".join(f"{statement};\n" for statement in downgrade), encoding="utf-8")


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` run on the database at ``url``, on a connection of its own."""
    return KitDatabase(DatabaseURL.parse(url)).query(sql)


def tables(url: str) -> set[str]:
    """The tables of the database at ``url``."""
    return KitDatabase(DatabaseURL.parse(url)).tables()
