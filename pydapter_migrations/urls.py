"""Database URLs in SQLAlchemy's syntax, parsed without importing SQLAlchemy.

Every backend takes the same URLs. This module parses them once, refuses what no driver
could mean (an unknown driver, an unencoded ``@`` in the password, a SQLite path with a
stray ``?``), keeps every secret (the password, and secret query parameters such as
``?password=``) out of every rendering meant for people, and translates between the sync
and async drivers (``sqlite+aiosqlite`` <-> ``sqlite``, ``postgresql+asyncpg`` <->
``postgresql+psycopg``, ``mysql+aiomysql`` <-> ``mysql+pymysql``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode

__all__ = ["DatabaseURL", "InvalidURLError", "Secrets", "mask_secrets", "url_secrets"]

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

_BACKEND_ALIASES = {"postgres": "postgresql", "mariadb": "mysql"}
#: The drivers each database family may name after ``+`` ("" is the family's default).
DRIVERS: Mapping[str, frozenset[str]] = {
    "sqlite": frozenset({"", "pysqlite", "aiosqlite"}),
    "postgresql": frozenset({"", "psycopg", "psycopg2", "pg8000", "asyncpg", "psycopg_async"}),
    "mysql": frozenset({"", "pymysql", "aiomysql", "asyncmy", "mysqldb"}),
}
_ASYNC_DRIVERS = frozenset({"aiosqlite", "asyncpg", "psycopg_async", "aiomysql", "asyncmy"})
# (family, driver) -> the same database through a sync / an asyncio driver.
_SYNC_TWIN = {
    ("sqlite", "aiosqlite"): "",
    # Bare URLs get the drivers this project installs (SQLAlchemy's defaults are
    # psycopg2 and mysqlclient); docs/configuration.md says so.
    ("postgresql", ""): "psycopg",
    ("mysql", ""): "pymysql",
    ("postgresql", "asyncpg"): "psycopg",
    ("postgresql", "psycopg_async"): "psycopg",
    ("mysql", "aiomysql"): "pymysql",
    ("mysql", "asyncmy"): "pymysql",
}
_ASYNC_TWIN = {
    ("sqlite", ""): "aiosqlite",
    ("sqlite", "pysqlite"): "aiosqlite",
    ("postgresql", ""): "asyncpg",
    ("postgresql", "psycopg"): "asyncpg",
    ("postgresql", "psycopg2"): "asyncpg",
    ("postgresql", "pg8000"): "asyncpg",
    ("mysql", ""): "aiomysql",
    ("mysql", "pymysql"): "aiomysql",
    ("mysql", "mysqldb"): "aiomysql",
}
# Query parameters of a SQLite URL that SQLAlchemy's SQLite dialects understand.
_SQLITE_QUERY = frozenset(
    {"mode", "uri", "cache", "immutable", "nolock", "vfs", "modeof", "timeout",
     "check_same_thread", "cached_statements", "detect_types", "isolation_level"}
)  # fmt: skip
# Query parameters whose value is a secret.
_SECRET_QUERY = re.compile(r"pass|pwd|secret|token|credential|api_?key", re.IGNORECASE)


class Secrets(tuple[str, ...]):
    """The forms of a URL's secrets, longest first; its ``repr`` shows none of them, so a
    frame holding it (an error tracker records frames' variables) reveals nothing."""

    def __repr__(self) -> str:
        return f"<{len(self)} secret forms>"

    __str__ = __repr__


class InvalidURLError(ValueError):
    """A connection string that is not a database URL. Its message never holds a secret."""


@dataclass(frozen=True)
class DatabaseURL:
    """A parsed connection string. ``str()`` and ``repr()`` mask every secret."""

    drivername: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    host: str | None = None
    port: int | None = None
    database: str | None = None
    query: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, url: str | DatabaseURL) -> DatabaseURL:
        """Parse ``url``; raise :class:`InvalidURLError` (secrets masked) when it is not one."""
        if isinstance(url, DatabaseURL):
            return url
        if isinstance(url, bytes | bytearray):
            raise InvalidURLError(
                "the connection string is bytes; pass it as text (decode it first)"
            )
        if not isinstance(url, str):
            raise InvalidURLError(f"the connection string must be text, not {type(url).__name__}")
        if not url.strip():
            raise InvalidURLError("the connection string is empty")
        match = _URL_PATTERN.match(url.strip())
        if match is None:
            raise InvalidURLError(
                f"not a database URL: {_mask_unparsed(url)!r} "
                "(expected e.g. sqlite:///app.db or postgresql://user@host/db)"
            )
        parts = match.groupdict()
        host = parts["ipv6host"] or parts["ipv4host"]
        ambiguity = _ambiguous_at(url.strip(), match)
        if ambiguity:
            # libpq and SQLAlchemy split such a URL in different places: either way a
            # piece of the password would end up in a host name, a port, a database name
            # or a query parameter, and from there in error messages. Nothing of it is
            # shown here.
            raise InvalidURLError(f"the {parts['name']} URL {ambiguity}")
        port: int | None = None
        port_text = parts["port"]
        if port_text:
            # Checked rather than caught: an error raised inside an ``except`` block
            # keeps the caught one as its __context__, with this frame (and the URL).
            # Above 65535 some drivers wrap it round (PyMySQL: 68842 is 3306), so a typo
            # would migrate another server.
            if not (port_text.isascii() and port_text.isdigit()) or int(port_text) > 65535:
                raise InvalidURLError(f"invalid port {port_text!r} in {_mask_unparsed(url)!r}")
            port = int(port_text)
        password = parts["password"]
        parsed = cls(
            drivername=parts["name"].lower(),
            username=unquote(parts["username"]) if parts["username"] is not None else None,
            password=unquote(password) if password is not None else None,
            host=host,
            port=port,
            database=unquote(parts["database"]) if parts["database"] else None,
            query=dict(parse_qsl(parts["query"] or "", keep_blank_values=True)),
        )
        parsed._validate()
        return parsed

    def _validate(self) -> None:
        known = DRIVERS.get(self.backend)
        if known is not None and self.driver not in known:
            drivers = ", ".join(sorted(d for d in known if d)) or "none"
            raise InvalidURLError(
                f"unknown driver {self.driver!r} for {self.backend} URLs ({self.drivername}://"
                f"...); known drivers: {drivers}"
            )
        if self.backend == "sqlite":
            if self.host or self.username or self.port:
                raise InvalidURLError(
                    f"invalid SQLite URL {self}: use sqlite:///relative/path.db, "
                    "sqlite:////absolute/path.db or sqlite:// for memory"
                )
            unknown = sorted(set(self.query) - _SQLITE_QUERY)
            if unknown:
                raise InvalidURLError(
                    f"unknown parameter {unknown[0]!r} in the SQLite URL {self}; if '?' is "
                    "part of the file name, write it as %3F"
                )

    # -- what it points at -------------------------------------------------

    @property
    def backend(self) -> str:
        """The database family: ``sqlite``, ``postgresql``, ``mysql`` (MariaDB too)..."""
        name = self.drivername.partition("+")[0]
        return _BACKEND_ALIASES.get(name, name)

    @property
    def dialect(self) -> str:
        """The name before ``+`` as written (``mariadb`` stays ``mariadb``), for SQLAlchemy."""
        name = self.drivername.partition("+")[0]
        return "postgresql" if name == "postgres" else name

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
        if self.database.startswith("file:"):
            # sqlite:///file:app.db?uri=true: a SQLite URI filename, with its own options.
            path = self.database.removeprefix("file:").partition("?")[0]
            return Path(unquote(path)) if path and path != ":memory:" else None
        return Path(self.database)

    @property
    def is_memory(self) -> bool:
        """Whether this is an in-memory SQLite database (gone when its connection closes)."""
        return self.backend == "sqlite" and self.sqlite_path is None

    def identity(self) -> tuple[Any, ...]:
        """What tells two URLs apart as databases, whatever driver or password they name
        (on PostgreSQL the schema too: a tenant's schema is a target of its own)."""
        if self.backend == "sqlite":
            path = self.sqlite_path
            return ("sqlite", str(path.resolve()) if path is not None else None)
        identity = (self.backend, self.host, self.port, self.database, self.username)
        return (*identity, self.schema) if self.backend == "postgresql" else identity

    # -- PostgreSQL: server settings and the schema ------------------------

    def server_settings(self) -> dict[str, str]:
        """The server settings libpq's ``options`` parameter sets at connection start
        (``-c name=value``, ``-cname=value`` or ``--name=value``; ``\\ `` escapes a space).

        >>> DatabaseURL.parse("postgresql://h/db?options=-csearch_path%3Dt1").server_settings()
        {'search_path': 't1'}
        """
        if self.backend != "postgresql":
            return {}
        return parse_server_options(self.query.get("options", ""))

    @property
    def schema(self) -> str | None:
        """The schema a PostgreSQL URL's connections create in and read from first: the
        first entry of the ``search_path`` its ``options`` set, ``None`` when it sets none
        (the server's default path). Unquoted names are folded to lower case, as the
        server folds them; ``$user`` means the server's default, so ``None``.
        """
        path = self.server_settings().get("search_path")
        if path is None:
            return None
        names = split_search_path(path)
        if not names or names[0] == "$user":
            return None
        return names[0]

    def with_schema(self, schema: str) -> DatabaseURL:
        """The same PostgreSQL database with ``search_path`` set to ``schema`` alone (other
        ``options`` kept): its connections create, and find, unqualified tables there."""
        if self.backend != "postgresql":
            raise ValueError(f"schemas are a PostgreSQL feature; {self} is a {self.backend} URL")
        if not isinstance(schema, str) or not schema or "\x00" in schema:
            raise ValueError(f"invalid schema name {schema!r}")
        if len(schema.encode()) > _MAX_IDENTIFIER_BYTES:
            # PostgreSQL would cut it, and two long names would be one schema under two locks.
            raise ValueError(
                f"schema name {schema[:20]!r}... is {len(schema.encode())} bytes long; "
                f"PostgreSQL keeps {_MAX_IDENTIFIER_BYTES} of a name"
            )
        settings = self.server_settings()
        settings.pop("search_path", None)
        settings["search_path"] = quote_identifier(schema)
        query = dict(self.query)
        query["options"] = render_server_options(settings)
        return replace(self, query=query)

    # -- sync <-> async ----------------------------------------------------

    def sync(self) -> DatabaseURL:
        """The same database through a synchronous driver."""
        twin = _SYNC_TWIN.get((self.backend, self.driver))
        return self.with_driver(twin) if twin is not None else self

    def asynchronous(self) -> DatabaseURL:
        """The same database through an asyncio driver."""
        twin = _ASYNC_TWIN.get((self.backend, self.driver))
        return self.with_driver(twin) if twin is not None else self

    def with_driver(self, driver: str) -> DatabaseURL:
        """The same database through ``driver`` (``""``: the family's default)."""
        name = self.dialect + (f"+{driver}" if driver else "")
        return replace(self, drivername=name)

    # -- rendering ---------------------------------------------------------

    def render(self, *, hide_password: bool = True) -> str:
        """The URL as text; secrets are ``***`` unless ``hide_password=False``."""
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
            query = {
                key: (MASK if hide_password and _is_secret_key(key) else value)
                for key, value in self.query.items()
            }
            text += "?" + urlencode(query, safe="*" if hide_password else "")
        return text

    def __str__(self) -> str:
        return self.render()

    def __repr__(self) -> str:
        return f"DatabaseURL({self.render()!r})"

    def secrets(self) -> Secrets:
        """The forms in which a secret of this URL could appear in text, longest first."""
        values = [self.password or ""]
        values += [value for key, value in self.query.items() if _is_secret_key(key)]
        forms: set[str] = set()
        for value in values:
            if value:
                forms |= {value, quote(value, safe=""), quote(value, safe=" +"), quote(value)}
        return Secrets(sorted(forms, key=len, reverse=True))

    def mask(self, text: str) -> str:
        """``text`` with every form of this URL's secrets replaced by ``***``."""
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


