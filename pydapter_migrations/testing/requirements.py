"""What the conformance kit's tests need, and a way for an adapter to switch tests off.

A kit test declares the capabilities it needs with :func:`requires`; before it runs, the
suite's ``requirements`` class (:class:`Requirements` unless the adapter's suite sets its
own) judges each one, and the test is skipped with the reasons of those not met::

    class MyRequirements(Requirements):
        @property
        def password_in_url(self) -> Requirement:
            return Requirement.unmet("our test server only trusts local connections")

    class TestMyAdapter(BaseMigrationSuite):
        requirements = MyRequirements
        ...

Only what an adapter may legitimately lack is a requirement; every other kit test is part
of the contract and has no switch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from ..urls import DatabaseURL

__all__ = ["Requirement", "Requirements", "required", "requires"]

_Test = TypeVar("_Test", bound=Callable[..., Any])
_MARK = "__kit_requires__"
#: The database family of each suite ``database`` that is not a family's own name.
_FAMILIES = {"mariadb": "mysql"}


@dataclass(frozen=True)
class Requirement:
    """Whether one capability is there; ``reason`` says why not, in the skip message."""

    satisfied: bool
    reason: str = ""

    def __post_init__(self) -> None:
        # A test switched off without a reason would be a skip nobody can judge.
        if not self.satisfied and not self.reason.strip():
            raise ValueError("an unmet requirement must say why")

    @classmethod
    def met(cls) -> Requirement:
        """The capability is there: tests that need it run."""
        return cls(True)

    @classmethod
    def unmet(cls, reason: str) -> Requirement:
        """The capability is missing: tests that need it are skipped with ``reason``."""
        return cls(False, reason)

    @classmethod
    def only_if(cls, condition: bool, reason: str) -> Requirement:
        """Met when ``condition`` holds, else unmet with ``reason``."""
        return cls.met() if condition else cls.unmet(reason)


class Requirements:
    """The capabilities of the adapter and database under test, one property each.

    Built for every kit test that declares requirements. ``url`` is the test database's
    URL; it is resolved only when a property reads it, so tests that need nothing of the
    database do not start one.
    """

    def __init__(self, adapter: type[Any], database: str, url: Callable[[], str]) -> None:
        self.adapter = adapter
        self.database = database
        self._url = url

    @property
    def url(self) -> DatabaseURL:
        """The URL of the test's database (created on first use)."""
        return DatabaseURL.parse(self._url())

    @property
    def family(self) -> str:
        """The database family of the suite's ``database`` (``mariadb`` is ``mysql``)."""
        return _FAMILIES.get(self.database, self.database)

    @property
    def sql_rendering(self) -> Requirement:
        """``upgrade(..., sql=True)`` returns the SQL instead of running it."""
        return Requirement.only_if(
            bool(self.adapter.supports_sql),
            f"{self.adapter.__name__} does not declare supports_sql",
        )

    @property
    def async_adapter(self) -> Requirement:
        """The adapter's methods are coroutines (the async-only tests need a loop to share)."""
        return Requirement.only_if(bool(self.adapter.is_async), "the adapter is synchronous")

    @property
    def password_in_url(self) -> Requirement:
        """The test database's URL has a password, so the kit can check it never leaks."""
        return Requirement.only_if(bool(self.url.secrets()), "this database URL has no password")

    @property
    def lock_can_be_lost(self) -> Requirement:
        """The database's lock lives in a session the test can end (PostgreSQL, MySQL)."""
        return Requirement.only_if(
            self.family in ("postgresql", "mysql"),
            f"a {self.database} lock is not held by a session that can be ended",
        )

    @property
    def transactional_ddl(self) -> Requirement:
        """DDL runs inside a revision's transaction, so a failing or killed revision
        leaves nothing of itself (SQLite, PostgreSQL). On MySQL and MariaDB the tests
        needing :attr:`implicit_ddl_commit` check what happens there instead."""
        return Requirement.only_if(
            self.family != "mysql",
            f"{self.database} commits implicitly before and after DDL, so a revision's "
            "DDL cannot be rolled back (the implicit_ddl_commit tests cover it instead)",
        )

    @property
    def implicit_ddl_commit(self) -> Requirement:
        """The database commits implicitly around DDL (MySQL, MariaDB): a failing revision
        can leave part of itself committed, and the tests check what a run says then."""
        return Requirement.only_if(
            self.family == "mysql",
            f"{self.database} runs DDL inside transactions (the transactional_ddl tests cover it)",
        )

    @property
    def dirty_state(self) -> Requirement:
        """The core records a revision that started and never finished, refuses later
        runs until it is repaired, and repairs it: met for every adapter, since the core
        does it; an adapter's own ``requirements`` may say otherwise."""
        return Requirement.met()

    @property
    def sqlite_file(self) -> Requirement:
        """The database is a SQLite file (journal recovery, read calls and paths)."""
        return Requirement.only_if(self.database == "sqlite", "the database is not SQLite")

    @property
    def postgresql(self) -> Requirement:
        """The database is PostgreSQL (its connection parameters and session settings)."""
        return Requirement.only_if(self.database == "postgresql", "the database is not PostgreSQL")

    @property
    def mysql(self) -> Requirement:
        """The database is MySQL or MariaDB (its connection parameters and settings)."""
        return Requirement.only_if(self.family == "mysql", "the database is not MySQL or MariaDB")

    def unmet(self, names: Iterable[str]) -> list[Requirement]:
        """The requirements among ``names`` that are not met, in order."""
        judged = []
        for name in names:
            requirement = getattr(self, name, None)
            if not isinstance(requirement, Requirement):
                raise TypeError(f"{type(self).__name__}.{name} is not a Requirement property")
            if not requirement.satisfied:
                judged.append(requirement)
        return judged


def requires(*names: str) -> Callable[[_Test], _Test]:
    """Declare that a kit test needs these :class:`Requirements` properties."""
    if not names:
        raise TypeError("requires() needs at least one requirement name")

    def declare(test: _Test) -> _Test:
        setattr(test, _MARK, (*required(test), *names))
        return test

    return declare


def required(test: Callable[..., Any]) -> tuple[str, ...]:
    """The requirement names ``test`` declared with :func:`requires` (none: empty)."""
    names: tuple[str, ...] = getattr(test, _MARK, ())
    return names
