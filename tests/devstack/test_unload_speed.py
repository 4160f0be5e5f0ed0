"""The fast UNLOAD path writes exactly what the row-by-row rule writes.

The emulator formats a batch of rows column by column, writes runs of lines to a file at once and lets worker
threads compress each slice's files. Its output must stay byte for byte what the plain rule gives: every row
formatted alone (LineFormatter.format_row, whose text the tests in tests/redshift_emulator check byte for byte),
rows dealt to slices round robin, a line that would take a file past MAXFILESIZE (uncompressed, and by the
estimated compressed size) starting the next file, and DataFile.write_line one line at a time. This module keeps
that rule as a reference and compares file names, bytes, record counts and manifests, over the wire for the
sample's edge tables and a generated table that rolls over, and without S3 for the formatter alone.
"""

from __future__ import annotations

import random
import threading
import time
import uuid

import boto3
import psycopg2
import pytest

from devstack.faultproxy import Fault, FaultProxy
from devstack.redshift.unload import S3Target, UnloadError, _write_manifest, run_unload
from devstack.redshift.unload_backend import named_cursor_opener, use_text_values
from devstack.redshift.unload_format import (
    BOOL,
    BPCHAR,
    BYTEA,
    JSONB,
    TEXT,
    TIMETZ,
    VARCHAR,
    LineFormatter,
)
from devstack.redshift.unload_grammar import UnloadCommand, parse_unload
from devstack.redshift.unload_s3 import DataFile, make_client

KEYS = "ACCESS_KEY_ID 'a' SECRET_ACCESS_KEY 'b'"
PIECES = ["a", "b c", "|", "\\", "\n", "\r", "\r\n", '"', "'", ",", ";", "\t", "ñ", "😀", "\\N", "NULL", " ", "x" * 40]


def _formatter(options: str, oids: list[int]) -> LineFormatter:
    command = parse_unload(f"UNLOAD ('select 1') TO 's3://b/p' {KEYS} {options}")
    return LineFormatter(command, [f"c{i}" for i in range(len(oids))], oids)


def _text(rng: random.Random) -> str | None:
    if rng.random() < 0.15:
        return None
    return "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 6)))


def _value(rng: random.Random, oid: int):
    if rng.random() < 0.15:
        return None
    if oid == BYTEA:
        return "\\x" + rng.randbytes(rng.randint(0, 4)).hex()
    if oid == JSONB:
        return rng.choice(['{"a": "x y", "b": [1, 2]}', '"s | t"', "null", '[1, {"c": "\\" d"}]'])
    if oid == TIMETZ:
        return rng.choice(["13:24:55.25-08", "04:00:00+05:30", "05:58:00+00"])
    if oid == BOOL:
        return rng.choice(["t", "f"])
    if oid == 23:
        return str(rng.randint(-1000, 1000))
    return _text(rng)


OPTION_SETS = ["", "NULL AS '\\\\N'", "ESCAPE", "DELIMITER AS '|' ESCAPE NULL AS '\\\\N'", "ESCAPE ADDQUOTES",
               "ADDQUOTES NULL AS 'NULL'", "DELIMITER AS '\\\\' ESCAPE", "DELIMITER AS '\"' ESCAPE ADDQUOTES",
               "DELIMITER AS ',' ESCAPE", "DELIMITER AS '\\t' ESCAPE ADDQUOTES", "CSV", "CSV DELIMITER AS ';'",
               "CSV NULL AS 'x'", "CSV DELIMITER AS '|' NULL AS '\\\\N'"]
TYPE_SETS = [[TEXT, VARCHAR], [23, VARCHAR, BPCHAR, BOOL], [23, BYTEA, JSONB, TIMETZ, VARCHAR]]


@pytest.mark.parametrize("options", OPTION_SETS)
@pytest.mark.parametrize("oids", TYPE_SETS, ids=["text", "mixed", "converted"])
def test_a_batch_formats_exactly_like_its_rows_one_by_one(options, oids):
    rng = random.Random(f"{options}{oids}")
    formatter = _formatter(options, oids)
    for _ in range(40):
        rows = [tuple(_value(rng, oid) for oid in oids) for _ in range(rng.randint(1, 30))]
        lines, error = formatter.format_batch(rows)
        assert error is None
        assert [line + "\n" for line in lines] == [formatter.format_row(row) for row in rows]


