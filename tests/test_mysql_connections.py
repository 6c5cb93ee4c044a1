"""MySQL / MariaDB connections: the TLS a URL asks for, the same with every driver."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pydapter_migrations.connections import connect, connect_async, mysql_tls
from pydapter_migrations.testing.mariadb import MariaDBServer
from pydapter_migrations.urls import DatabaseURL, InvalidURLError

pytestmark = pytest.mark.mariadb

CIPHER = "SHOW SESSION STATUS LIKE 'Ssl_cipher'"


@pytest.fixture(scope="module")
def tls_server() -> Iterator[tuple[MariaDBServer, Path]]:
    """A throwaway MariaDB with a self-signed certificate (CN 127.0.0.1, no IP SAN)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    # Outside pytest's private temporary folder: mariadbd may run as the mysql user.
    folder = Path(tempfile.mkdtemp(prefix="pydapter-tls-"))
    folder.chmod(0o755)
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    key.chmod(0o644)
    try:
        with MariaDBServer(settings={"ssl-cert": str(cert), "ssl-key": str(key)}) as server:
            yield server, cert
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _cipher(url: str) -> str:
    with connect(url) as session:
        return str(session.execute(CIPHER)[0][1])


async def _async_cipher(url: str) -> str:
    conn = await connect_async(url)
    try:
        async with conn.cursor() as cursor:
            await cursor.execute(CIPHER)
            row: Any = await cursor.fetchone()
        return str(row[1])
    finally:
        conn.close()


def test_tls_is_used_where_the_server_offers_it(tls_server: tuple[MariaDBServer, Path]) -> None:
    server, cert = tls_server
    url = server.url(server.create_database())
    assert _cipher(url)  # preferred: TLS, as MySQL's own clients do
    assert _cipher(f"{url}?ssl_ca={cert}")  # required, verified with that CA
    assert _cipher(f"{url}?ssl_disabled=true") == ""
    for driver in ("aiomysql", "asyncmy"):
        aio = url.replace("mysql+pymysql://", f"mysql+{driver}://")
        assert asyncio.run(_async_cipher(aio))
        assert asyncio.run(_async_cipher(f"{aio}?ssl_ca={cert}"))
        assert asyncio.run(_async_cipher(f"{aio}?ssl_disabled=true")) == ""
    # Verification is real: the system CAs do not know this certificate, nor does it name
    # the address as a host name.
    for query in ("?ssl_verify_cert=true", f"?ssl_ca={cert}&ssl_verify_identity=true"):
        with pytest.raises(Exception, match="CERTIFICATE_VERIFY_FAILED"):
            connect(url + query)


def test_required_tls_fails_where_the_server_offers_none(mariadb_url: str) -> None:
    assert _cipher(mariadb_url) == ""  # preferred: the server offers none, so without
    assert _cipher(mariadb_url) == ""  # (remembered for this process)
    for query in ("?ssl_verify_cert=false&ssl_ca=/dev/null", "?ssl_verify_cert=true"):
        with pytest.raises(Exception, match=r"(?i)ssl|tls"):
            connect(mariadb_url + query)
    # asyncmy fails a TLS handshake the server cannot take (aiomysql goes on without):
    # preferred retries without TLS, required is refused either way.
    for driver in ("aiomysql", "asyncmy"):
        aio = mariadb_url.replace("mysql+pymysql://", f"mysql+{driver}://")
        assert asyncio.run(_async_cipher(aio)) == ""
        with pytest.raises(Exception, match=r"TLS is required|SSL"):
            asyncio.run(_async_cipher(aio + "?ssl_verify_cert=false"))


