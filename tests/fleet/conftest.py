"""Fixtures of the fleet tests: migration projects made once per session and copied."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from fleet_helpers import make_project

Project = Callable[..., tuple[Path, list[str]]]


Made = dict[tuple[object, ...], tuple[Path, list[str]]]


@pytest.fixture(scope="session")
def _made() -> Made:
    return {}


@pytest.fixture
def project(
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    _made: Made,
) -> Project:
    """``project(kind, n, sleep=0.0)``: a copy, in this test's directory, of a migration
    directory of ``n`` self-logging revisions (see ``fleet_helpers.make_project``)."""

    def make(
        kind: str, n: int = 3, *, sleep: float = 0.0, extra: str = ""
    ) -> tuple[Path, list[str]]:
        key = (kind, n, sleep, extra)
        if key not in _made:
            source = tmp_path_factory.mktemp(f"{kind}-{n}") / "migrations"
            ids = make_project(kind, source, n, sleep=sleep)
            if extra:
                extra_file(kind, source, ids, extra)
            _made[key] = (source, ids)
        source, ids = _made[key]
        target = tmp_path / f"migrations-{kind}"
        shutil.copytree(source, target)
        return target, ids

    return make


def extra_file(kind: str, directory: Path, ids: list[str], code: str) -> None:
    """Add ``code`` (indented Python) at the start of the second Alembic revision's upgrade."""
    from pydapter_migrations_alembic.testing import revision_file

    assert kind == "alembic"
    path = revision_file(directory, ids[1])
    text = path.read_text()
    head, sep, body = text.partition("def upgrade() -> None:\n")
    path.write_text(head + sep + code + body)
