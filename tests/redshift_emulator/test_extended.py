"""The extended query protocol as JDBC drives it (named statements, Describe, partial Execute), spoken with raw
protocol messages so every message the emulator sends back is checked."""

from __future__ import annotations

import hashlib
import socket
import struct

import pytest


class RawClient:
    def __init__(self, redshift: dict):
        self.sock = socket.create_connection((redshift["host"], redshift["port"]), timeout=10)
        user = redshift["user"]
        body = struct.pack("!i", 196608) + b"".join(f"{k}\0{v}\0".encode() for k, v in
                                                    (("user", user), ("database", redshift["database"]))) + b"\0"
        self.sock.sendall(struct.pack("!i", len(body) + 4) + body)
        kind, payload = self.read()
        assert kind == b"R" and struct.unpack("!i", payload[:4])[0] == 5      # md5
        inner = hashlib.md5((redshift["password"] + user).encode()).hexdigest()
        answer = "md5" + hashlib.md5(inner.encode() + payload[4:8]).hexdigest()
        self.send(b"p", answer.encode() + b"\0")
        self.until_ready()

    def send(self, kind: bytes, body: bytes = b"") -> None:
        self.sock.sendall(kind + struct.pack("!i", len(body) + 4) + body)

    def exact(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = self.sock.recv(size - len(data))
            assert chunk, "connection closed"
            data += chunk
        return data

    def read(self) -> tuple[bytes, bytes]:
        header = self.exact(5)
        return header[:1], self.exact(struct.unpack("!i", header[1:])[0] - 4)

    def until_ready(self) -> list[tuple[bytes, bytes]]:
        messages = []
        while True:
            kind, payload = self.read()
            messages.append((kind, payload))
            if kind == b"Z":
                return messages

    def parse(self, name: str, query: str, types: list[int]) -> None:
        self.send(b"P", f"{name}\0{query}\0".encode() + struct.pack("!h", len(types))
                  + b"".join(struct.pack("!i", t) for t in types))

    def bind(self, portal: str, statement: str, values: list[str | None]) -> None:
        body = f"{portal}\0{statement}\0".encode() + struct.pack("!hh", 0, len(values))
        for value in values:
            body += struct.pack("!i", -1) if value is None else struct.pack("!i", len(value.encode())) + value.encode()
        self.send(b"B", body + struct.pack("!h", 0))

    def close(self) -> None:
        self.send(b"X")
        self.sock.close()


def kinds(messages) -> list[bytes]:
    return [kind for kind, _ in messages]


def data_row(payload: bytes) -> list[str | None]:
    count, pos, out = struct.unpack("!h", payload[:2])[0], 2, []
    for _ in range(count):
        size = struct.unpack("!i", payload[pos:pos + 4])[0]
        pos += 4
        out.append(None if size < 0 else payload[pos:pos + size].decode())
        pos += max(size, 0)
    return out


def row_description(payload: bytes) -> list[tuple[str, int]]:
    count, pos, out = struct.unpack("!h", payload[:2])[0], 2, []
    for _ in range(count):
        end = payload.index(b"\0", pos)
        name = payload[pos:end].decode()
        type_oid = struct.unpack("!i", payload[end + 7:end + 11])[0]
        out.append((name, type_oid))
        pos = end + 19
    return out


@pytest.fixture
def client(redshift):
    c = RawClient(redshift)
    yield c
    c.close()


def test_named_statement_describe_and_partial_execute(client):
    client.parse("s1", "select g as n, nvl(null, $1) as label from generate_series(1, $2) g order by g", [25, 23])
    client.send(b"D", b"Ss1\0")
    client.send(b"S")
    messages = client.until_ready()
    assert kinds(messages) == [b"1", b"t", b"T", b"Z"]
    assert struct.unpack("!hii", messages[1][1]) == (2, 25, 23)
    assert row_description(messages[2][1]) == [("n", 23), ("label", 25)]
    client.bind("p1", "s1", ["x", "5"])
    client.send(b"D", b"Pp1\0")
    client.send(b"E", b"p1\0" + struct.pack("!i", 2))
    client.send(b"E", b"p1\0" + struct.pack("!i", 0))
    client.send(b"S")
    messages = client.until_ready()
    assert kinds(messages) == [b"2", b"T", b"D", b"D", b"s", b"D", b"D", b"D", b"C", b"Z"]
    assert [data_row(p) for k, p in messages if k == b"D"] == [[str(n), "x"] for n in range(1, 6)]
    assert messages[-2][1] == b"SELECT 5\0"


def test_error_skips_to_sync_and_null_parameters(client):
    client.parse("", "select 1/$1::int", [])
    client.bind("", "", ["0"])
    client.send(b"E", b"\0" + struct.pack("!i", 0))
    client.parse("", "select 'never run'", [])
    client.send(b"S")
    messages = client.until_ready()
    assert kinds(messages) == [b"1", b"2", b"E", b"Z"]
    assert b"C22012\0" in messages[2][1]
    client.parse("", "select coalesce($1, 'was null')", [25])
    client.bind("", "", [None])
    client.send(b"E", b"\0" + struct.pack("!i", 0))
    client.send(b"S")
    messages = client.until_ready()
    assert [data_row(p) for k, p in messages if k == b"D"] == [["was null"]]


def test_insert_through_extended_protocol(client, rs, schema):
    with rs.cursor() as cur:
        cur.execute(f"create table {schema}.ext (id int, txt varchar(20))")
    client.parse("ins", f"insert into {schema}.ext values ($1, $2)", [23, 1043])
    for values in (["1", "it's"], ["2", None]):
        client.bind("", "ins", values)
        client.send(b"D", b"P\0")
        client.send(b"E", b"\0" + struct.pack("!i", 0))
    client.send(b"S")
    messages = client.until_ready()
    assert kinds(messages) == [b"1", b"2", b"n", b"C", b"2", b"n", b"C", b"Z"]
    assert messages[3][1] == b"INSERT 0 1\0"
    with rs.cursor() as cur:
        cur.execute(f"select id, txt from {schema}.ext order by id")
        assert cur.fetchall() == [(1, "it's"), (2, None)]
