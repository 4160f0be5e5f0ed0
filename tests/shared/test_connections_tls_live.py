"""TLS verified end to end, also through the SSH bastion, and no cleartext password for a server that asks.

Redshift serves an ACM certificate for the cluster endpoint's name and supports sslmode verify-full
(https://docs.aws.amazon.com/redshift/latest/mgmt/connecting-ssl-support.html). Here the Redshift emulator sits
behind a TLS front (tests/faults/pg_tls_proxy.py; the emulator itself answers SSLRequest with 'N') whose
certificate names only `localhost`, signed by a devstack test authority; the real bastion forwards to it. Through
the tunnel libpq connects to 127.0.0.1, so verify-full passes only if the certificate is checked against the
endpoint's name, not the tunnel's address.
"""

from __future__ import annotations

import socket
import struct
import threading

import pytest

from shared.config import load_settings
from shared.connections import alloydb_connection, redshift_connection
from shared.errors import ConfigError
from tests.faults.pg_tls_proxy import PgTlsProxy, authority, pem, server_certificate


@pytest.fixture(scope="module")
def tls_redshift(devstack, tmp_path_factory):
    """(proxy, the right authority's CA file, another authority's CA file)."""
    signer = authority("devstack test authority")
    folder = tmp_path_factory.mktemp("redshift-tls")
    proxy = PgTlsProxy(devstack["redshift"]["port"], *server_certificate(folder, signer, "localhost"))
    (folder / "ca.pem").write_bytes(pem(signer[1]))
    (folder / "other.pem").write_bytes(pem(authority("some other authority")[1]))
    yield proxy, str(folder / "ca.pem"), str(folder / "other.pem")
    proxy.close()


def _through_bastion(devstack_environ, proxy, ca_file: str):
    assert devstack_environ["SSH_BASTION_HOST"], "devstack has a bastion"
    return load_settings(dict(devstack_environ, REDSHIFT_HOST="localhost", REDSHIFT_PORT=str(proxy.port),
                              REDSHIFT_SSLMODE="verify-full", REDSHIFT_SSLROOTCERT=ca_file))


def test_verify_full_through_the_bastion_checks_the_endpoint_name(devstack_environ, tls_redshift):
    proxy, ca_file, _ = tls_redshift
    before = len(proxy.handshakes)
    with redshift_connection(_through_bastion(devstack_environ, proxy, ca_file), "test") as conn:
        with conn.cursor() as cursor:
            cursor.execute("select version()")
            assert "Redshift" in cursor.fetchone()[0]
        assert conn.info.ssl_in_use
        dsn = conn.get_dsn_parameters()
        assert (dsn["host"], dsn["hostaddr"]) == ("localhost", "127.0.0.1")
        assert int(dsn["port"]) != proxy.port  # the tunnel's local end, not the TLS front itself
    assert len(proxy.handshakes) == before + 1


def test_verify_full_through_the_bastion_refuses_another_authority(devstack_environ, tls_redshift):
    proxy, _, other = tls_redshift
    with pytest.raises(ConfigError) as refused, redshift_connection(
            _through_bastion(devstack_environ, proxy, other), "test"):
        pass
    line = refused.value.one_line()
    assert "TLS problem" in line and "certificate verify failed" in line and "via bastion" in line


class CleartextAsker:
    """A server that is not the real one: it answers every startup with AuthenticationCleartextPassword and
    records whatever the client sends next (a PasswordMessage would carry the password in clear)."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.received: list[bytes] = []
        self.answered = threading.Event()  # set once the client's reply to the request (or its hang-up) is read
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with client:
                client.settimeout(5)
                try:
                    length, code = struct.unpack("!II", client.recv(8))
                    if code == 80877103:  # SSLRequest: no TLS here
                        client.sendall(b"N")
                        length = struct.unpack("!I", client.recv(4))[0]
                        client.recv(length - 4)
                    else:
                        client.recv(length - 8)
                    client.sendall(b"R" + struct.pack("!II", 8, 3))
                    self.received.append(client.recv(4096))
                except OSError:
                    pass
                self.answered.set()

    def close(self) -> None:
        self.listener.close()


@pytest.mark.parametrize("system", ["AlloyDB", "Redshift"])
def test_a_server_asking_for_a_cleartext_password_does_not_get_it(system):
    password = "Never-Sent-In-Clear-81f2"
    fake = CleartextAsker()
    try:
        if system == "AlloyDB":
            settings = load_settings({"PGHOST": "127.0.0.1", "PGPORT": str(fake.port), "PGUSER": "u",
                                      "PGDATABASE": "d", "PGPASSWORD": password, "PGSSLMODE": "disable"})
            with pytest.raises(ConfigError) as refused:
                alloydb_connection(settings, "test").close()
        else:
            settings = load_settings({"REDSHIFT_HOST": "127.0.0.1", "REDSHIFT_PORT": str(fake.port),
                                      "REDSHIFT_USER": "u", "REDSHIFT_DATABASE": "d",
                                      "REDSHIFT_PASSWORD": password, "REDSHIFT_SSLMODE": "disable"})
            with pytest.raises(ConfigError) as refused, redshift_connection(settings, "test"):
                pass
    finally:
        fake.close()
    line = refused.value.one_line()
    assert "refuses" in line and "the password was not sent" in line and password not in line
    assert fake.answered.wait(10)
    assert fake.received and all(password.encode() not in data for data in fake.received)