def test_values_that_are_not_text_and_rows_of_another_length_go_row_by_row():
    formatter = _formatter("ESCAPE", [23, BOOL, BYTEA, TEXT])
    lines, error = formatter.format_batch([("1", "t", "\\x00", "a|b"), (7, True, b"\x01\xab", None)])
    assert (lines, error) == (["1|t|00|a\\|b", "7|t|01ab|"], None)
    lines, error = formatter.format_batch([("1", "t", "\\x00", "a"), ("2", "t")])
    assert lines == ["1|t|00|a"] and isinstance(error, ValueError)


def test_a_failing_row_returns_the_lines_before_it_and_the_error_format_row_raises():
    formatter = _formatter("FIXEDWIDTH 'a:2,b:3'", [23, TEXT])
    lines, error = formatter.format_batch([("1", "ab"), ("2", None), ("3", "abcd"), ("4", "x")])
    assert lines == ["1 ab ", "2    "]
    assert "is 4 characters, longer than its FIXEDWIDTH width 3" in str(error)


# ---------------------------------------------------------------- the row-by-row reference, through real S3

class _Reference:
    """What one thread writing row after row makes (the rule in this module's docstring), into real S3."""

    def __init__(self, command: UnloadCommand, client, slices: int, header: bytes | None):
        self.command, self.client, self.slices, self.header = command, client, slices, header
        self.open: dict[int, DataFile] = {}
        self.next_part: dict[int, int] = {}
        self.closed: list[tuple[tuple[int, int], DataFile]] = []

    def _start(self, slice_no: int) -> DataFile:
        part = self.next_part.get(slice_no, 0)
        self.next_part[slice_no] = part + 1
        name = (f"{slice_no:04d}_part_{part:02d}" if self.command.parallel else f"{part:03d}")
        data_file = DataFile(self.client, self.command.bucket, self.command.prefix + name + self.command.file_suffix,
                             self.command.compression)
        if self.header is not None:
            data_file.write_line(self.header)
        self.open[slice_no] = data_file
        return data_file

    def write(self, slice_no: int, line: bytes) -> None:
        data_file = self.open.get(slice_no) or self._start(slice_no)
        limit = self.command.max_file_size
        if (data_file.uncompressed_bytes + len(line) > limit and data_file.estimated_size() + len(line) > limit
                and data_file.records > (1 if self.header is not None else 0)):
            self._finish(slice_no)
            data_file = self._start(slice_no)
        data_file.write_line(line)

    def _finish(self, slice_no: int) -> None:
        data_file = self.open.pop(slice_no)
        data_file.close()
        self.closed.append(((slice_no, self.next_part[slice_no] - 1), data_file))

    def finish(self) -> list[DataFile]:
        if not self.open and not self.closed:
            self._start(0)
        for slice_no in sorted(self.open):
            self._finish(slice_no)
        return [data_file for _, data_file in sorted(self.closed, key=lambda item: item[0])]


def _objects(s3, bucket: str, key_prefix: str) -> dict[str, bytes]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key_prefix)
    keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
    return {key[len(key_prefix):]: s3.get_object(Bucket=bucket, Key=key)["Body"].read() for key in keys}


@pytest.fixture(scope="module")
def s3(devstack):
    env = devstack["s3"]
    client = boto3.client("s3", endpoint_url=env["endpoint_url"], region_name=env["region"],
                          aws_access_key_id=env["access_key_id"], aws_secret_access_key=env["secret_access_key"])
    folder = f"unload-speed/{uuid.uuid4().hex[:10]}/"
    yield client, env, folder
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=env["bucket"], Prefix=folder):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=env["bucket"], Delete={"Objects": keys, "Quiet": True})


@pytest.fixture(scope="module")
def emulator(redshift):
    conn = psycopg2.connect(host=redshift["host"], port=redshift["port"], dbname=redshift["database"],
                            user=redshift["user"], password=redshift["password"], sslmode="disable")
    conn.autocommit = True
    yield conn
    conn.close()


@pytest.fixture(scope="module")
def backend(devstack):
    """The emulator's backend database, read with the text forms and settings the emulator's UNLOAD uses."""
    pg = devstack["postgres"]
    conn = psycopg2.connect(host=pg["host"], port=pg["port"], user=pg["user"], password=pg["password"],
                            dbname=pg["databases"]["redshift"])
    use_text_values(conn)
    with conn.cursor() as cur:
        cur.execute("set intervalstyle = 'postgres'")
    conn.commit()
    yield conn
    conn.close()


BIG_ROWS = 40000
BIG_TABLE = """create table {schema}.big (id bigint, s varchar(300), u varchar(100), n int, amount decimal(12,2),
               ts timestamp, f float8, b boolean)"""
