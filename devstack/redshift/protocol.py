"""PostgreSQL frontend/backend protocol v3: reading client messages and building server messages."""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

PROTOCOL_V3 = 196608
SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102


class ClientGone(Exception):
    """The client closed its socket."""


class MessageReader:
    def __init__(self, sock: socket.socket):
        self.sock = sock

    def exact(self, size: int) -> bytes:
        chunks, remaining = [], size
        while remaining:
            chunk = self.sock.recv(min(remaining, 1 << 16))
            if not chunk:
                raise ClientGone()
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    def startup(self) -> tuple[int, bytes]:
        (length,) = struct.unpack("!i", self.exact(4))
        if length < 8 or length > 10000:
            raise ClientGone()
        body = self.exact(length - 4)
        return struct.unpack("!i", body[:4])[0], body[4:]

    def message(self) -> tuple[bytes, bytes]:
        header = self.exact(5)
        kind, length = header[:1], struct.unpack("!i", header[1:])[0]
        return kind, self.exact(length - 4)


def startup_parameters(body: bytes) -> dict[str, str]:
    parts = body.split(b"\x00")
    params = {}
    for key, value in zip(parts[0::2], parts[1::2], strict=False):
        if key:
            params[key.decode()] = value.decode()
    return params


class Payload:
    """Reads the fields of one client message."""

    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def cstring(self) -> str:
        end = self.data.index(b"\x00", self.pos)
        value = self.data[self.pos:end].decode()
        self.pos = end + 1
        return value

    def int16(self) -> int:
        (value,) = struct.unpack_from("!h", self.data, self.pos)
        self.pos += 2
        return value

    def int32(self) -> int:
        (value,) = struct.unpack_from("!i", self.data, self.pos)
        self.pos += 4
        return value

    def raw(self, size: int) -> bytes:
        value = self.data[self.pos:self.pos + size]
        self.pos += size
        return value

    def byte(self) -> bytes:
        return self.raw(1)


def message(kind: bytes, body: bytes = b"") -> bytes:
    return kind + struct.pack("!i", len(body) + 4) + body


def cstr(text: str) -> bytes:
    return text.encode() + b"\x00"


def auth_ok() -> bytes:
    return message(b"R", struct.pack("!i", 0))


def auth_md5(salt: bytes) -> bytes:
    return message(b"R", struct.pack("!i", 5) + salt)


def auth_cleartext() -> bytes:
    return message(b"R", struct.pack("!i", 3))


def parameter_status(name: str, value: str) -> bytes:
    return message(b"S", cstr(name) + cstr(value))


def backend_key(pid: int, secret: int) -> bytes:
    return message(b"K", struct.pack("!ii", pid, secret))


def ready(status: str) -> bytes:
    return message(b"Z", status.encode())


@dataclass
class Column:
    name: str
    type_oid: int
    type_size: int = -1
    type_modifier: int = -1


def row_description(columns: list[Column]) -> bytes:
    body = struct.pack("!h", len(columns))
    for col in columns:
        body += cstr(col.name) + struct.pack("!ihihih", 0, 0, col.type_oid, col.type_size, col.type_modifier, 0)
    return message(b"T", body)


def data_row(values) -> bytes:
    parts = [struct.pack("!h", len(values))]
    for value in values:
        if value is None:
            parts.append(b"\xff\xff\xff\xff")
        else:
            encoded = value if isinstance(value, bytes) else str(value).encode()
            parts.append(struct.pack("!i", len(encoded)))
            parts.append(encoded)
    return message(b"D", b"".join(parts))


def command_complete(tag: str) -> bytes:
    return message(b"C", cstr(tag))


def empty_query() -> bytes:
    return message(b"I")


def no_data() -> bytes:
    return message(b"n")


def parse_complete() -> bytes:
    return message(b"1")


def bind_complete() -> bytes:
    return message(b"2")


def close_complete() -> bytes:
    return message(b"3")


def portal_suspended() -> bytes:
    return message(b"s")


def parameter_description(type_oids: list[int]) -> bytes:
    return message(b"t", struct.pack("!h", len(type_oids)) + b"".join(struct.pack("!i", o) for o in type_oids))


def _fields(severity: str, sqlstate: str, text: str, detail: str | None, hint: str | None) -> bytes:
    body = b"S" + cstr(severity) + b"V" + cstr(severity) + b"C" + cstr(sqlstate) + b"M" + cstr(text)
    if detail:
        body += b"D" + cstr(detail)
    if hint:
        body += b"H" + cstr(hint)
    return body + b"\x00"


def error(sqlstate: str, text: str, severity: str = "ERROR", detail: str | None = None,
          hint: str | None = None) -> bytes:
    return message(b"E", _fields(severity, sqlstate, text, detail, hint))


def notice(text: str, severity: str = "NOTICE", sqlstate: str = "00000") -> bytes:
    return message(b"N", _fields(severity, sqlstate, text, None, None))
