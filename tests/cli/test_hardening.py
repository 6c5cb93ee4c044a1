"""The command line in the hands of a careless or hostile user: secrets in every part of the
URL, a killed migrating connection, library warnings, a database ahead of the code."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import pytest
from cli_testing import Result, Run
from test_backends import write_revision

from pydapter_migrations.locking import database_lock
from pydapter_migrations.testing import KitDatabase
from pydapter_migrations.testing.postgres import PostgresServer
from pydapter_migrations.urls import DatabaseURL

pytestmark = pytest.mark.postgresql


def _project(
    run: Run, tmp_path: Path, key: str, url: str, *bodies: tuple[list[str], list[str]]
) -> list[str]:
    """A ``key`` migration directory with one revision per (upgrade, downgrade) of
    ``bodies``."""
    assert run("-b", key, "--url", url, "init").returncode == 0
    revisions = []
    for n, (up, down) in enumerate(bodies):
        result = run("-b", key, "--url", url, "new", f"step {n}")
        assert result.returncode == 0, result
        revisions.append(result.stdout.splitlines()[-1])
        write_revision(key, tmp_path / "migrations", revisions[-1], up, down)
    return revisions


USERS = (["CREATE TABLE users (id integer)"], ["DROP TABLE users"])


def _one_line_failure(result: Result) -> str:
    assert result.returncode == 1, result
    assert "Traceback" not in result.output and "Warning" not in result.stderr, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result
    return lines[0]


def test_a_password_in_the_query_string_is_masked_everywhere(
    run: Run, tmp_path: Path, postgresql_server: PostgresServer, postgresql_url: str
) -> None:
    parsed = DatabaseURL.parse(postgresql_url)
    password = postgresql_server.password
    url = DatabaseURL(
        "postgresql", parsed.username, None, parsed.host, parsed.port, parsed.database,
        {"password": password, "sslmode": "disable"},
    ).render(hide_password=False)  # fmt: skip
    _project(run, tmp_path, "yoyo", url, USERS)
    forms = DatabaseURL.parse(url).secrets()
    assert forms and all(form in url for form in forms[:1])
    outputs = [
        run("-b", "yoyo", "--url", url, "status"),
        run("-b", "yoyo", "--url", url, "status", "--json"),
        run("-b", "yoyo", "--url", url, "-v", "status"),
    ]
    with database_lock(url, timeout=5):
        outputs.append(run("-b", "yoyo", "--url", url, "upgrade", "--lock-timeout", "0.5"))
        outputs.append(run("-b", "yoyo", "--url", url, "-v", "upgrade", "--lock-timeout", "0.5"))
    assert [r.returncode for r in outputs] == [0, 0, 0, 1, 1], outputs
    assert "password=***" in outputs[0].stdout
    assert "timed out" in outputs[3].stderr
    for result in outputs:
        for form in forms:
            assert form not in result.output, result


def test_an_unencoded_at_sign_in_the_password_shows_no_part_of_it(run: Run) -> None:
    url = "postgresql://app:SECRET@TAIL@127.0.0.1:1/db"
    for args in (["status"], ["-v", "status"], ["upgrade"]):
        result = run("-b", "yoyo", "--url", url, *args)
        assert result.returncode == 1, result
        assert "SECRET" not in result.output and "TAIL" not in result.output, result
        assert "%40" in result.stderr  # how to write it instead


@pytest.mark.parametrize(
    ("template", "password", "pieces"),
    [
        # The documented way to keep a password out of the config file: ${VAR}, put in
        # as it is (not percent-encoded).
        ("postgresql://hostile:${DB_PASSWORD}@127.0.0.1:1/postgres", "h0st#le:p@ss/w%rd?q",
         ["h0st#le", "ss/w", "rd?q", "le:p"]),
        ("postgresql://app:${DB_PASSWORD}@127.0.0.1:1/shop", "Xy7@127.0.0.1/tQilz",
         ["Xy7", "tQilz"]),
        # (each piece long enough never to turn up in a traceback: a line number like 698)
        ("postgresql://app:${DB_PASSWORD}@127.0.0.1:1/shop", "s3cret@k9:Qz8", ["s3cret", "Qz8"]),
        ("postgresql://app@127.0.0.1:1/shop?password=${DB_PASSWORD}", "Wr0ng:S3cr@t/x?#%",
         ["Wr0ng", "S3cr", "t/x"]),
        # Without an '@' the URL is fine, and the value is still a secret everywhere.
        ("postgresql://app:${DB_PASSWORD}@127.0.0.1:1/shop", "k9:98/x?y", ["k9:98/x?y"]),
    ],
)  # fmt: skip
def test_a_password_from_a_config_variable_shows_no_part_of_it(
    run: Run, tmp_path: Path, template: str, password: str, pieces: list[str]
) -> None:
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.pydapter-migrations]\nbackend = "yoyo"\n'
        f'[tool.pydapter-migrations.envs.prod]\nurl = "{template}"\n'
    )
    env = {"DB_PASSWORD": password}
    assert run("init", env=env).returncode == 0
    for args in (["current"], ["-v", "current"], ["-v", "status", "--json"], ["upgrade"]):
        result = run("-e", "prod", *args, env=env)
        assert result.returncode == 1, result
        for piece in pieces:
            assert piece not in result.output, result
        if "@" in password:
            assert "%40" in result.stderr, result


@pytest.mark.parametrize("key", ["alembic", "yoyo", "async_alembic"])
def test_a_killed_migrating_connection_is_one_line(
    run: Run, tmp_path: Path, postgresql_url: str, key: str
) -> None:
    url = DatabaseURL.parse(postgresql_url)
    url = url.asynchronous() if key.startswith("async") else url
    text = url.render(hide_password=False)
    _project(
        run, tmp_path, key, text,
        (["CREATE TABLE slow (id integer)", "SELECT pg_sleep(5)"], ["DROP TABLE slow"]),
    )  # fmt: skip
    db = KitDatabase(DatabaseURL.parse(postgresql_url))

    def kill_when_running() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            running = db.query(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(5)%'"
            )
            if running[0][0]:
                # every session of the run: the lock's and, for asyncpg, Alembic's own
                db.query(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                    "application_name LIKE 'pydapter-migrations%' AND pid <> pg_backend_pid()"
                )
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_when_running)
    killer.start()
    result = run("-b", key, "--url", text, "upgrade")
    killer.join()
    line = _one_line_failure(result)
    assert "lost the migration lock" in line or "terminat" in line, line
    assert db.query("SELECT to_regclass('slow')") == [(None,)]


def test_library_warnings_stay_off_the_terminal_unless_verbose(
    run: Run, tmp_path: Path, sqlite_url: str
) -> None:
    _project(run, tmp_path, "alembic", sqlite_url, USERS)
    [path] = (tmp_path / "migrations" / "versions").glob("*.py")
    path.write_text(
        path.read_text().replace(
            "def upgrade() -> None:\n",
            "def upgrade() -> None:\n    import warnings\n"
            "    warnings.warn('mind the gap', UserWarning)\n",
        )
    )
    quiet = run("-b", "alembic", "--url", sqlite_url, "upgrade")
    assert quiet.returncode == 0, quiet
    assert "mind the gap" not in quiet.output and quiet.stderr == "", quiet
    run("-b", "alembic", "--url", sqlite_url, "downgrade", "base")
    verbose = run("-b", "alembic", "--url", sqlite_url, "-v", "upgrade")
    assert verbose.returncode == 0 and "mind the gap" in verbose.stderr, verbose


@pytest.mark.parametrize("key", ["alembic", "yoyo"])
def test_a_database_ahead_of_the_directory(
    run: Run, tmp_path: Path, sqlite_url: str, key: str
) -> None:
    first, second = _project(run, tmp_path, key, sqlite_url, USERS, (["SELECT 1"], ["SELECT 1"]))
    assert run("-b", key, "--url", sqlite_url, "upgrade").returncode == 0
    older = tmp_path / "older"
    shutil.copytree(tmp_path / "migrations", older)
    for file in (older / "versions").iterdir():
        if file.name.startswith(second) or f"'{second}'" in file.read_text(errors="replace"):
            file.unlink()
    args = ["-b", key, "--url", sqlite_url, "-d", str(older)]
    status = run(*args, "status")
    assert status.returncode == 1 and "does not contain" in status.stdout, status
    assert "pending" not in status.stdout
    report = json.loads(run(*args, "status", "--json").stdout)
    assert [p["revision"] for p in report["problems"]] == [second]
    assert run(*args, "verify").returncode == 1
    assert [p["revision"] for p in json.loads(run(*args, "verify", "--json").stdout)] == [second]
    line = _one_line_failure(run(*args, "upgrade"))
    assert second in line and "does not contain" in line
    ok = run("-b", key, "--url", sqlite_url, "verify")
    assert ok.returncode == 0 and first


@pytest.mark.parametrize("key", ["alembic", "yoyo"])
def test_stamp_adopts_a_database_built_by_other_means(
    run: Run, tmp_path: Path, sqlite_url: str, key: str
) -> None:
    first, second = _project(run, tmp_path, key, sqlite_url, USERS, (["SELECT 1"], ["SELECT 1"]))
    KitDatabase(DatabaseURL.parse(sqlite_url)).query("CREATE TABLE users (id integer)")
    args = ["-b", key, "--url", sqlite_url]
    stamped = run(*args, "stamp", first)
    assert stamped.returncode == 0, stamped
    assert f"the database now records {first}; nothing was run" in stamped.stdout
    assert run(*args, "current").stdout.strip() == first
    upgraded = run(*args, "upgrade")
    assert upgraded.returncode == 0 and f"applied {second}" in upgraded.stdout, upgraded
    assert run(*args, "stamp", "base").returncode == 0
    assert run(*args, "current").stdout.strip() == "(nothing applied)"
    assert "users" in KitDatabase(DatabaseURL.parse(sqlite_url)).tables()
