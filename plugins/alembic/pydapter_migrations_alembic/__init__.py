"""Alembic backend of pydapter-migrations (keys ``alembic`` and ``async_alembic``)."""

from __future__ import annotations

from .adapter import AlembicAdapter, AsyncAlembicAdapter

__all__ = ["AlembicAdapter", "AsyncAlembicAdapter"]
