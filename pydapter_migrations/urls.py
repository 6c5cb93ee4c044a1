"""Database URLs in SQLAlchemy's syntax, parsed without importing SQLAlchemy.

Every backend takes the same URLs. This module parses them once, keeps the password out
of every rendering meant for people, and translates between the sync and async drivers
(``sqlite+aiosqlite`` <-> ``sqlite``, ``postgresql+asyncpg`` <-> ``postgresql+psycopg``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode

__all__ = ["DatabaseURL", "InvalidURLError", "mask_secrets", "url_secrets"]

MASK = "***"

# Same grammar as sqlalchemy.engine.url._parse_url.
_URL_PATTERN = re.compile(
    r"""
    (?P<name>[\w+]+)://
    (?:
        (?P<username>[^:/]*)
        (?::(?P<password>[^@]*))?
    @)?
    (?:
        (?:
            \[(?P<ipv6host>[^/?]+)\] |
            (?P<ipv4host>[^/:?]+)
        )?
        (?::(?P<port>[^/?]*))?
    )?
    (?:/(?P<database>[^?]*))?
    (?:\?(?P<query>.*))?
    $
    """,
    re.VERBOSE | re.DOTALL,
)

_SYNC_TWIN = {
    ("sqlite", "aiosqlite"): "sqlite",
    ("postgresql", "asyncpg"): "postgresql+psycopg",
    ("postgresql", ""): "postgresql+psycopg",
}
_ASYNC_TWIN = {
    ("sqlite", ""): "sqlite+aiosqlite",
    ("sqlite", "pysqlite"): "sqlite+aiosqlite",
    ("postgresql", ""): "postgresql+asyncpg",
    ("postgresql", "psycopg"): "postgresql+asyncpg",
    ("postgresql", "psycopg2"): "postgresql+asyncpg",
}
_ASYNC_DRIVERS = frozenset({"aiosqlite", "asyncpg", "psycopg_async"})
_BACKEND_ALIASES = {"postgres": "postgresql"}


class InvalidURLError(ValueError):
    """A connection string that is not a database URL. Its message never holds a password."""


@dataclass(frozen=True)
class DatabaseURL:
    """A parsed connection string. ``str()`` and ``repr()`` mask the password."""

    drivername: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    host: str | None = None
    port: int | None = None
    database: str | None = None
    query: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, url: str | DatabaseURL) -> DatabaseURL:
        """Parse ``url``; raise :class:`InvalidURLError` (password masked) when it is not one."""
        if isinstance(url, DatabaseURL):
            return url
        if not isinstance(url, str) or not url.strip():
            raise InvalidURLError("the connection string is empty")
        match = _URL_PATTERN.match(url.strip())
        if match is None:
            raise InvalidURLError(
                f"not a database URL: {_mask_unparsed(url)!r} "
                "(expected e.g. sqlite:///app.db or postgresql://user@host/db)"
            )
        parts = match.groupdict()
        port: int | None = None
        if parts["port"]:
            try:
                port = int(parts["port"])
            except ValueError:
                raise InvalidURLError(
                    f"invalid port {parts['port']!r} in {_mask_unparsed(url)!r}"
                ) from None
        password = parts["password"]
        parsed = cls(
            drivername=parts["name"].lower(),
            username=unquote(parts["username"]) if parts["username"] is not None else None,
            password=unquote(password) if password is not None else None,
            host=parts["ipv6host"] or parts["ipv4host"],
            port=port,
            database=unquote(parts["database"]) if parts["database"] else None,
            query=dict(parse_qsl(parts["query"] or "", keep_blank_values=True)),
        )
        parsed._validate()
        return parsed

    def _validate(self) -> None:
        if self.backend == "sqlite" and (self.host or self.username or self.port):
            raise InvalidURLError(
                f"invalid SQLite URL {self}: use sqlite:///relative/path.db, "
                "sqlite:////absolute/path.db or sqlite:// for memory"
            )

    # -- what it points at -------------------------------------------------

    @property
    def backend(self) -> str:
        """The database family: ``sqlite``, ``postgresql``, ..."""
        name = self.drivername.partition("+")[0]
        return _BACKEND_ALIASES.get(name, name)

    @property
    def driver(self) -> str:
        """The driver after ``+``, or ``""`` for the default one."""
        return self.drivername.partition("+")[2]

    @property
    def is_async(self) -> bool:
        return self.driver in _ASYNC_DRIVERS

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite database file, or ``None`` for an in-memory database."""
        if self.backend != "sqlite":
            raise ValueError(f"{self} is not a SQLite URL")
        if not self.database or self.database == ":memory:" or self.query.get("mode") == "memory":
            return None
        return Path(self.database)

    # -- sync <-> async ----------------------------------------------------

    def sync(self) -> DatabaseURL:
        """The same database through a synchronous driver."""
        twin = _SYNC_TWIN.get((self.backend, self.driver))
        return replace(self, drivername=twin) if twin else self

    def asynchronous(self) -> DatabaseURL:
        """The same database through an asyncio driver."""
        twin = _ASYNC_TWIN.get((self.backend, self.driver))
        return replace(self, drivername=twin) if twin else self

    # -- rendering ---------------------------------------------------------

    def render(self, *, hide_password: bool = True) -> str:
        """The URL as text; the password is ``***`` unless ``hide_password=False``."""
        text = f"{self.drivername}://"
        if self.username is not None:
            text += quote(self.username, safe=" +")
            if self.password is not None:
                text += ":" + (MASK if hide_password else quote(self.password, safe=" +"))
            text += "@"
        if self.host is not None:
            text += f"[{self.host}]" if ":" in self.host else self.host
        if self.port is not None:
            text += f":{self.port}"
        if self.database is not None:
            text += "/" + self.database
        if self.query:
            text += "?" + urlencode(dict(self.query))
        return text

    def __str__(self) -> str:
        return self.render()

    def __repr__(self) -> str:
        return f"DatabaseURL({self.render()!r})"

    def secrets(self) -> tuple[str, ...]:
        """The forms in which the password could appear in text, longest first."""
        if not self.password:
            return ()
        forms = {self.password, quote(self.password, safe=""), quote(self.password, safe=" +")}
        return tuple(sorted(forms, key=len, reverse=True))

    def mask(self, text: str) -> str:
        """``text`` with every form of this URL's password replaced by ``***``."""
        return mask_secrets(text, self.secrets())

    # -- connecting --------------------------------------------------------

    def psycopg_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``psycopg.connect`` (query parameters pass through)."""
        if self.backend != "postgresql":
            raise ValueError(f"{self} is not a PostgreSQL URL")
        kwargs: dict[str, Any] = dict(self.query)
        for key, value in (
            ("host", self.host),
            ("port", self.port),
            ("user", self.username),
            ("password", self.password),
            ("dbname", self.database),
        ):
            if value is not None:
                kwargs[key] = value
        return kwargs


def mask_secrets(text: str, secrets: Iterable[str]) -> str:
    """Replace each of ``secrets`` in ``text`` by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text


def url_secrets(text: str) -> tuple[str, ...]:
    """The password forms in a connection string, whether or not it parses as a URL.

    For text that is not a valid URL, everything between ``://user:`` and the last ``@``
    counts as the password: an unencoded ``@`` in it must not reveal its tail.
    """
    try:
        return DatabaseURL.parse(text).secrets()
    except InvalidURLError:
        match = _UNPARSED_PASSWORD.search(str(text))
        if not match or not match.group(1):
            return ()
        raw = match.group(1)
        return tuple(sorted({raw, unquote(raw)}, key=len, reverse=True))


_UNPARSED_PASSWORD = re.compile(r"://[^:/@]*:(.*)@", re.DOTALL)


def _mask_unparsed(text: str) -> str:
    """Best-effort masking for strings that did not parse as URLs (see :func:`url_secrets`)."""
    return re.sub(r"(://[^:/@]*:).*@", rf"\1{MASK}@", str(text), flags=re.DOTALL)
