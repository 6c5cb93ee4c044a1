"""A plain DB-API connection to a test database, for the reference adapter and the kit."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from typing import Any

from ..locking import postgresql_libpq_options
from ..urls import DatabaseURL


@contextlib.contextmanager
def connect(url: DatabaseURL) -> Iterator[Any]:
    """A DB-API connection in autocommit mode; transactions are explicit."""
    conn: Any
    if url.backend == "sqlite":
        conn = sqlite3.connect(str(url.sqlite_path or ":memory:"), isolation_level=None)
    else:
        import psycopg

        conn = psycopg.connect(
            **url.sync().psycopg_kwargs(), options=postgresql_libpq_options(), autocommit=True
        )
    try:
        yield conn
    finally:
        conn.close()