_SIMPLE_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_$]*")


def parse_server_options(options: str) -> dict[str, str]:
    """The settings in a libpq ``options`` string, in order (see
    :meth:`DatabaseURL.server_settings`); switches other than ``-c`` are left out."""
    words: list[str] = []
    word: list[str] = []
    chars = iter(options)
    for char in chars:
        if char == "\\":
            word.append(next(chars, ""))
        elif char.isspace():
            if word:
                words.append("".join(word))
                word = []
        else:
            word.append(char)
    if word:
        words.append("".join(word))
    settings: dict[str, str] = {}
    index = 0
    while index < len(words):
        current = words[index]
        setting = None
        if current == "-c" and index + 1 < len(words):
            index += 1
            setting = words[index]
        elif current.startswith(("--", "-c")):
            setting = current[2:]
        index += 1
        if setting and "=" in setting:
            name, _, value = setting.partition("=")
            settings[name.strip().replace("-", "_").lower()] = value
    return settings


def render_server_options(settings: Mapping[str, str]) -> str:
    """``settings`` as a libpq ``options`` string (spaces and backslashes escaped)."""

    def escape(value: str) -> str:
        return re.sub(r"([\\\s])", r"\\\1", value)

    return " ".join(f"-c{escape(name)}={escape(value)}" for name, value in settings.items())


