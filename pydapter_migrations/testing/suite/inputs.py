"""Bad input is refused with the right error type and changes nothing, and the database
password never reaches a file or an error."""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

import pytest

from ... import (
    AdapterNotFoundError,
    MigrationCreationError,
    MigrationDowngradeError,
    MigrationError,
    MigrationInitError,
    MigrationUpgradeError,
    get_adapter,
)
from ...urls import DatabaseURL
from ..requirements import requires
from ._database import KitDatabase
from ._support import SuiteBase, snapshot

__all__ = ["InputsSuite"]


class InputsSuite(SuiteBase):
    """Bad directories, messages and URLs; the password."""

    def test_bad_inputs_raise_their_type_and_change_nothing(
        self, tmp_path: Path, directory: Path, url: str, db: KitDatabase
    ) -> None:
        key = self.adapter.migration_key
        missing = tmp_path / "missing"
        empty = tmp_path / "empty"
        empty.mkdir()
        for where in (missing, empty):
            before = snapshot(tmp_path)
            calls: list[tuple[type[MigrationError], str, tuple[Any, ...]]] = [
                (MigrationCreationError, "create_migration", ("x",)),
                (MigrationUpgradeError, "upgrade", ("head",)),
                (MigrationDowngradeError, "downgrade", ("base",)),
                (MigrationError, "get_current_revision", ()),
                (MigrationError, "get_migration_history", ()),
            ]
            for error_type, method, args in calls:
                with pytest.raises(error_type) as info:
                    self.call(method, *args, directory=str(where), connection_string=url)
                assert info.value.adapter == key
            assert snapshot(tmp_path) == before, f"a call on {where.name} changed files"

        not_empty = tmp_path / "not_empty"
        not_empty.mkdir()
        (not_empty / "keep.txt").write_text("mine")
        before = snapshot(tmp_path)
        with pytest.raises(MigrationInitError):
            self.call("init_migrations", str(not_empty), connection_string=url)
        assert snapshot(tmp_path) == before

        revisions = self.chain(directory, url, 1)
        before = snapshot(tmp_path)
        with pytest.raises(MigrationInitError):
            self.init(directory, url)
        with pytest.raises(MigrationCreationError):
            self.call("create_migration", "  ", directory=str(directory), connection_string=url)
        if not self.adapter.supports_autogenerate:
            with pytest.raises(MigrationCreationError):
                self.call("create_migration", "auto", autogenerate=True,
                          directory=str(directory), connection_string=url)  # fmt: skip
        bad_urls = ["not a url", "sqlite://somehost/x.db", "postgresql://u:p@h:notaport/db"]
        for bad in bad_urls:
            with pytest.raises(MigrationUpgradeError):
                self.upgrade(directory, bad)
            with pytest.raises(MigrationDowngradeError):
                self.downgrade(directory, bad, "base")
        assert snapshot(tmp_path) == before
        assert db.kit_tables() == set()
        self.upgrade(directory, url)
        assert self.current(directory, url) == revisions[-1]

        with pytest.raises(AdapterNotFoundError) as not_found:
            get_adapter("no_such_backend_key")
        assert key in str(not_found.value)

    @requires("password_in_url")
    def test_password_never_reaches_files_or_errors(
        self, directory: Path, url: str, db: KitDatabase
    ) -> None:
        secrets = DatabaseURL.parse(url).secrets()
        self.chain(directory, url, 1)
        self.upgrade(directory, url)
        self.new(directory, url, "fails", ["INSERT INTO kit_no_such_table VALUES (1)"], [])
        with pytest.raises(MigrationUpgradeError) as info:
            self.upgrade(directory, url)
        wrong = DatabaseURL.parse(url)
        wrong_url = wrong.render(hide_password=False).replace(secrets[0], "wr%40ng%25pass")
        with pytest.raises(MigrationError) as refused:
            self.upgrade(directory, wrong_url)
        for error, secret_forms in (
            (info.value, secrets),
            (refused.value, (*secrets, "wr@ng%pass", "wr%40ng%25pass")),
        ):
            text = "".join(traceback.format_exception(error))
            for secret in secret_forms:
                assert secret not in text, "a password reached an error or its traceback"
        for path in directory.rglob("*"):
            if path.is_file():
                content = path.read_bytes()
                for secret in secrets:
                    assert secret.encode() not in content, f"the password is in {path}"
