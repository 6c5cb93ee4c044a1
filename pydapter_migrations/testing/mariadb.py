"""A throwaway MariaDB server for tests: ``mariadb-install-db`` + ``mariadbd`` in a temp directory.

The server reads only an option file of ours (the machine's ``/etc/mysql`` would point it at
the system datadir, socket and port 3306). As root it drops to the ``mysql`` user (or stays
root when there is none). It listens on 127.0.0.1 (and a unix socket in its directory),
has one password user with every privilege, and is removed by :meth:`MariaDBServer.stop`.
"""

from __future__ import annotations

import atexit
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import quote, urlencode

from .postgres import _free_port

__all__ = ["MariaDBBinaries", "MariaDBNotAvailable", "MariaDBServer", "find_binaries"]

_SERVER_SETTINGS = {
    "bind-address": "127.0.0.1",
    "skip-name-resolve": "",
    # Debian's packaged config says utf8mb4; the compiled-in default is latin1.
    "character-set-server": "utf8mb4",
    "collation-server": "utf8mb4_general_ci",
    # Durability off, as fsync=off for PostgreSQL: the data dies with the server anyway.
    "innodb_flush_log_at_trx_commit": "0",
    "innodb_flush_method": "nosync",
    "innodb_doublewrite": "0",
    # Linux AIO contexts are a machine-wide quota that several servers can exhaust.
    "innodb_use_native_aio": "0",
    "innodb_buffer_pool_size": "32M",
    "innodb_buffer_pool_dump_at_shutdown": "0",
    "innodb_buffer_pool_load_at_startup": "0",
    "innodb_log_file_size": "16M",
    "innodb_log_buffer_size": "8M",
    "aria_pagecache_buffer_size": "8M",
    "key_buffer_size": "1M",
    "performance_schema": "OFF",
    "max_connections": "200",
    # The default (2000) asks for more open files than a 20000 ulimit and warns on stderr.
    "table_open_cache": "400",
}
_START_TIMEOUT = 60.0
_STOP_TIMEOUT = 30.0
_ER_ACCESS_DENIED = 1045


class MariaDBNotAvailable(RuntimeError):
    """No MariaDB server binaries were found on this machine."""


class MariaDBBinaries(NamedTuple):
    """The two programs a throwaway server needs."""

    mariadbd: Path
    install_db: Path


def find_binaries() -> MariaDBBinaries:
    """Locate ``mariadbd`` and ``mariadb-install-db``.

    Looks in ``$PYDAPTER_MARIADB_BINDIR``, then ``/usr/sbin`` and ``/usr/bin``, then PATH
    (``mariadbd`` lives in ``sbin``, which is often not on a user's PATH).
    """
    dirs = [os.environ.get("PYDAPTER_MARIADB_BINDIR", ""), "/usr/sbin", "/usr/bin"]

    def find(name: str) -> Path | None:
        for directory in dirs:
            if directory and (Path(directory) / name).is_file():
                return Path(directory) / name
        found = shutil.which(name)
        return Path(found) if found else None

    mariadbd, install_db = find("mariadbd"), find("mariadb-install-db")
    if mariadbd is None or install_db is None:
        raise MariaDBNotAvailable(
            "MariaDB server binaries (mariadbd, mariadb-install-db) not found; install them "
            "(Debian: apt-get install mariadb-server) or set PYDAPTER_MARIADB_BINDIR"
        )
    return MariaDBBinaries(mariadbd, install_db)


