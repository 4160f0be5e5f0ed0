"""Every value of every type arrives identical: source and target compared cell by cell."""

from __future__ import annotations

import pytest

from tests.table_transfer import edge_cases


def _load_edge_table(transfer, name: str = "edge"):
    source, target = transfer.table(name, edge_cases.COLUMNS)
    conn = transfer.rs()
    try:
        with conn.cursor() as cur:
            cur.executemany(edge_cases.insert_sql(f"{transfer.schema}.{name}"), edge_cases.rows())
    finally:
        conn.close()
    return source, target


def _compare(transfer, name: str) -> int:
    columns = ", ".join(f'"{c}"' for c, _ in edge_cases.COLUMNS)
    source_rows = transfer.rs_rows(f'SELECT {columns} FROM {transfer.schema}."{name}" ORDER BY id')
    target_rows = transfer.pg_rows(f'SELECT {columns} FROM {transfer.schema}."{name}" ORDER BY id')
    assert len(source_rows) == len(target_rows) == len(edge_cases.rows())
    differences = []
    for source_row, target_row in zip(source_rows, target_rows, strict=True):
        for (column, _), left, right in zip(edge_cases.COLUMNS, source_row, target_row, strict=True):
            if edge_cases.normalized(left) != edge_cases.normalized(right):
                differences.append((source_row[0], column, left, right))
    assert differences == []
    return len(source_rows)


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_edge_values_identical_text_format(transfer, compression):
    source, _ = _load_edge_table(transfer)
    code, output = transfer.run("--table", str(source), "--verify", "checksum", "--compression", compression)
    assert code == 0, output
    rows = _compare(transfer, "edge")
    result = transfer.result(source)
    assert result["rows_loaded"] == rows and result["checksum_match"] is True


def test_sql_null_and_json_null_stay_apart(transfer):
    source, _ = transfer.table("js", [("id", "integer"), ("j", "super")])
    transfer.rs_execute(f"INSERT INTO {transfer.schema}.js VALUES (1, NULL), (2, JSON_PARSE('null'))")
    code, output = transfer.run("--table", str(source))
    assert code == 0, output
    assert transfer.pg_rows(f"SELECT id, j IS NULL, jsonb_typeof(j) FROM {transfer.schema}.js ORDER BY id") == \
        [(1, True, None), (2, False, "null")]


def test_super_forced_to_varchar_arrives_as_its_json_text(transfer):
    """A SUPER column the overrides file forces to VARCHAR is still selected through JSON_SERIALIZE: UNLOAD writes
    SUPER as JSON untouched by ESCAPE and its NULL as JSON null whatever NULL AS says
    (https://docs.aws.amazon.com/redshift/latest/dg/unload-super.html), so selected bare its backslashes would be
    read by COPY as escapes and a SQL NULL would arrive as the text 'null'."""
    source, target = transfer.table("forced", [("id", "integer"), ("j", "super")])
    transfer.entries[-1]["columns"][1]["target_type"] = "varchar(65535)"
    transfer.write_plan()
    transfer.pg_execute(f'ALTER TABLE {transfer.schema}."forced" ALTER COLUMN j TYPE varchar(65535)')
    transfer.rs_execute(f"INSERT INTO {transfer.schema}.forced VALUES (1, NULL), (2, JSON_PARSE('null')), "
                        "(3, JSON_PARSE('{\"a\": \"back\\\\\\\\slash\\\\ttab\"}'))")
    code, output = transfer.run("--table", str(source), "--verify", "checksum")
    assert code == 0, output
    expected = transfer.rs_rows(f"SELECT id, JSON_SERIALIZE(j) FROM {transfer.schema}.forced ORDER BY id")
    assert expected[0] == (1, None) and "\\\\" in expected[2][1]
    assert transfer.pg_rows(f'SELECT id, j FROM {transfer.schema}."forced" ORDER BY id') == expected
