"""The throwaway MariaDB server behind the ``mariadb_server`` / ``mariadb_url`` fixtures."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import pymysql
import pytest

from pydapter_migrations.testing import mariadb
from pydapter_migrations.testing.mariadb import MariaDBServer
from pydapter_migrations.urls import DatabaseURL

pytestmark = pytest.mark.mariadb


def _connect(url: str) -> Any:
    parsed = DatabaseURL.parse(url)
    return pymysql.connect(
        host=parsed.host,
        port=parsed.port,
        user=parsed.username,
        password=parsed.password,
        database=parsed.database,
        autocommit=True,
    )


def _one(conn: Any, sql: str, *args: object) -> Any:
    with conn.cursor() as cursor:
        cursor.execute(sql, args or None)
        return cursor.fetchone()[0]


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_password_user_connects_with_the_url(
    mariadb_server: MariaDBServer, mariadb_url: str
) -> None:
    parsed = DatabaseURL.parse(mariadb_url)
    assert mariadb_url.startswith("mysql+pymysql://")
    assert "%25" in mariadb_url and "%40" in mariadb_url  # the password's % and @
    assert parsed.password == mariadb_server.password
    assert (parsed.host, parsed.port) == ("127.0.0.1", mariadb_server.port)
    assert mariadb_server.port != 3306  # never the machine's own service
    with _connect(mariadb_url) as conn:
        assert _one(conn, "SELECT DATABASE()") == parsed.database
        assert _one(conn, "SELECT CURRENT_USER()") == f"{mariadb_server.user}@%"
        assert "MariaDB" in _one(conn, "SELECT VERSION()")
        assert _one(conn, "SELECT @@bind_address") == "127.0.0.1"
        assert _one(conn, "SELECT @@datadir").startswith(str(mariadb_server.root))


def test_wrong_password_is_refused(mariadb_server: MariaDBServer) -> None:
    with pytest.raises(pymysql.err.OperationalError):
        pymysql.connect(
            host="127.0.0.1", port=mariadb_server.port, user=mariadb_server.user, password="x"
        )


def test_create_database_gives_distinct_databases(mariadb_server: MariaDBServer) -> None:
    first, second = mariadb_server.create_database(), mariadb_server.create_database()
    assert first != second
    assert mariadb_server.create_database("named_one") == "named_one"
    with _connect(mariadb_server.url(first)) as conn, conn.cursor() as cursor:
        cursor.execute("SHOW DATABASES")
        names = {row[0] for row in cursor.fetchall()}
        assert {first, second, "named_one"} <= names
        cursor.execute("CREATE TABLE t (id INT PRIMARY KEY)")
        cursor.execute("INSERT INTO t VALUES (1)")
        cursor.execute(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = %s", (second,)
        )
        assert cursor.fetchone()[0] == 0


def test_get_lock_holder_is_seen_from_another_session(mariadb_url: str) -> None:
    with _connect(mariadb_url) as holder, _connect(mariadb_url) as other:
        holder_id = _one(holder, "SELECT CONNECTION_ID()")
        assert _one(holder, "SELECT GET_LOCK('pydapter-test', 0)") == 1
        assert _one(other, "SELECT IS_USED_LOCK('pydapter-test')") == holder_id
        assert _one(other, "SELECT GET_LOCK('pydapter-test', 0)") == 0
        in_processlist = "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = %s"
        assert _one(other, in_processlist, holder_id) == 1
        assert _one(holder, "SELECT RELEASE_LOCK('pydapter-test')") == 1
        assert _one(other, "SELECT IS_USED_LOCK('pydapter-test')") is None


def test_user_sees_other_users_sessions(mariadb_server: MariaDBServer, mariadb_url: str) -> None:
    # PROCESS: a lock's holder is looked up in the process list, whoever opened it.
    with _connect(mariadb_url) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES")
        assert {"PROCESS", "CREATE", "SUPER"} <= {row[0] for row in cursor.fetchall()}
        cursor.execute("CREATE USER 'stranger'@'%' IDENTIFIED BY 'pw'")
        with pymysql.connect(
            host="127.0.0.1", port=mariadb_server.port, user="stranger", password="pw"
        ) as stranger:
            stranger_id = _one(stranger, "SELECT CONNECTION_ID()")
            cursor.execute(
                "SELECT USER FROM information_schema.PROCESSLIST WHERE ID = %s", (stranger_id,)
            )
            assert cursor.fetchone() == ("stranger",)
        cursor.execute("DROP USER 'stranger'@'%'")


def test_a_second_server_runs_alongside(mariadb_server: MariaDBServer) -> None:
    with MariaDBServer() as other:
        assert other.port != mariadb_server.port
        assert other.pid != mariadb_server.pid
        name = other.create_database()
        with _connect(other.url(name)) as conn:
            assert _one(conn, "SELECT @@port") == other.port
        with _connect(mariadb_server.url(mariadb_server.create_database())) as conn:
            assert _one(conn, "SELECT @@port") == mariadb_server.port
            schemata = "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s"
            assert _one(conn, schemata, name) == 0  # servers share no data


def test_stop_ends_the_process_and_removes_the_files() -> None:
    server = MariaDBServer().start()
    pid, root = server.pid, server.root
    assert pid is not None and root is not None
    assert not _gone(pid) and (root / "data").is_dir()
    server.stop()
    assert _gone(pid)
    assert not root.exists()
    assert server.pid is None and server.root is None
    server.stop()  # a second stop is harmless


def test_a_server_that_cannot_start_says_why_and_leaves_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    launched: list[tuple[int | None, Path | None]] = []
    launch = MariaDBServer._launch

    def spy(self: MariaDBServer) -> None:
        launch(self)
        launched.append((self.pid, self.root))

    monkeypatch.setattr(MariaDBServer, "_launch", spy)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        monkeypatch.setattr(mariadb, "_free_port", lambda: taken.getsockname()[1])
        server = MariaDBServer()
        with pytest.raises(RuntimeError, match="Address already in use"):
            server.start()
    [(pid, root)] = launched
    assert pid is not None and root is not None
    assert _gone(pid) and not root.exists()
    assert server.root is None and server.pid is None