def _system_user() -> str | None:
    """The account mariadbd should switch to, or None to run as ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("mysql")
    except KeyError:
        return "root"  # mariadbd runs as root only when told so explicitly
    return "mysql"


def _sql_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _sql_identifier(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


class MariaDBServer:
    """One throwaway server. Use as a context manager or call start() / stop()."""

    user = "pydapter"

    def __init__(
        self, binaries: MariaDBBinaries | None = None, *, settings: dict[str, str] | None = None
    ) -> None:
        self.binaries = binaries or find_binaries()
        #: Server options added to (or replacing) the defaults, e.g. ``ssl-cert``.
        self.settings = dict(settings or {})
        # Characters that need percent-encoding in a URL.
        self.password = f"pw%{secrets.token_hex(4)}@x"
        self.port = 0
        self.pid: int | None = None
        self.root: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._run_as = _system_user()

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> MariaDBServer:
        """Create the data directory, start mariadbd and wait (60 s at most) for it to answer."""
        self.root = Path(tempfile.mkdtemp(prefix="pydapter-mariadb-"))
        try:
            self._install()
            self._launch()
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        atexit.register(self.stop)
        return self

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 30 s) and delete its files."""
        if self.root is None:
            return
        root, self.root = self.root, None
        atexit.unregister(self.stop)
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()  # mariadbd's clean shutdown
            try:
                process.wait(timeout=_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.pid = None
        shutil.rmtree(root, ignore_errors=True)

    def __enter__(self) -> MariaDBServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _install(self) -> None:
        assert self.root is not None
        self.port = _free_port()
        settings = {
            "datadir": self.root / "data",
            "socket": self.root / "mariadbd.sock",
            "pid-file": self.root / "mariadbd.pid",
            "log-error": self.root / "error.log",
            "tmpdir": self.root,
            "port": self.port,
            **_SERVER_SETTINGS,
            **self.settings,
        }
        lines = [f"{key}={value}" if value != "" else key for key, value in settings.items()]
        (self.root / "my.cnf").write_text("[mariadbd]\n" + "\n".join(lines) + "\n")
        # Run at the end of the bootstrap. The deletes leave root on the socket only (like
        # PostgreSQL's local trust): no passwordless root over TCP, and no root@<hostname>
        # that --skip-name-resolve warns about at every start. The bootstrap has not loaded
        # the grant tables; FLUSH does, or CREATE USER is refused. The install-db script
        # reads this file itself (as us), so it can stay private although it holds the password.
        init = self.root / "init.sql"
        init.touch(mode=0o600)
        init.write_text(
            "DELETE FROM mysql.global_priv WHERE User = 'root' AND Host <> 'localhost';\n"
            "DELETE FROM mysql.proxies_priv WHERE Host <> 'localhost';\n"
            "FLUSH PRIVILEGES;\n"
            f"CREATE USER {_sql_string(self.user)}@'%'"
            f" IDENTIFIED BY {_sql_string(self.password)};\n"
            # ALL on *.* includes PROCESS (other sessions in the process list).
            f"GRANT ALL PRIVILEGES ON *.* TO {_sql_string(self.user)}@'%' WITH GRANT OPTION;\n"
        )
        if self._run_as is not None:
            shutil.chown(self.root, self._run_as, self._run_as)
        command = [
            str(self.binaries.install_db),
            # --defaults-file must come first; it keeps /etc/mysql out.
            f"--defaults-file={self.root / 'my.cnf'}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            f"--extra-file={init}",
            *self._user_options(),
        ]
        try:
            result = subprocess.run(command, capture_output=True, text=True, check=False)
        finally:
            init.unlink()
        if result.returncode != 0:
            raise subprocess.CalledProcessError(
                result.returncode, command, result.stdout, f"{result.stderr}\n{self._log_tail()}"
            )

    def _launch(self) -> None:
        assert self.root is not None
        command = [
            str(self.binaries.mariadbd),
            f"--defaults-file={self.root / 'my.cnf'}",
            *self._user_options(),
        ]
        # Errors before the error log opens (bad options) go to stderr.
        with open(self.root / "console.log", "wb") as console:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                # A Ctrl-C at the terminal goes to pytest alone, whose teardown stops the server.
                start_new_session=True,
            )
        self.pid = self._process.pid

    def _wait_until_ready(self) -> None:
        import pymysql

        assert self._process is not None
        deadline = time.monotonic() + _START_TIMEOUT
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"mariadbd exited with code {self._process.returncode} before "
                    f"accepting connections:\n{self._log_tail()}"
                )
            try:
                # A read timeout too: a stranger on our port may accept and never greet.
                self._connect(connect_timeout="2", read_timeout="2").close()
                return
            except pymysql.err.OperationalError as exc:
                if exc.args and exc.args[0] == _ER_ACCESS_DENIED:
                    raise  # up, but our user is wrong: waiting will not help
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"mariadbd did not accept connections on port {self.port} within "
                        f"{_START_TIMEOUT:.0f} s:\n{self._log_tail()}"
                    ) from None
                time.sleep(0.05)

    def _user_options(self) -> list[str]:
        return [] if self._run_as is None else [f"--user={self._run_as}"]

    def _log_tail(self) -> str:
        if self.root is None:
            return ""
        parts = []
        for name in ("console.log", "error.log"):
            path = self.root / name
            text = path.read_text(errors="replace") if path.exists() else ""
            if text.strip():
                parts.append(text[-2000:])
        return "\n".join(parts)

    # -- databases ---------------------------------------------------------

    def _connect(self, **query: str) -> Any:
        """A PyMySQL connection to the server, opened like every connection of the project."""
        from ..connections import connect

        url = self.url("") + ("?" + urlencode(query) if query else "")
        return connect(url, purpose="test server").connection

    def url(self, database: str, driver: str = "mysql+pymysql") -> str:
        """A URL with the password, e.g. ``mysql+pymysql://pydapter:...@127.0.0.1:3307/db``."""
        password = quote(self.password, safe="")
        return f"{driver}://{self.user}:{password}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str | None = None) -> str:
        """Create a fresh database; return its name."""
        name = name or f"t_{secrets.token_hex(6)}"
        with self._connect() as conn, conn.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {_sql_identifier(name)}")
        return name
