"""A PostgreSQL TLS front for tests: devstack's PostgreSQL (the pgserver wheel) is built without SSL, so this speaks
the server's side of PostgreSQL's TLS negotiation (answers SSLRequest with 'S', then the TLS handshake with the
given certificate) and relays the decrypted bytes to the plain server. What it lets a test check is the client side:
libpq with sslmode=verify-full accepting or refusing the certificate it is shown."""

from __future__ import annotations

import contextlib
import datetime
import socket
import ssl
import struct
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104


class PgTlsProxy:
    def __init__(self, upstream_port: int, cert_file: str, key_file: str):
        self.upstream_port = upstream_port
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert_file, key_file)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.handshakes: list[str] = []  # TLS version of every completed handshake
        self._closing = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._closing = True
        self.listener.close()

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with contextlib.suppress(OSError, ssl.SSLError):
            while True:
                length, code = struct.unpack("!II", _read_exactly(client, 8))
                if code == GSSENC_REQUEST:
                    client.sendall(b"N")
                    continue
                if code != SSL_REQUEST or length != 8:
                    client.close()  # a client that does not ask for TLS gets nothing here
                    return
                client.sendall(b"S")
                break
            secure = self.context.wrap_socket(client, server_side=True)
            self.handshakes.append(secure.version() or "")
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            threading.Thread(target=_pump, args=(upstream, secure), daemon=True).start()
            _pump(secure, upstream)


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise OSError("peer closed")
        data += chunk
    return data


def _pump(source: socket.socket, target: socket.socket) -> None:
    with contextlib.suppress(OSError, ssl.SSLError):
        while chunk := source.recv(65536):
            target.sendall(chunk)
    for sock in (source, target):
        with contextlib.suppress(OSError):
            sock.close()


def authority(name: str):
    """A test certificate authority: (private key, certificate)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (_builder(subject, subject, key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


def server_certificate(folder: Path, signer, dns_name: str) -> tuple[str, str]:
    """A server certificate for `dns_name` only (no IP address), signed by `signer` = authority(...):
    the paths of server.crt and server.key in `folder`."""
    ca_key, ca_cert = signer
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (_builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns_name)]), ca_cert.subject,
                     key.public_key())
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns_name)]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    (folder / "server.crt").write_bytes(pem(cert))
    (folder / "server.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))
    return str(folder / "server.crt"), str(folder / "server.key")


def pem(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _builder(subject, issuer, public_key) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1)))
