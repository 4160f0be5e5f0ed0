"""End to end through the CLI: a small table, an empty table, a vanished table."""

from __future__ import annotations

import fastjsonschema

from shared.results import load_schema

validate_result = fastjsonschema.compile(load_schema())


def test_small_table_moves_and_result_is_valid(transfer):
    source, target = transfer.table("sales", [("id", "integer"), ("name", "varchar(20)")],
                                    rows_sql=f"INSERT INTO {transfer.schema}.sales VALUES (1, 'a'), (2, NULL), (3, '')")
    code, output = transfer.run("--table", str(source))
    assert code == 0, output
    assert transfer.pg_rows(f"SELECT id, name FROM {transfer.schema}.sales ORDER BY id") == \
        [(1, "a"), (2, None), (3, "")]
    result = transfer.result(source)
    validate_result(result)
    assert result["status"] == "succeeded"
    assert result["rows_source"] == result["rows_unloaded"] == result["rows_loaded"] == 3
    assert [p["name"] for p in result["phases"]][:1] == ["unload"]
    assert {"unload", "copy", "load", "verify"} <= {p["name"] for p in result["phases"]}
