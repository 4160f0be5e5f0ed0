"""NULL against the values that look like a NULL marker, in both ways Redshift may write `NULL AS` under ESCAPE,
for text and CSV unloads, through table_transfer into AlloyDB; and the hex of VARBYTE, GEOMETRY and GEOGRAPHY.

AWS (https://docs.aws.amazon.com/redshift/latest/dg/r_UNLOAD.html, ESCAPE): a backslash is put before linefeed,
carriage return, the delimiter and the backslash in CHAR/VARCHAR values; the page does not say whether the NULL AS
string is escaped too. The one field report (https://github.com/hellonarrativ/spectrify/issues/6) says it is.
The emulator writes it as is by default and, with `r2a_emulator_fault('unload_escape_null_as', table)`, like a
value; r2a's random marker (letters, digits, `_`) must give the same exact rows either way."""

from __future__ import annotations

import gzip
import io
import re

import pytest
import zstandard

from shared.identifiers import TableRef

LOOKALIKES = [None, "", "\\N", "\\\\N", "NULL", "null", " \\N", "\\", "N", "\\N\\N", "\\\\",
              "r2a_null_" + "0" * 32, "r2a_null_", "R2A_NULL_" + "F" * 32, "r2a_null_0123456789abcdef0123456789abcdeg",
              "|", "a|b", "\\|", ",", '"', '"q"', "a\nb", "a\r\nb", "\r", "\n", "\t", "C:\\dir\\", "\\r\\n"]
MARKER_LINE = re.compile(rb"^0[|,](r2a_null_[0-9a-f]{32})[|,]\1[|,]\1$", re.MULTILINE)


def _lookalike_table(transfer, name: str) -> TableRef:
    source, _ = transfer.table(name, [("id", "integer"), ("v", "varchar(64)"), ("c", "char(4)"), ("n", "integer")])
    conn = transfer.rs()
    with conn.cursor() as cur:
        cur.executemany(f"INSERT INTO {transfer.schema}.{name} VALUES (%s, %s, %s, %s)",
                        [(i, text, text if text is None or len(text) <= 4 else None, None if text is None else i)
                         for i, text in enumerate(LOOKALIKES)])
    conn.close()
    return source


def _unloaded(transfer, source: TableRef) -> bytes:
    prefix = transfer.layout.unload_prefix(source, 1)
    manifest = transfer.store.read_json(prefix + "manifest")
    data = b""
    for entry in manifest["entries"]:
        with transfer.store.open_read(entry["url"]) as raw:
            part = raw.read()
        if entry["url"].endswith(".zst"):
            data += zstandard.ZstdDecompressor().stream_reader(io.BytesIO(part), read_across_frames=True).read()
        else:
            data += gzip.decompress(part)
    return data


@pytest.mark.parametrize("escape_null_as", [False, True], ids=["null-as-written-as-is", "null-as-escaped-like-data"])
@pytest.mark.parametrize("data_format", ["text", "csv"])
def test_null_and_its_lookalikes_arrive_exactly(transfer, data_format, escape_null_as):
    source = _lookalike_table(transfer, "lookalike")
    if escape_null_as:
        transfer.rs_execute("SELECT r2a_emulator_fault('unload_escape_null_as', %s)", (str(source).lower(),))
    try:
        code, output = transfer.run("--table", str(source), "--format", data_format, "--verify", "checksum")
    finally:
        transfer.rs_execute("SELECT r2a_emulator_fault_clear()")
    assert code == 0, output
    got = transfer.pg_rows(f"SELECT id, v, c, n FROM {transfer.schema}.lookalike ORDER BY id")
    expected = [(i, text, None if text is None or len(text) > 4 else text.ljust(4), None if text is None else i)
                for i, text in enumerate(LOOKALIKES)]
    assert got == expected
    # the NULL row as the file holds it: the run's marker in every column, whichever way NULL AS was written
    assert MARKER_LINE.search(_unloaded(transfer, source)), _unloaded(transfer, source)[:200]


def test_varbyte_arrives_as_the_same_bytes(transfer):
    source, _ = transfer.table("bytes", [("id", "integer"), ("b", "varbyte(16)")])
    values = [None, "", "00", "5c4e", "5c", "7c0a0d", "ff00fe"]
    conn = transfer.rs()
    with conn.cursor() as cur:
        cur.executemany(f"INSERT INTO {transfer.schema}.bytes VALUES (%s, TO_VARBYTE(%s, 'hex'))",
                        list(enumerate(values)))
    conn.close()
    code, output = transfer.run("--table", str(source))
    assert code == 0, output
    got = [(i, None if b is None else bytes(b))
           for i, b in transfer.pg_rows(f"SELECT id, b FROM {transfer.schema}.bytes ORDER BY id")]
    assert got == [(i, None if v is None else bytes.fromhex(v)) for i, v in enumerate(values)]


# POINT(1 2) and the polygon of AWS's ST_AsHexEWKB example, SRID 4326, as EWKB
POINT_EWKB = "0101000020E6100000000000000000F03F0000000000000040"
POLYGON_EWKB = ("0103000020E61000000100000005000000000000000000000000000000000000000000000000000000000000000000F03F"
                "000000000000F03F000000000000F03F000000000000F03F000000000000000000000000000000000000000000000000")


@pytest.mark.parametrize("data_format", ["text", "csv"])
def test_geometry_geography_and_varbyte_arrive_as_the_same_bytes(transfer, data_format):
    """Without PostGIS, GEOMETRY and GEOGRAPHY become bytea holding their EWKB. Redshift writes EWKB hex in upper
    case (https://docs.aws.amazon.com/redshift/latest/dg/ST_AsHexEWKB-function.html: "0-9, A-F") and VARBYTE's
    TO_HEX in lower case (https://docs.aws.amazon.com/redshift/latest/dg/r_TO_HEX.html); both land byte for byte."""
    source, _ = transfer.table("spatial", [("id", "integer"), ("g", "geometry"), ("gg", "geography"),
                                           ("b", "varbyte(64)")])
    values = [(None, None), (POINT_EWKB, "ABCDEF00"), (POLYGON_EWKB, "5c4e7c0a"), (POINT_EWKB.lower(), "")]
    conn = transfer.rs()
    with conn.cursor() as cur:
        cur.executemany(f"INSERT INTO {transfer.schema}.spatial VALUES (%s, FROM_HEX(%s), FROM_HEX(%s), "
                        "FROM_HEX(%s))", [(i, shape, shape, raw) for i, (shape, raw) in enumerate(values)])
    conn.close()
    code, output = transfer.run("--table", str(source), "--format", data_format, "--verify", "checksum")
    assert code == 0, output
    unloaded = _unloaded(transfer, source)
    assert POLYGON_EWKB.encode() in unloaded and b"abcdef00" in unloaded   # each type's own case, decoded alike
    got = [(i, *(None if v is None else bytes(v) for v in rest))
           for i, *rest in transfer.pg_rows(f"SELECT id, g, gg, b FROM {transfer.schema}.spatial ORDER BY id")]
    assert got == [(i, *(None if v is None else bytes.fromhex(v) for v in (shape, shape, raw)))
                   for i, (shape, raw) in enumerate(values)]
