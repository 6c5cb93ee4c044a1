"""URL parsing, masking and sync/async driver translation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pydapter_migrations.urls import DatabaseURL, InvalidURLError, mask_secrets


@pytest.mark.parametrize(
    ("url", "sync", "asynchronous"),
    [
        ("sqlite:///app.db", "sqlite:///app.db", "sqlite+aiosqlite:///app.db"),
        ("sqlite+aiosqlite:///app.db", "sqlite:///app.db", "sqlite+aiosqlite:///app.db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db",
         "postgresql+asyncpg://u@h/db"),
        ("postgresql+asyncpg://u@h/db", "postgresql+psycopg://u@h/db",
         "postgresql+asyncpg://u@h/db"),
    ],
)  # fmt: skip
def test_sync_and_async_twins(url: str, sync: str, asynchronous: str) -> None:
    parsed = DatabaseURL.parse(url)
    assert parsed.sync().render() == sync
    assert parsed.asynchronous().render() == asynchronous
    assert parsed.asynchronous().is_async and not parsed.sync().is_async


def test_parts_and_percent_encoded_password() -> None:
    url = DatabaseURL.parse(
        "postgresql+psycopg://app%40x:p%25w%40rd@db.example:5433/main?sslmode=require"
    )
    assert (url.backend, url.driver, url.username, url.password) == (
        "postgresql", "psycopg", "app@x", "p%w@rd",
    )  # fmt: skip
    assert (url.host, url.port, url.database, dict(url.query)) == (
        "db.example", 5433, "main", {"sslmode": "require"},
    )  # fmt: skip
    assert url.render(hide_password=False) == (
        "postgresql+psycopg://app%40x:p%25w%40rd@db.example:5433/main?sslmode=require"
    )
    assert "p%w@rd" not in str(url) and "p%25w%40rd" not in repr(url)
    assert str(url) == "postgresql+psycopg://app%40x:***@db.example:5433/main?sslmode=require"
    assert url.psycopg_kwargs() == {
        "host": "db.example", "port": 5433, "user": "app@x", "password": "p%w@rd",
        "dbname": "main", "sslmode": "require",
    }  # fmt: skip
    text = "could not connect with p%w@rd (p%25w%40rd)"
    assert url.mask(text) == "could not connect with *** (***)"


def test_sqlite_paths() -> None:
    assert str(DatabaseURL.parse("sqlite:///rel/app.db").sqlite_path) == "rel/app.db"
    assert str(DatabaseURL.parse("sqlite:////abs/app.db").sqlite_path) == "/abs/app.db"
    assert DatabaseURL.parse("sqlite://").sqlite_path is None
    assert DatabaseURL.parse("sqlite:///:memory:").sqlite_path is None


@pytest.mark.parametrize(
    "bad",
    ["", "   ", "not a url", "sqlite://host/app.db", "postgresql://u:secret@h:port/db",
     "://nothing", "postgresql//u@h/db"],
)  # fmt: skip
def test_bad_urls_raise_without_the_password(bad: str) -> None:
    with pytest.raises(InvalidURLError) as info:
        DatabaseURL.parse(bad)
    assert "secret" not in str(info.value)


def test_mask_secrets_handles_empty_values() -> None:
    assert mask_secrets("a b", ["", "b"]) == "a ***"
    assert DatabaseURL.parse("sqlite:///x.db").secrets() == ()


def test_url_secrets_finds_the_password_even_when_the_url_does_not_parse() -> None:
    from pydapter_migrations.urls import url_secrets

    assert url_secrets("postgresql://app:p%40ss@db/x") == ("p%40ss", "p@ss")
    # Unencoded '@' and a bad port: everything up to the last '@' is the password.
    assert url_secrets("postgresql://app:p@ss:w/rd%@db:notaport/x") == ("p@ss:w/rd%",)
    assert url_secrets("sqlite:///app.db") == ()
    assert url_secrets("nonsense") == ()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://app@h/db?password=s3cr3t&sslmode=require",
        "postgresql://app@h/db?sslpassword=s3cr3t",
        "mysql+pymysql://app@h/db?api_token=s3cr3t",
    ],
)
def test_secrets_in_the_query_string_are_masked(url: str) -> None:
    parsed = DatabaseURL.parse(url)
    assert "s3cr3t" in parsed.secrets()
    for text in (str(parsed), repr(parsed), parsed.render()):
        assert "s3cr3t" not in text
    assert "s3cr3t" in parsed.render(hide_password=False)
    assert "s3cr3t" not in repr(parsed.secrets())
    from pydapter_migrations.urls import url_secrets

    assert "s3cr3t" in url_secrets(url.replace("@h/", "@h:notaport/"))  # even unparsed


@pytest.mark.parametrize(
    ("url", "pieces"),
    [
        ("postgresql://app:SECRET@TAIL@127.0.0.1/db", ["SECRET", "TAIL"]),
        # The part after the password's '@' has a '/', '?' or ':': the grammar would take
        # it for the host plus a database, a query or a port.
        ("postgresql://app:p@ss/w?rd@127.0.0.1/shop", ["ss/w", "rd@127"]),
        ("postgresql://app:s3cret@k9:98@db.internal/shop", ["s3cret", "k9", "98@db"]),
        ("postgresql://app:Xy7@127.0.0.1/tail@db.internal:5432/shop", ["Xy7", "tail"]),
        ("postgresql://hostile:h0st#le:p@ss/w%rd?q@127.0.0.1:35023/postgres",
         ["h0st", "le:p", "ss/w", "rd?q"]),
        # A raw ?password= value with an '@': with a user part, and without one.
        ("postgresql://postgres@127.0.0.1:5/postgres?password=Wr0ng:S3cr@t/x?#%",
         ["Wr0ng", "S3cr", "t/x"]),
        ("postgresql://127.0.0.1:5432/db?password=Wr0ng@S3cr", ["Wr0ng", "S3cr"]),
        ("postgresql://127.0.0.1?password=Wr0ng@S3cr", ["Wr0ng", "S3cr"]),
        ("postgresql://me@corp@db/x", ["corp@db"]),
    ],
)  # fmt: skip
def test_an_unencoded_at_sign_in_the_password_is_refused_showing_none_of_it(
    url: str, pieces: list[str]
) -> None:
    with pytest.raises(InvalidURLError) as info:
        DatabaseURL.parse(url)
    error = info.value
    text = str(error) + repr(error.args)
    assert all(piece not in text for piece in pieces), text
    assert "%40" in str(error)
    # Nothing chained to it either (an error raised inside an except block keeps the one
    # it caught, with the URL in its frames).
    assert error.__context__ is None and error.__cause__ is None


def test_one_at_sign_and_percent_encoded_ones_are_fine() -> None:
    # A user name with '@' (e-mail style) is fine, percent-encoded.
    assert DatabaseURL.parse("postgresql://me%40corp:pw@h/db").username == "me@corp"
    assert DatabaseURL.parse("postgresql://app:p%40ss%2Fw@h/db").password == "p@ss/w"
    # An '@' without a user part: in the query or the database name, or a SQLite path.
    parsed = DatabaseURL.parse("postgresql://h/db?password=a@b&application_name=me@laptop")
    assert (parsed.host, parsed.query["password"]) == ("h", "a@b")
    assert DatabaseURL.parse("sqlite:///data/a@b@c.db").database == "data/a@b@c.db"
    # Unencoded '/' and '?' in a password still mean what they meant.
    assert DatabaseURL.parse("postgresql://u:pa/s?s@h/db").password == "pa/s?s"


def test_a_bad_port_keeps_no_url_in_the_error_chain() -> None:
    with pytest.raises(InvalidURLError) as info:
        DatabaseURL.parse("postgresql://app:hunter2@db.internal:54x2/shop")
    assert "hunter2" not in str(info.value)
    assert info.value.__context__ is None and info.value.__cause__ is None


@pytest.mark.parametrize("port", ["68842", "65536", "99999999999"])
def test_a_port_beyond_65535_is_refused(port: str) -> None:
    # PyMySQL would take 68842 as 3306 (68842 - 65536): another server than the one named.
    with pytest.raises(InvalidURLError, match="invalid port"):
        DatabaseURL.parse(f"mysql://root:pw@127.0.0.1:{port}/app")
    assert DatabaseURL.parse("mysql://root@127.0.0.1:65535/app").port == 65535


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        (b"sqlite:///x.db", "bytes"),
        (42, "text"),
        ("sqlite+nosuchdriver:///x.db", "nosuchdriver"),
        ("postgresql+psycopg3://u@h/db", "psycopg3"),
        ("sqlite:///data/a?b.db", "%3F"),
    ],
)
def test_what_no_driver_could_mean_is_refused(bad: object, says: str) -> None:
    with pytest.raises(InvalidURLError, match=re.escape(says)):
        DatabaseURL.parse(bad)  # type: ignore[arg-type]
    assert DatabaseURL.parse("sqlite:///data/a%3Fb.db").sqlite_path == Path("data/a?b.db")


@pytest.mark.parametrize(
    ("url", "family", "sync", "asynchronous"),
    [
        ("mysql://u@h/db", "mysql", "mysql+pymysql", "mysql+aiomysql"),
        ("mariadb+pymysql://u@h/db", "mysql", "mariadb+pymysql", "mariadb+aiomysql"),
        ("mysql+asyncmy://u@h/db", "mysql", "mysql+pymysql", "mysql+asyncmy"),
        ("postgresql+pg8000://u@h/db", "postgresql", "postgresql+pg8000", "postgresql+asyncpg"),
        ("postgresql+psycopg2://u@h/db", "postgresql", "postgresql+psycopg2", "postgresql+asyncpg"),
    ],
)
def test_families_and_twins(url: str, family: str, sync: str, asynchronous: str) -> None:
    parsed = DatabaseURL.parse(url)
    assert parsed.backend == family
    assert parsed.sync().drivername == sync
    assert parsed.asynchronous().drivername == asynchronous
