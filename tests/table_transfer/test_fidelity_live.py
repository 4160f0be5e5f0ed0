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
