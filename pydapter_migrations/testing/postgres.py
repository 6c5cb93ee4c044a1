"""A throwaway PostgreSQL cluster for tests: ``initdb`` + ``pg_ctl`` in a temporary directory.

PostgreSQL refuses to run as root; as root the server runs as the ``postgres`` user
through ``runuser``. The cluster listens on 127.0.0.1 (and a unix socket in its
directory), requires a password over TCP, and is removed by :meth:`PostgresServer.stop`.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

__all__ = ["PostgresNotAvailable", "PostgresServer", "find_bindir"]

_SERVER_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "64MB",
}


class PostgresNotAvailable(RuntimeError):
    """No PostgreSQL server binaries were found on this machine."""


def find_bindir() -> Path:
    """The directory holding ``initdb`` and ``pg_ctl``.

    Looks at ``$PYDAPTER_PG_BINDIR``, then ``/usr/lib/postgresql/<newest>/bin``, then PATH.
    """
    candidates = [os.environ.get("PYDAPTER_PG_BINDIR", "")]
    candidates += sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
        reverse=True,
    )
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(str(Path(initdb).parent))
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").exists():
            return Path(candidate)
    raise PostgresNotAvailable(
        "PostgreSQL server binaries (initdb, pg_ctl) not found; install them "
        "(Debian: apt-get install postgresql) or set PYDAPTER_PG_BINDIR"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """One throwaway cluster. Use as a context manager or call start() / stop()."""

    user = "postgres"

    def __init__(self, bindir: Path | None = None) -> None:
        self.bindir = bindir or find_bindir()
        # Characters that need percent-encoding in a URL (and break naive config files).
        self.password = f"pw%{secrets.token_hex(4)}@x"
        self.port = 0
        self.pid: int | None = None
        self.root: Path | None = None
        self._as_postgres = os.geteuid() == 0

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> PostgresServer:
        self.root = Path(tempfile.mkdtemp(prefix="pydapter-pg-"))
        data = self.root / "data"
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
            shutil.chown(pwfile, "postgres", "postgres")
        pwfile.chmod(0o600)
        self._run(
            "initdb", "-D", str(data), "-U", self.user, "-E", "UTF8", "--no-sync",
            "--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={pwfile}",
        )  # fmt: skip
        pwfile.unlink()
        self.port = _free_port()
        options = " ".join(
            [f"-p {self.port}", f"-k {self.root}"]
            + [f"-c {k}={v}" for k, v in _SERVER_SETTINGS.items()]
        )
        self._run(
            "pg_ctl", "-D", str(data), "-l", str(self.root / "server.log"),
            "-o", options, "-w", "-t", "60", "start",
        )  # fmt: skip
        self.pid = int((data / "postmaster.pid").read_text().split()[0])
        atexit.register(self.stop)
        return self

    def stop(self) -> None:
        """Stop the server (by its pid if pg_ctl fails) and delete its files."""
        if self.root is None:
            return
        root, self.root = self.root, None
        if self.pid is not None:
            with contextlib.suppress(subprocess.CalledProcessError, OSError):
                self._run("pg_ctl", "-D", str(root / "data"), "-m", "fast", "-w", "stop")
            self._kill(self.pid)
            self.pid = None
        shutil.rmtree(root, ignore_errors=True)

    @staticmethod
    def _kill(pid: int) -> None:
        deadline = time.monotonic() + 10
        with contextlib.suppress(ProcessLookupError):
            while time.monotonic() < deadline:
                os.kill(pid, 0)
                time.sleep(0.05)
            os.kill(pid, signal.SIGKILL)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bindir / program), *args]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            log = ""
            if self.root is not None and (self.root / "server.log").exists():
                log = (self.root / "server.log").read_text()[-2000:]
            raise subprocess.CalledProcessError(
                result.returncode, command, result.stdout, f"{result.stderr}\n{log}"
            )

    # -- databases ---------------------------------------------------------

    def url(self, database: str = "postgres", driver: str = "postgresql") -> str:
        """A URL with the password, e.g. ``postgresql://postgres:...@127.0.0.1:5432/db``."""
        password = quote(self.password, safe="")
        return f"{driver}://{self.user}:{password}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str | None = None) -> str:
        """Create a fresh database; return its name."""
        from ..connections import connect

        name = name or f"t_{secrets.token_hex(6)}"
        with connect(self.url("postgres"), purpose="test server") as session:
            session.execute(f'CREATE DATABASE "{name}"')
        return name
