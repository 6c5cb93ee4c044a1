"""URL parsing, masking and sync/async driver translation."""

from __future__ import annotations

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
