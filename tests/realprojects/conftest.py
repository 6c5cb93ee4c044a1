"""Real public projects, adopted unchanged: MLflow's and Optuna's Alembic migrations and the
yoyo folders of biocommons.seqrepo and riego, as their wheels ship them.

These tests need those projects installed (``tox -e realprojects`` installs them), so the
default run leaves this folder out: it is collected when ``PYDAPTER_REALPROJECTS=1`` (set by
that tox environment) or when it is named on the command line
(``pytest tests/realprojects``). Where it is collected, a project that is not installed is
a failure under ``CI=true`` or ``PYDAPTER_REALPROJECTS=1``, and a skip otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from realprojects_support import Database, collected_by_default

HERE = Path(__file__).resolve().parent


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Leave this folder's tests out unless asked for (see the module's docstring)."""
    if collection_path.parent != HERE or collected_by_default():
        return None
    named = [Path(arg.split("::")[0]).resolve() for arg in config.args]
    if any(path == HERE or HERE in path.parents for path in named):
        return None
    return True


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.postgresql),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ]
)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def new_database(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Callable[[str], Database]:
    """``new_database(name)``: a fresh, empty database of the test's backend."""

    def make(name: str) -> Database:
        if backend == "sqlite":
            return Database.sqlite(tmp_path / "databases" / f"{name}.db")
        server = request.getfixturevalue(f"{backend}_server")
        return getattr(Database, backend)(server, server.create_database())

    return make