def test_tls_parameters_are_read_alike() -> None:
    base = "mysql://u@h/db"
    assert mysql_tls(base).mode == "preferred"
    assert mysql_tls(base).context is mysql_tls(base).context  # made once
    assert mysql_tls(base + "?ssl_disabled=1").mode == "disabled"
    assert mysql_tls(base + "?ssl_disabled=false").mode == "preferred"
    required = mysql_tls(base + "?ssl_verify_cert=false&ssl_disabled=no")
    assert required.mode == "required" and not required.context.check_hostname
    with pytest.raises(InvalidURLError, match="ssl_disabled=true contradicts ssl_ca"):
        mysql_tls(base + "?ssl_disabled=true&ssl_ca=/x")
    with pytest.raises(InvalidURLError, match="true or false"):
        mysql_tls(base + "?ssl_verify_identity=sometimes")


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("charset=nonsense", ["charset", "'nonsense' is not a MySQL character set"]),
        ("ssl_ca=/missing/ca.pem", ["ssl_ca", "/missing/ca.pem does not exist"]),
        ("ssl_cert=/missing/c.pem&ssl_key=/missing/k.pem", ["ssl_cert", "/missing/c.pem"]),
        ("connect_timeout=abc", ["connect_timeout", "number of seconds"]),
        ("read_timeout=x", ["read_timeout", "number of seconds"]),
        ("write_timeout=-1", ["write_timeout", "number of seconds"]),
        ("ssl_verify_cert=maybe", ["ssl_verify_cert", "true or false"]),
        ("local_infile=maybe", ["local_infile", "true or false"]),
        ("ssl_mode=REQUIRED", ["'ssl_mode'", "ssl_verify_cert", "ssl_disabled", "ssl_ca"]),
    ],
)
@pytest.mark.parametrize("driver", ["mysql+pymysql", "mysql+aiomysql"])
def test_a_bad_parameter_is_refused_by_name_before_connecting(
    query: str, names: list[str], driver: str, tmp_path: Path
) -> None:
    """Nothing listens on port 1: the URL is refused before any connection, naming the
    parameter (and the file: its path is no secret), quoting the URL as given."""
    from pydapter_migrations_yoyo import AsyncYoyoAdapter, YoyoAdapter

    from pydapter_migrations import MigrationError

    url = f"{driver}://app:s3cr3t@127.0.0.1:1/db?{query}"
    with pytest.raises(InvalidURLError) as info:
        if driver.endswith("aiomysql"):
            asyncio.run(connect_async(url))
        else:
            connect(url)
    for name in names:
        assert name in str(info.value)
    assert "s3cr3t" not in str(info.value)
    adapter = AsyncYoyoAdapter if driver.endswith("aiomysql") else YoyoAdapter
    YoyoAdapter.init_migrations(tmp_path / "m")
    with pytest.raises(MigrationError) as failed:
        kw = {"directory": tmp_path / "m", "connection_string": url}
        result = adapter.get_current_revision(**kw)
        if asyncio.iscoroutine(result):
            asyncio.run(result)
    message = str(failed.value)
    assert isinstance(failed.value.__cause__, InvalidURLError), message
    assert f"{driver}://app:***@127.0.0.1:1/db" in message and "s3cr3t" not in message
    for name in names:
        assert name in message


@pytest.mark.parametrize("backend", ["alembic", "yoyo"])
def test_a_url_without_a_database_is_refused_before_connecting(
    backend: str, tmp_path: Path
) -> None:
    """Without one every read would find nothing: current, status and verify would report
    a clean, empty database. Nothing listens on port 1: nothing connected."""
    from pydapter_migrations import MigrationError, get_adapter

    adapter = get_adapter(backend)
    adapter.init_migrations(tmp_path / "m")
    for url in ("mysql://app:s3cr3t@127.0.0.1:1", "mysql://app:s3cr3t@127.0.0.1:1/"):
        kw = {"directory": tmp_path / "m", "connection_string": url}
        for call in (adapter.get_current_revision, adapter.verify, adapter.upgrade):
            with pytest.raises(MigrationError) as failed:
                call(**kw)
            message = str(failed.value)
            assert "names no database" in message and "s3cr3t" not in message, message


def test_a_timeout_may_be_a_fraction_of_a_second() -> None:
    from pydapter_migrations.connections import _mysql_arguments

    url = DatabaseURL.parse("mysql://app@127.0.0.1/db?connect_timeout=2.5&read_timeout=0.5")
    kwargs = _mysql_arguments(url, "test")
    assert kwargs["connect_timeout"] == 3 and kwargs["read_timeout"] == 0.5


@pytest.mark.parametrize("flag", ["false", "0", "off", None])
def test_local_infile_false_means_no_local_file_is_read(
    mariadb_url: str, tmp_path: Path, flag: str | None
) -> None:
    # A driver takes any non-empty string for true: "false" must reach it as False.
    source = tmp_path / "rows.txt"
    source.write_text("secret\n")
    url = mariadb_url + (f"?local_infile={flag}" if flag is not None else "")
    with connect(url) as session:
        session.execute("CREATE TABLE IF NOT EXISTS loaded (line varchar(40))")
        with pytest.raises(Exception, match=r"4166|1148"):
            session.execute(f"LOAD DATA LOCAL INFILE '{source}' INTO TABLE loaded")
        assert session.execute("SELECT count(*) FROM loaded") == [(0,)]


def test_local_infile_true_is_passed_as_true(mariadb_url: str, tmp_path: Path) -> None:
    source = tmp_path / "rows.txt"
    source.write_text("one\n")
    with connect(mariadb_url + "?local_infile=true") as session:
        session.execute("CREATE TABLE IF NOT EXISTS loaded_on (line varchar(40))")
        session.execute(f"LOAD DATA LOCAL INFILE '{source}' INTO TABLE loaded_on")
        assert session.execute("SELECT line FROM loaded_on") == [("one",)]
