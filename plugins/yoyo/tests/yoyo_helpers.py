"""Shared helpers of the yoyo plugin's tests (``write_revision`` is the plugin's own)."""

from __future__ import annotations

from typing import Any

from pydapter_migrations_yoyo.testing import write_revision

from pydapter_migrations.testing import KitDatabase
from pydapter_migrations.urls import DatabaseURL


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` run on the database at ``url``, on a connection of its own."""
    return KitDatabase(DatabaseURL.parse(url)).query(sql)


def tables(url: str) -> set[str]:
    """The tables of the database at ``url``."""
    return KitDatabase(DatabaseURL.parse(url)).tables()


__all__ = ["query", "tables", "write_revision"]
