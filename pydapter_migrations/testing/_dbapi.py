"""A plain DB-API connection to a test database, for the kit's own checks."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from ..connections import connect as connect_session
from ..urls import DatabaseURL


@contextlib.contextmanager
def connect(url: DatabaseURL) -> Iterator[Any]:
    """A DB-API connection in autocommit mode (opened like every connection of the
    project); transactions are explicit."""
    with connect_session(url, purpose="test") as session:
        yield session.connection
