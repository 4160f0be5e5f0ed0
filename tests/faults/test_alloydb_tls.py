"""AlloyDB over TLS with PGSSLMODE=verify-full: libpq (psycopg2's) is shown a certificate signed by a test authority
for the name `localhost` (tests/faults/pg_tls_proxy.py, because devstack's PostgreSQL build has no SSL): the right
authority connects encrypted, another authority or another host name is refused in one line that names the TLS
problem, never trusted."""

from __future__ import annotations

import secrets

import pytest

from shared.config import load_settings
from shared.connections import alloydb_connection
from shared.errors import ConfigError
from tests.faults.pg_tls_proxy import PgTlsProxy, authority, pem, server_certificate


@pytest.fixture(scope="module")
def tls_postgres(devstack, tmp_path_factory):
    """(port, password, the authority's PEM, another authority's PEM, folder): devstack's PostgreSQL behind a TLS
    front whose certificate names only `localhost` (not 127.0.0.1)."""
    signer = authority("r2a test authority")
    _, other_cert = authority("some other authority")
    folder = tmp_path_factory.mktemp("tls")
    proxy = PgTlsProxy(devstack["postgres"]["port"], *server_certificate(folder, signer, "localhost"))
    yield proxy, devstack["postgres"]["password"], pem(signer[1]), pem(other_cert), folder
    proxy.close()


def _settings(tls_postgres, host: str, authority: bytes):
    proxy, password, _, _, folder = tls_postgres
    ca_file = folder / f"ca-{secrets.token_hex(4)}.pem"
    ca_file.write_bytes(authority)
    return load_settings({"PGHOST": host, "PGPORT": str(proxy.port), "PGUSER": "postgres", "PGPASSWORD": password,
                          "PGDATABASE": "postgres", "PGSSLMODE": "verify-full", "PGSSLROOTCERT": str(ca_file)})


def test_verify_full_with_the_right_authority_connects_encrypted(tls_postgres):
    proxy = tls_postgres[0]
    before = len(proxy.handshakes)
    conn = alloydb_connection(_settings(tls_postgres, "localhost", tls_postgres[2]), "test")
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1")
            assert cursor.fetchone() == (1,)
        assert conn.info.ssl_in_use and conn.info.ssl_attribute("protocol").startswith("TLS")
    finally:
        conn.close()
    assert len(proxy.handshakes) == before + 1


@pytest.mark.parametrize(("case", "host", "authority_index", "says"), [
    ("a certificate from another authority", "localhost", 3, "certificate verify failed"),
    ("a certificate for another host name (127.0.0.1)", "127.0.0.1", 2, "does not match host name"),
])
def test_verify_full_refuses_what_it_cannot_verify_in_one_line(tls_postgres, matrix, case, host, authority_index,
                                                               says):
    outcome = matrix.bad_input(f"AlloyDB verify-full: {case}", "any AlloyDB step", "refused (ConfigError: exit 2), one line")
    settings = _settings(tls_postgres, host, tls_postgres[authority_index])
    with pytest.raises(ConfigError) as refused:
        alloydb_connection(settings, "test").close()
    line = refused.value.one_line()
    outcome.observed = line[:150]
    assert "TLS problem" in line and says in line and "\n" not in line
    assert tls_postgres[1] not in line  # the password
