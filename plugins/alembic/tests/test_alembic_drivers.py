"""A URL that names a PostgreSQL driver runs with that driver: an adopted project keeps the
driver its SQL was written for."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic_helpers import write_revision_bodies
from pydapter_migrations_alembic import AlembicAdapter

from pydapter_migrations.testing import KitDatabase
from pydapter_migrations.urls import DatabaseURL

pytestmark = pytest.mark.postgresql

RECORD_DRIVER = """\
    bind = op.get_bind()
    module = type(bind.connection.dbapi_connection).__module__.split(".")[0]
    op.execute(sa.text("CREATE TABLE drivers (name text)"))
    op.execute(sa.text("INSERT INTO drivers VALUES (:m)").bindparams(m=module))"""


@pytest.mark.parametrize(
    ("scheme", "module"),
    [
        ("postgresql", "psycopg"),  # bare: psycopg 3 (SQLAlchemy's own default is psycopg2)
        ("postgresql+psycopg", "psycopg"),
        ("postgresql+psycopg2", "psycopg2"),
        ("postgresql+pg8000", "pg8000"),
    ],
)
def test_the_named_driver_runs_the_revisions(
    tmp_path: Path, postgresql_url: str, scheme: str, module: str
) -> None:
    pytest.importorskip(module)
    url = scheme + postgresql_url[postgresql_url.index("://") :]
    directory = tmp_path / "migrations"
    AlembicAdapter.init_migrations(directory)
    revision = AlembicAdapter.create_migration("record the driver", directory=directory)
    write_revision_bodies(
        directory, revision, RECORD_DRIVER, '    op.execute("DROP TABLE drivers")'
    )
    AlembicAdapter.upgrade(directory=directory, connection_string=url)
    assert KitDatabase(DatabaseURL.parse(postgresql_url)).query("SELECT name FROM drivers") == [
        (module,)
    ]
    assert (
        AlembicAdapter.get_current_revision(directory=directory, connection_string=url) == revision
    )
    AlembicAdapter.downgrade("base", directory=directory, connection_string=url)
    assert "drivers" not in KitDatabase(DatabaseURL.parse(postgresql_url)).tables()
