"""Shared helpers of the yoyo plugin's tests."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

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
    parsed = DatabaseURL.parse(url)
    if parsed.backend == "sqlite":
        conn: Any = sqlite3.connect(str(parsed.sqlite_path))
    else:
        import psycopg

        conn = psycopg.connect(**parsed.sync().psycopg_kwargs(), autocommit=True)
    try:
        return [tuple(row) for row in conn.execute(sql).fetchall()]
    finally:
        conn.close()


def tables(url: str) -> set[str]:
    if DatabaseURL.parse(url).backend == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
    else:
        sql = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
    return {row[0] for row in query(url, sql)}