BIG_INSERT = """insert into {schema}.big select g,
  case when g % 13 = 0 then 'pipe|and' || chr(10) || 'nl' || chr(92) || 'bs' || chr(13) || '"q''' || g
       when g % 17 = 0 then '' else md5(g::text) || md5((g * 3)::text) end,
  case when g % 11 = 0 then 'ñandú 😀 ' || g when g % 19 = 0 then null else md5((g * 7)::text) end,
  case when g % 7 = 0 then null else g % 1000 end,
  g * 1.25, timestamp '2020-01-01' + g * interval '1 second', g / 7.0, g % 2 = 0
from generate_series(1, {rows}) g"""


@pytest.fixture(scope="module")
def big_table(emulator):
    """~4 MB of text with NULLs, '', escapes and multibyte text, made through the emulator."""
    schema = f"speed_{uuid.uuid4().hex[:8]}"
    with emulator.cursor() as cur:
        cur.execute(f"create schema {schema}")
        cur.execute(BIG_TABLE.format(schema=schema))
        cur.execute(BIG_INSERT.format(schema=schema, rows=BIG_ROWS))
    yield f"{schema}.big"
    with emulator.cursor() as cur:
        cur.execute(f"drop schema {schema} cascade")


def _unload_and_compare(emulator, backend, s3, query: str, options: str, slices: int = 4) -> dict[str, bytes]:
    """UNLOAD over the wire and the reference from the same rows; asserts every object is the same."""
    client, env, folder = s3
    run = f"{folder}{uuid.uuid4().hex[:10]}/"
    auth = f"ACCESS_KEY_ID '{env['access_key_id']}' SECRET_ACCESS_KEY '{env['secret_access_key']}'"
    statement = f"UNLOAD ('{query.replace(chr(39), chr(39) * 2)}') TO 's3://{env['bucket']}/{run}got/' {auth} {options}"
    with emulator.cursor() as cur:
        cur.execute(statement)
    command = parse_unload(statement.replace(f"{run}got/", f"{run}want/"))
    with backend.cursor(name=f"reference_{uuid.uuid4().hex[:8]}") as cur:
        cur.execute(query)
        rows = cur.fetchall()
        columns = list(cur.description)
    backend.rollback()
    formatter = LineFormatter(command, [c.name for c in columns], [c.type_code for c in columns])
    writer = make_client(env["endpoint_url"], env["region"], env["access_key_id"], env["secret_access_key"], None)
    reference = _Reference(command, writer, slices if command.parallel else 1,
                           formatter.header().encode() if command.header else None)
    for number, row in enumerate(rows):
        reference.write(number % reference.slices, formatter.format_row(row).encode())
    files = reference.finish()
    if command.manifest:
        _write_manifest(command, writer, files, columns)
    got = _objects(client, env["bucket"], f"{run}got/")
    want = _objects(client, env["bucket"], f"{run}want/")
    if "manifest" in want:
        want["manifest"] = want["manifest"].replace(f"{run}want/".encode(), f"{run}got/".encode())
    assert sorted(got) == sorted(want)
    for name in want:
        assert got[name] == want[name], f"{name} differs for {options!r}"
    return got


EDGE_TABLES = ["all_types", "nasty_text", "char_blanks", "intervals", "empty_table", "empty_wide", "precios_año",
               "reserved_words", "identity_cols", "spatial", "sketches"]
EDGE_OPTIONS = ["PARALLEL OFF", "GZIP MANIFEST VERBOSE", "DELIMITER AS '|' ESCAPE NULL AS '\\\\N' ZSTD MANIFEST VERBOSE",
                "ESCAPE ADDQUOTES HEADER BZIP2 PARALLEL OFF", "ADDQUOTES NULL AS 'NULL'",
                "DELIMITER AS '\\t' ESCAPE HEADER", "CSV HEADER MANIFEST", "CSV NULL AS 'x' DELIMITER AS ';' GZIP"]


@pytest.mark.parametrize("options", EDGE_OPTIONS)
def test_edge_tables_unload_exactly_like_row_by_row(sample_redshift, emulator, backend, s3, options):
    for table in EDGE_TABLES:
        _unload_and_compare(emulator, backend, s3, f'select * from edge."{table}"', options)


