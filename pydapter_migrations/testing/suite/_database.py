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
        elif self.url.backend == "mysql":
            sql = "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()"
        else:
            sql = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        return {str(row[0]) for row in self.query(sql)}

    def kit_tables(self) -> set[str]:
        """The tables the kit's revisions create (named ``kit_...``)."""
        return {t for t in self.tables() if t.startswith("kit_")}

    def is_running(self, statement: str) -> bool:
        """Whether another session runs ``statement`` now (SQLite cannot tell: wait 2 s)."""
        if self.url.backend == "sqlite":
            time.sleep(2.0)
            return True
        quoted = statement.replace("'", "''")
        if self.url.backend == "mysql":
            quoted = quoted.replace("\\", "\\\\")
            sql = (
                "SELECT count(*) FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID()"
                f" AND COMMAND = 'Query' AND INFO LIKE '%{quoted}%'"
            )
        else:
            sql = (
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                f"AND pid <> pg_backend_pid() AND query LIKE '%{quoted}%'"
            )
        return bool(self.query(sql)[0][0])

    def kill_lock_holders(self) -> int:
        """End the sessions holding this database's migration lock (PostgreSQL, MySQL);
        how many."""
        if self.url.backend == "mysql":
            from ...locking import mysql_lock_name

            with connect(self.url, purpose="test") as session:
                holder = session.scalar("SELECT IS_USED_LOCK(?)", (mysql_lock_name(self.url),))
                if holder is None:
                    return 0
                session.execute(f"KILL CONNECTION {int(holder)}")
                return 1
        from ...locking import lock_holder_query

        rows = self.query(
            f"SELECT pg_terminate_backend(pid) FROM ({lock_holder_query()}) AS holders"
        )
        return len(rows)

    def slow_statement(self, seconds: float) -> str:
        """A statement that keeps the database busy for about ``seconds`` (on PostgreSQL
        and MySQL a sleep, which notices a client that died within a few seconds)."""
        if self.url.backend == "postgresql":
            return f"SELECT pg_sleep({seconds})"
        if self.url.backend == "mysql":
            return f"SELECT SLEEP({seconds})"
        # About 2.5 million rows a second on a slow machine; far longer than the test waits.
        rows = int(seconds * 2_500_000)
        return (
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
            f"WHERE x < {rows}) SELECT max(x) FROM c"
        )