def split_search_path(path: str) -> list[str]:
    """The schema names of a ``search_path`` value: quoted names unquoted, the others
    folded to lower case as the server folds them."""
    names: list[str] = []
    for part in re.findall(r'\s*((?:"(?:[^"]|"")*"|[^,])+)\s*(?:,|$)', path):
        part = part.strip()
        if part.startswith('"') and part.endswith('"') and len(part) >= 2:
            names.append(part[1:-1].replace('""', '"'))
        elif part:
            names.append(part.lower())
    return names


def quote_identifier(name: str) -> str:
    """``name`` as PostgreSQL reads it back unchanged: bare when it is a plain lower-case
    identifier, else double-quoted."""
    if _SIMPLE_IDENTIFIER.fullmatch(name):
        return name
    return '"' + name.replace('"', '""') + '"'


_QUERY_LIKE = re.compile(r"[?&#][A-Za-z_][A-Za-z0-9_]*=")


def _ambiguous_at(text: str, match: re.Match[str]) -> str:
    """Why the ``@`` signs of ``text`` make it ambiguous (``""`` when they do not).

    The URL grammar takes the first ``@`` after ``user:`` as the end of the password.
    Another ``@`` after it, anywhere, means that reading may be wrong (an unencoded ``@``
    in the password, whose tail would become the host, port, database or a query
    parameter); a user part that reads like a query string (``?name=``) means an ``@``
    inside a query value (``?password=a@b``) was taken for the end of a password. Both
    are refused, naming no part of the text.
    """
    if match.group("username") is None:
        return ""
    end = match.end("password") if match.group("password") is not None else match.end("username")
    userinfo = text[text.index("://") + 3 : end]
    if "@" in userinfo or "@" in text[end + 1 :]:
        return (
            "has more than one unencoded '@': a password (or user name, database name or "
            "query value) holding '@' must spell it %40"
        )
    if "#" in match.group("username") or "?" in match.group("username"):
        return "has an unencoded '@' in its query string; percent-encode it as %40"
    if _QUERY_LIKE.search(userinfo):
        return (
            "has an unencoded '@' after what reads like a query parameter (?name=): an "
            "'@' in a query value (or a password) must be percent-encoded as %40"
        )
    return ""


