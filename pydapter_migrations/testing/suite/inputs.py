"""Bad input is refused with the right error type and changes nothing, and the database
password never reaches a file or an error."""

from __future__ import annotations

import functools
import inspect
import traceback
from collections.abc import Callable, Iterator
from dataclasses import replace
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
        bad_urls: list[Any] = [
            "not a url",
            "sqlite://somehost/x.db",
            "postgresql://u:p@h:notaport/db",
            "sqlite+nosuchdriver:///" + str(tmp_path / "x.db"),
            "sqlite:///" + str(tmp_path / "a?b.db"),  # '?' starts a query: refused, not cut
            "postgresql://app:SECRET@TAIL@127.0.0.1/db",  # an unencoded '@' in the password
            b"sqlite:///x.db",
            "sqlite://",  # in memory: whatever it applied would be gone at once
        ]
        for bad in bad_urls:
            with pytest.raises(MigrationUpgradeError) as up:
                self.upgrade(directory, bad)
            with pytest.raises(MigrationDowngradeError) as down:
                self.downgrade(directory, bad, "base")
            for error in (up.value, down.value):
                assert "SECRET" not in str(error) and "TAIL" not in str(error)
        for timeout in (float("nan"), float("inf"), -1, "5"):
            with pytest.raises(MigrationUpgradeError, match="lock_timeout"):
                self.upgrade(directory, url, lock_timeout=timeout)
            if self.adapter.supports_sql:  # checked when printing the SQL too
                with pytest.raises(MigrationUpgradeError, match="lock_timeout"):
                    self.upgrade(directory, url, lock_timeout=timeout, sql=True)
                with pytest.raises(MigrationDowngradeError, match="lock_timeout"):
                    self.downgrade(directory, url, "base", lock_timeout=timeout, sql=True)
        with pytest.raises(MigrationUpgradeError, match="not a directory"):
            self.upgrade(not_empty / "keep.txt", url)
        assert snapshot(tmp_path) == before
        assert db.kit_tables() == set()
        self.upgrade(directory, url)
        assert self.current(directory, url) == revisions[-1]

        with pytest.raises(AdapterNotFoundError) as not_found:
            get_adapter("no_such_backend_key")
        assert key in str(not_found.value)

    def test_unknown_keywords_are_refused_before_anything_is_touched(
        self, tmp_path: Path, directory: Path, url: str, db: KitDatabase
    ) -> None:
        fresh = tmp_path / "fresh"
        with pytest.raises(TypeError, match="'model_module'"):
            self.call("init_migrations", str(fresh), connection_string=url, model_module="x")
        assert not fresh.exists()
        self.chain(directory, url, 2)
        self.upgrade(directory, url)
        before, tables = snapshot(tmp_path), db.kit_tables()
        where = {"directory": str(directory), "connection_string": url}
        calls: list[tuple[str, tuple[Any, ...], str]] = [
            ("create_migration", ("x",), "autogen"),
            ("upgrade", ("head",), "revison"),
            ("downgrade", ("base",), "dry_run"),  # a typo must never drop every table
            ("get_current_revision", (), "verbose"),
            ("get_migration_history", (), "revison"),
        ]
        for method, args, unknown in calls:
            with pytest.raises(TypeError, match=f"'{unknown}'"):
                self.call(method, *args, **where, **{unknown: True})
        assert snapshot(tmp_path) == before
        assert db.kit_tables() == tables

    @requires("sqlite_file")
    def test_read_calls_never_create_a_database(self, tmp_path: Path, directory: Path) -> None:
        self.chain(directory, f"sqlite:///{tmp_path / 'unused.db'}", 1)
        missing = tmp_path / "typo" / "app.db"
        missing.parent.mkdir()
        url = f"sqlite:///{missing}"
        assert self.current(directory, url) is None
        assert [h["applied"] for h in self.history(directory, url)] == [False]
        assert self.call("verify", directory=str(directory), connection_string=url) == []
        assert list(missing.parent.iterdir()) == [], "a read call created a file"

    @requires("postgresql")
    def test_url_parameters_reach_every_connection(
        self, directory: Path, url: str, db: KitDatabase
    ) -> None:
        # Ordinary libpq parameters work with every driver, sync or async: the revision
        # records the settings of the session that ran it.
        self.init(directory, url)
        record = (
            "INSERT INTO kit_settings SELECT current_setting('application_name'),"
            " current_setting('search_path'), current_setting('client_connection_check_interval')"
        )
        first = self.new(directory, url, "settings",
                         ["CREATE TABLE kit_settings (app text, path text, checks text)", record],
                         ["DROP TABLE kit_settings"])  # fmt: skip
        query = "?sslmode=disable&connect_timeout=5&application_name=kitapp" + (
            "&options=-c%20search_path%3Dpublic,kit"
        )
        self.upgrade(directory, url + query)
        assert db.query("SELECT * FROM kit_settings") == [("kitapp", "public,kit", "1s")]
        self.downgrade(directory, url + "?ssl=disable", "base")  # asyncpg's spelling
        assert db.kit_tables() == set()
        # Requiring TLS from the URL reaches the driver (the test server has none).
        with pytest.raises(MigrationUpgradeError, match=r"(?i)ssl"):
            self.upgrade(directory, url + "?sslmode=require")
        with pytest.raises(MigrationUpgradeError, match=r"no_such_parameter"):
            self.upgrade(directory, url + "?no_such_parameter=1")
        assert self.current(directory, url) is None and first

    @requires("mysql")
    def test_mysql_url_parameters_reach_every_connection(
        self, directory: Path, url: str, db: KitDatabase
    ) -> None:
        # The connection parameters a MySQL URL may carry work with every driver, sync or
        # async: the revision records the settings of the session that ran it.
        self.init(directory, url)
        record = "INSERT INTO kit_settings SELECT @@session.wait_timeout, @@character_set_client"
        self.new(directory, url, "settings",
                 ["CREATE TABLE kit_settings (waits integer, charset varchar(64))", record],
                 ["DROP TABLE kit_settings"])  # fmt: skip
        query = "?connect_timeout=5&charset=utf8mb4&init_command=SET%20wait_timeout%3D4321"
        self.upgrade(directory, url + query)
        assert db.query("SELECT * FROM kit_settings") == [(4321, "utf8mb4")]
        self.downgrade(directory, url + "?read_timeout=30", "base")
        assert db.kit_tables() == set()
        # Requiring TLS from the URL reaches the driver (the test server has none).
        with pytest.raises(MigrationUpgradeError, match=r"(?i)ssl|tls"):
            self.upgrade(directory, url + "?ssl_verify_cert=false")
        with pytest.raises(MigrationUpgradeError, match=r"no_such_parameter"):
            self.upgrade(directory, url + "?no_such_parameter=1")
        assert self.current(directory, url) is None

    @requires("password_in_url")
    def test_password_never_reaches_frames_of_a_failed_call(
        self, directory: Path, url: str, db: KitDatabase
    ) -> None:
        # An error tracker records the local variables of every frame of a traceback, of
        # every error chained to it (__cause__ and __context__ alike), and the attributes
        # of each error; none may hold a password, wherever the URL carried it.
        parsed = DatabaseURL.parse(url)
        secrets = parsed.secrets()
        self.chain(directory, url, 1)
        self.new(directory, url, "fails", ["INSERT INTO kit_no_such_table VALUES (1)"], [])
        plain = parsed.render(hide_password=False)
        anonymous = replace(parsed, password=None)

        def with_query(base: DatabaseURL, **query: str) -> str:
            return replace(base, query={**base.query, **query}).render(hide_password=False)

        targets = {
            "a failing revision": url,
            "a wrong password": plain.replace(secrets[0], "wr0ng"),
            "a wrong password in the query": with_query(anonymous, password="wr0ngq"),
            "a refused parameter beside ?password=": with_query(
                anonymous, password="wr0ngq", no_such_parameter="1"
            ),
            "a refused parameter beside ?sslpassword=": with_query(
                parsed, sslpassword="wr0ngs", no_such_parameter="1"
            ),
            "a bad port": plain.replace(f":{parsed.port}/", ":54x2/"),
        }
        words = (*secrets, "wr0ng", "wr0ngq", "wr0ngs")
        for label, target in targets.items():
            calls: list[Callable[[], Any]] = [functools.partial(self.upgrade, directory, target)]
            if target != url:
                calls.append(functools.partial(self.current, directory, target))
            for call in calls:
                with pytest.raises(MigrationError) as info:
                    call()
                for where, text in _reachable_texts(info.value, str(Path(__file__).parent.parent)):
                    for word in words:
                        assert word not in text, f"{label}: {where} holds a password: {text[:80]}"

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
        # The password may also travel in the query string, where libpq takes it too.
        parsed = DatabaseURL.parse(url)
        in_query = replace(parsed, password=None, query={**parsed.query, "password": "wr0ngq"})
        with pytest.raises(MigrationError) as queried:
            self.upgrade(directory, in_query.render(hide_password=False))
        for error, secret_forms in (
            (info.value, secrets),
            (refused.value, (*secrets, "wr@ng%pass", "wr%40ng%25pass")),
            (queried.value, ("wr0ngq",)),
        ):
            text = "".join(traceback.format_exception(error))
            for secret in secret_forms:
                assert secret not in text, "a password reached an error or its traceback"
        for path in directory.rglob("*"):
            if path.is_file():
                content = path.read_bytes()
                for secret in secrets:
                    assert secret.encode() not in content, f"the password is in {path}"


