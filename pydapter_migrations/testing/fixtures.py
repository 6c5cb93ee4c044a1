"""pytest fixtures for adapter tests, loaded automatically through the ``pytest11`` entry point.

* ``postgresql_server``: a throwaway cluster for the session (skipped when PostgreSQL is
  not installed, except under ``CI=true`` where that is a failure).
* ``postgresql_url``: a fresh database on it for each test, as a URL with a password.
* ``mariadb_server``: a throwaway MariaDB server for the session (same skip / fail rule).
* ``mariadb_url``: a fresh database on it for each test, as a ``mysql+pymysql://`` URL.
* ``sqlite_url``: a SQLite file in the test's temporary directory.
* ``migration_database`` and ``migration_checks``: for a project's own migrations (see
  :mod:`pydapter_migrations.testing.checks`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from .checks import MigrationChecks
from .mariadb import MariaDBNotAvailable, MariaDBServer
from .postgres import PostgresNotAvailable, PostgresServer


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def postgresql_server() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster started for this test session and removed after it."""
    try:
        server = PostgresServer()
    except PostgresNotAvailable as exc:
        if _in_ci():
            pytest.fail(f"CI=true but {exc}", pytrace=False)
        pytest.skip(str(exc))
    with server:
        yield server


@pytest.fixture
def postgresql_url(postgresql_server: PostgresServer) -> str:
    """A URL (``postgresql://`` with a password) of a database created for this test."""
    return postgresql_server.url(postgresql_server.create_database())


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[MariaDBServer]:
    """A MariaDB server started for this test session and removed after it."""
    try:
        server = MariaDBServer()
    except MariaDBNotAvailable as exc:
        if _in_ci():
            pytest.fail(f"CI=true but {exc}", pytrace=False)
        pytest.skip(str(exc))
    with server:
        yield server


@pytest.fixture
def mariadb_url(mariadb_server: MariaDBServer) -> str:
    """A URL (``mysql+pymysql://`` with a password) of a database created for this test."""
    return mariadb_server.url(mariadb_server.create_database())


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A URL of a SQLite file in this test's temporary directory."""
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.postgresql),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ]
)
def each_database_url(request: pytest.FixtureRequest) -> str:
    """The test once per database kind: ``sqlite_url``, ``postgresql_url`` and
    ``mariadb_url`` in turn (marked ``postgresql`` / ``mariadb`` for ``-m`` selection)."""
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
def migration_database(tmp_path: Path) -> str:
    """A fresh SQLite database's URL, for checking a project's own migrations."""
    return f"sqlite:///{tmp_path / 'migration-checks.db'}"


@pytest.fixture
def migration_checks(migration_database: str) -> MigrationChecks:
    """:func:`~pydapter_migrations.testing.assert_round_trip` and its companions, bound to
    ``migration_database``."""
    return MigrationChecks(migration_database)
