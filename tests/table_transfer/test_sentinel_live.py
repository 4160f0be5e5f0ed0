"""The NULL sentinel against texts that look like it, and VARBYTE's bare hex, under Redshift's UNLOAD rules
(REDSHIFT_FACTS.md: ESCAPE backslash-escapes `\\`, newline, CR and the delimiter in character values; the
`NULL AS` string is written as is; VARBYTE is lowercase hex without `\\x`). The emulator follows these rules, so
what the text parts hold here is what real Redshift writes."""

from __future__ import annotations

import gzip
import io

import zstandard

from shared.identifiers import TableRef

LOOKALIKES = [None, "\\N", "NULL", "null", "", "\\\\N", "\\N\\N", " \\N", "\\", "N"]


def _lookalike_table(transfer, name: str) -> TableRef:
    source, _ = transfer.table(name, [("id", "integer"), ("v", "varchar(20)"), ("c", "char(4)")])
    conn = transfer.rs()
    with conn.cursor() as cur:
        cur.executemany(f"INSERT INTO {transfer.schema}.{name} VALUES (%s, %s, %s)",
                        [(i, text, text if text is None or len(text) <= 4 else None)
                         for i, text in enumerate(LOOKALIKES)])
    conn.close()
    return source


def _unloaded_lines(transfer, source: TableRef) -> list[bytes]:
    prefix = transfer.layout.unload_prefix(source, 1)
    manifest = transfer.store.read_json(prefix + "manifest")
    lines = []
    for entry in manifest["entries"]:
        with transfer.store.open_read(entry["url"]) as raw:
            data = raw.read()
        if entry["url"].endswith(".zst"):
            text = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data), read_across_frames=True).read()
        else:
            text = gzip.decompress(data)
        lines.extend(text.splitlines())
    return lines


def test_texts_equal_to_the_sentinel_stay_apart_from_null(transfer):
    source = _lookalike_table(transfer, "lookalike")
    code, output = transfer.run("--table", str(source), "--verify", "checksum")
    assert code == 0, output
    got = transfer.pg_rows(f"SELECT id, v, c, v IS NULL FROM {transfer.schema}.lookalike ORDER BY id")
    expected = [(i, text, None if text is None or len(text) > 4 else text.ljust(4), text is None)
                for i, text in enumerate(LOOKALIKES)]
    assert got == expected
    # As Redshift writes them: the marker bare, the text `\N` with its backslash escaped.
    lines = _unloaded_lines(transfer, source)
    assert b"0|\\N|\\N" in lines and b"1|\\\\N|\\\\N  " in lines  # CHAR(4) keeps its padding


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


def test_csv_never_loads_a_text_equal_to_the_marker_as_null(transfer):
    """CSV quotes a field only when it must, so the text `\\N` is written like the NULL marker: the load must fail
    (target as it was, the reason on one line), even with the default --verify count, rather than turn it NULL."""
    source = _lookalike_table(transfer, "csvlook")
    transfer.pg_execute(f"INSERT INTO {transfer.schema}.csvlook VALUES (-1, 'kept', 'kept')")
    code, output = transfer.run("--table", str(source), "--format", "csv")
    assert code == 5, output
    lines = [line for line in output.splitlines() if line.startswith("r2a table_transfer: error:")]
    assert len(lines) == 1 and "v:nonnull (source 9, target 8)" in lines[0] and "--format text" in lines[0], output
    assert b"1,\\N,\\N  " in _unloaded_lines(transfer, source)  # what Redshift writes: the marker's twin
    assert transfer.pg_rows(f"SELECT id, v FROM {transfer.schema}.csvlook") == [(-1, "kept")]
    assert transfer.result(source)["status"] == "failed"