@pytest.mark.parametrize("options", [
    "MAXFILESIZE 5 MB MANIFEST VERBOSE",
    "GZIP MAXFILESIZE 5 MB PARALLEL OFF MANIFEST VERBOSE",
    "DELIMITER AS '|' ESCAPE NULL AS '\\\\N' ZSTD MAXFILESIZE 5 MB PARALLEL OFF MANIFEST VERBOSE",
    "CSV HEADER MAXFILESIZE 5 MB PARALLEL OFF",
])
def test_files_rolling_over_at_maxfilesize_are_exactly_like_row_by_row(emulator, backend, s3, big_table, options):
    """MAXFILESIZE is 5 MB at least: the table is unloaded four times over (~22 MB of text) to fill files."""
    query = f"select b.* from {big_table} b cross join generate_series(1, 4) r order by r, b.id"
    got = _unload_and_compare(emulator, backend, s3, query, options)
    assert len([name for name in got if name != "manifest"]) >= (8 if "PARALLEL OFF" not in options else 2)


# ---------------------------------------------------------------- stopping mid-way: cancel, an S3 failure

def _s3_target(env: dict, endpoint_url: str | None = None) -> S3Target:
    return S3Target(endpoint_url=endpoint_url or env["endpoint_url"], region=env["region"],
                    access_key_id=env["access_key_id"], secret_access_key=env["secret_access_key"])


def _statement(env: dict, key_prefix: str, query: str, options: str) -> str:
    auth = f"ACCESS_KEY_ID '{env['access_key_id']}' SECRET_ACCESS_KEY '{env['secret_access_key']}'"
    return f"UNLOAD ('{query}') TO 's3://{env['bucket']}/{key_prefix}' {auth} {options}"


def _open_uploads(client, bucket: str, key_prefix: str) -> list[str]:
    answer = client.list_multipart_uploads(Bucket=bucket, Prefix=key_prefix)
    return [upload["Key"] for upload in answer.get("Uploads", [])]


def test_a_cancel_mid_unload_stops_it_keeps_whole_files_and_leaves_no_open_upload(backend, s3, big_table):
    client, env, folder = s3
    key_prefix = f"{folder}{uuid.uuid4().hex[:10]}/"
    query = f"select b.* from {big_table} b cross join generate_series(1, 60) r"     # ~380 MB: still running
    cancel = threading.Event()

    def cancel_like_the_core() -> None:        # engine.cancel(): the event, then the backend query
        cancel.set()
        backend.cancel()
    timer = threading.Timer(0.5, cancel_like_the_core)
    timer.start()
    started = time.monotonic()
    try:
        with pytest.raises(UnloadError) as caught:
            run_unload(_statement(env, key_prefix, query, "PARALLEL OFF MAXFILESIZE 5 MB"),
                       named_cursor_opener(backend), _s3_target(env), 4, lambda _: None, cancel=cancel)
    finally:
        timer.cancel()
        backend.rollback()
    assert caught.value.sqlstate == "57014"
    assert time.monotonic() - started < 15
    assert _open_uploads(client, env["bucket"], key_prefix) == []
    left = _objects(client, env["bucket"], key_prefix)
    assert sorted(left) == [f"{part:03d}" for part in range(len(left))]     # finished files only, in order
    assert all(body.endswith(b"\n") and len(body) <= 5 * 1024 * 1024 for body in left.values())


def test_an_s3_failure_in_a_slice_worker_fails_the_unload_with_the_s3_error(backend, s3, big_table):
    client, env, folder = s3
    key_prefix = f"{folder}{uuid.uuid4().hex[:10]}/"
    query = f"select b.* from {big_table} b cross join generate_series(1, 60) r"
    failing = threading.Event()
    with FaultProxy("127.0.0.1", int(env["endpoint_url"].rsplit(":", 1)[1])) as proxy:
        def fail_once_a_file_is_written() -> None:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not _objects_exist(client, env["bucket"], key_prefix):
                time.sleep(0.05)
            proxy.set_fault(Fault.http_status(500))
            failing.set()
        watcher = threading.Thread(target=fail_once_a_file_is_written, daemon=True)
        watcher.start()
        host, port = proxy.address
        started = time.monotonic()
        try:
            with pytest.raises(UnloadError) as caught:
                run_unload(_statement(env, key_prefix, query, "PARALLEL OFF MAXFILESIZE 5 MB"),
                           named_cursor_opener(backend), _s3_target(env, f"http://{host}:{port}"), 4,
                           lambda _: None)
        finally:
            backend.rollback()
            watcher.join()
            proxy.set_fault(Fault.none())
    assert failing.is_set(), "the UNLOAD never wrote a file, so the failure was not mid-way"
    assert caught.value.message.startswith(("S3ServiceException:", "S3CurlException:")), caught.value.message
    assert time.monotonic() - started < 60
    assert _open_uploads(client, env["bucket"], key_prefix) == []


def _objects_exist(client, bucket: str, key_prefix: str) -> bool:
    return bool(client.list_objects_v2(Bucket=bucket, Prefix=key_prefix).get("Contents"))
