"""A URL that names a PostgreSQL driver runs with that driver where yoyo has a backend for
it (psycopg 3, psycopg2); pg8000 URLs run with psycopg, as documented."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydapter_migrations_yoyo import YoyoAdapter
from yoyo_helpers import query

pytestmark = pytest.mark.postgresql

RECORD_DRIVER = """\
from yoyo import step


def record(conn):
    cursor = conn.cursor()
    cursor.execute("CREATE TABLE drivers (name text)")
    cursor.execute("INSERT INTO drivers VALUES ('%s')" % type(conn).__module__.split(".")[0])


steps = [step(record, "DROP TABLE drivers")]
"""


@pytest.mark.parametrize(
    ("scheme", "module"),
    [
        ("postgresql", "psycopg"),
        ("postgresql+psycopg", "psycopg"),
        ("postgresql+psycopg2", "psycopg2"),
        ("postgresql+pg8000", "psycopg"),  # yoyo has no pg8000 backend
    ],
)
def test_the_named_driver_runs_the_revisions(
    tmp_path: Path, postgresql_url: str, scheme: str, module: str
) -> None:
    pytest.importorskip(module)
    url = scheme + postgresql_url[postgresql_url.index("://") :]
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001-drivers.py").write_text(RECORD_DRIVER)
    YoyoAdapter.upgrade(directory=folder, connection_string=url)
    assert query(postgresql_url, "SELECT name FROM drivers") == [(module,)]
    YoyoAdapter.downgrade("base", directory=folder, connection_string=url)
    assert YoyoAdapter.get_current_revision(directory=folder, connection_string=url) is None
