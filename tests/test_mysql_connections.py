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
from pydapter_migrations.urls import InvalidURLError

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