#: PostgreSQL's NAMEDATALEN - 1: longer identifiers are silently cut to this.
_MAX_IDENTIFIER_BYTES = 63


def _is_secret_key(key: str) -> bool:
    return bool(_SECRET_QUERY.search(key))


def mask_secrets(text: str, secrets: Iterable[str]) -> str:
    """Replace each of ``secrets`` in ``text`` by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text


def url_secrets(text: str) -> Secrets:
    """The secret forms in a connection string, whether or not it parses as a URL.

    For text that is not a valid URL, everything between ``://user:`` and the last ``@``
    counts as the password: an unencoded ``@`` in it must not reveal its tail.
    """
    try:
        return DatabaseURL.parse(text).secrets()
    except InvalidURLError:
        return _unparsed_secrets(str(text))


_UNPARSED_PASSWORD = re.compile(r"://[^:/@]*:(.*)@", re.DOTALL)
_UNPARSED_QUERY = re.compile(r"[?&]([^=&]+)=([^&]*)")


def _unparsed_secrets(text: str) -> Secrets:
    found: set[str] = set()
    match = _UNPARSED_PASSWORD.search(text)
    if match and match.group(1):
        found |= {match.group(1), unquote(match.group(1))}
    for key, value in _UNPARSED_QUERY.findall(text):
        if value and _is_secret_key(key):
            found |= {value, unquote(value)}
    return Secrets(sorted(found, key=len, reverse=True))


def _mask_unparsed(text: str) -> str:
    """Best-effort masking for strings that did not parse as URLs (see :func:`url_secrets`)."""
    return mask_secrets(str(text), _unparsed_secrets(str(text)))