def _frame_locals(error: BaseException, skip: str) -> Iterator[tuple[str, Any]]:
    """Every local variable of every frame in ``error``'s tracebacks and their causes,
    except the frames of files under ``skip`` (the kit itself: the caller's side)."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [error]
    while todo:
        exc = todo.pop()
        if exc is None or id(exc) in seen:
            continue
        seen.add(id(exc))
        tb = exc.__traceback__
        while tb is not None:
            code = tb.tb_frame.f_code
            if not code.co_filename.startswith(skip):
                for name, value in tb.tb_frame.f_locals.items():
                    yield f"{code.co_filename}:{code.co_name}:{name}", value
            tb = tb.tb_next
        todo += [exc.__cause__, exc.__context__]


def _reachable_texts(error: BaseException, skip: str) -> Iterator[tuple[str, str]]:
    """What an error tracker could record of ``error``: the ``repr`` of every frame
    variable (frames of files under ``skip`` excepted) and the text of every attribute,
    a few levels deep, of it and of each exception chained to it."""
    for where, value in _frame_locals(error, skip):
        yield where, _safe_repr(value)
    seen: set[int] = set()
    todo: list[BaseException | None] = [error]
    while todo:
        exc = todo.pop()
        if exc is None or id(exc) in seen:
            continue
        seen.add(id(exc))
        yield from _attribute_texts(type(exc).__name__, exc)
        todo += [exc.__cause__, exc.__context__, getattr(exc, "orig", None)]


def _attribute_texts(name: str, root: BaseException, depth: int = 4) -> Iterator[tuple[str, str]]:
    """``root``'s attributes (psycopg's failed ``pgconn`` and its connection options...)
    as text, ``depth`` levels deep; chained exceptions are walked on their own."""
    seen: set[int] = set()
    todo: list[tuple[str, Any, int]] = [(name, root, 0)]
    while todo and len(seen) < 5000:
        where, value, level = todo.pop()
        if id(value) in seen or value is None or isinstance(value, bool | int | float):
            continue
        seen.add(id(value))
        if isinstance(value, str | bytes | bytearray):
            yield where, value if isinstance(value, str) else bytes(value).decode(errors="replace")
            continue
        if (level and isinstance(value, BaseException)) or isinstance(value, type):
            continue
        yield where, _safe_repr(value)
        if level >= depth or inspect.ismodule(value) or inspect.isroutine(value):
            continue
        if isinstance(value, dict):
            todo += [(f"{where}[{k!r}]", v, level + 1) for k, v in value.items()]
        elif isinstance(value, list | tuple | set | frozenset):
            todo += [(f"{where}[{i}]", v, level + 1) for i, v in enumerate(value)]
        else:
            for attribute in dir(value):
                if attribute.startswith("__") or attribute in ("with_traceback", "add_note"):
                    continue
                try:
                    child = getattr(value, attribute)
                except Exception:
                    continue
                if not inspect.isroutine(child):
                    todo.append((f"{where}.{attribute}", child, level + 1))


def _safe_repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception:
        return ""
