"""Direct access to the test database, to check what an adapter did behind its back."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ...connections import connect
from ...urls import DatabaseURL

__all__ = ["KitDatabase"]


@dataclass
class KitDatabase:
    """Direct access to the test database, to check what the adapter did."""

    url: DatabaseURL

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """The rows of ``sql``, run on a connection of its own (autocommit)."""
        with connect(self.url, purpose="test") as session:
            return session.execute(sql)

    def tables(self) -> set[str]:
        """The names of the tables in the database (PostgreSQL: the current schema)."""
        if self.url.backend == "sqlite":
            sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
        else:
            sql = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        return {row[0] for row in self.query(sql)}

    def kit_tables(self) -> set[str]:
        """The tables the kit's revisions create (named ``kit_...``)."""
        return {t for t in self.tables() if t.startswith("kit_")}

    def is_running(self, statement: str) -> bool:
        """Whether another session runs ``statement`` now (SQLite cannot tell: wait 2 s)."""
        if self.url.backend == "sqlite":
            time.sleep(2.0)
            return True
        quoted = statement.replace("'", "''")
        rows = self.query(
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
            f"AND pid <> pg_backend_pid() AND query LIKE '%{quoted}%'"
        )
        return bool(rows[0][0])

    def kill_lock_holders(self) -> int:
        """End the sessions holding this database's migration lock (PostgreSQL); how many."""
        from ...locking import lock_holder_query

        rows = self.query(
            f"SELECT pg_terminate_backend(pid) FROM ({lock_holder_query()}) AS holders"
        )
        return len(rows)

    def slow_statement(self, seconds: float) -> str:
        """A statement that keeps the database busy for about ``seconds``."""
        if self.url.backend == "postgresql":
            return f"SELECT pg_sleep({seconds})"
        # About 2.5 million rows a second on a slow machine; far longer than the test waits.
        rows = int(seconds * 2_500_000)
        return (
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
            f"WHERE x < {rows}) SELECT max(x) FROM c"
        )
