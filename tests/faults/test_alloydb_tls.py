"""AlloyDB over TLS with PGSSLMODE=verify-full: libpq (psycopg2's) is shown a certificate signed by a test authority
for the name `localhost` (tests/faults/pg_tls_proxy.py, because devstack's PostgreSQL build has no SSL): the right
authority connects encrypted, another authority or another host name is refused in one line that names the TLS
problem, never trusted."""

from __future__ import annotations

import datetime
import secrets

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from shared.config import load_settings
from shared.connections import alloydb_connection
from shared.errors import ConfigError
from tests.faults.pg_tls_proxy import PgTlsProxy


def _authority(name: str):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (_builder(subject, subject, key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


def _builder(subject, issuer, public_key) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1)))


def _pem(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def tls_postgres(devstack, tmp_path_factory):
    """(port, password, the authority's PEM, another authority's PEM, folder): devstack's PostgreSQL behind a TLS
    front whose certificate names only `localhost` (not 127.0.0.1)."""
    ca_key, ca_cert = _authority("r2a test authority")
    _, other_cert = _authority("some other authority")
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (_builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]), ca_cert.subject,
                            server_key.public_key())
                   .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
                   .sign(ca_key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("tls")
    (folder / "server.crt").write_bytes(_pem(server_cert))
    (folder / "server.key").write_bytes(server_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))
    proxy = PgTlsProxy(devstack["postgres"]["port"], str(folder / "server.crt"), str(folder / "server.key"))
    yield proxy, devstack["postgres"]["password"], _pem(ca_cert), _pem(other_cert), folder
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
