"""End to end through the CLI: a small table, an empty table, a vanished table."""

from __future__ import annotations

import fastjsonschema

from shared.documents.claim import Claim
from shared.identifiers import TableRef
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


def test_empty_table_succeeds_with_zero_rows(transfer):
    source, _ = transfer.table("empty", [("id", "integer")])
    transfer.pg_execute(f"INSERT INTO {transfer.schema}.empty VALUES (42)")  # stale rows from an earlier run
    code, output = transfer.run("--table", str(source))
    assert code == 0, output
    result = transfer.result(source)
    validate_result(result)
    assert (result["status"], result["rows_source"], result["rows_loaded"]) == ("succeeded", 0, 0)
    assert transfer.pg_rows(f"SELECT count(*) FROM {transfer.schema}.empty") == [(0,)]
    # counted 0 in the UNLOAD's transaction: no UNLOAD ran (what Redshift writes for no row is not documented)
    assert result["parts"] == 0 and list(transfer.store.list(transfer.layout.unload_table_prefix(source))) == []


def test_vanished_table_fails_with_table_not_found(transfer):
    source, _ = transfer.table("gone", [("id", "integer")])
    transfer.rs_execute(f"DROP TABLE {transfer.schema}.gone")
    code, output = transfer.run("--table", str(source))
    assert code == 4, output
    assert "table not found" in output and "Traceback" not in output
    result = transfer.result(source)
    validate_result(result)
    assert result["status"] == "failed" and "table not found" in result["error"]["message"]
    assert result["attempts"][-1]["status"] == "failed"


def test_table_not_in_plan_is_bad_input_with_a_result(transfer):
    transfer.table("known", [("id", "integer")])
    code, output = transfer.run("--table", f"{transfer.schema}.unknown")
    assert code == 3, output
    result = transfer.store.read_json(transfer.layout.result(TableRef(transfer.schema, "unknown")))
    validate_result(result)
    assert result["status"] == "failed" and "not in the plan" in result["error"]["message"]


def test_rerun_is_idempotent_and_uses_a_new_attempt_prefix(transfer):
    source, _ = transfer.table("again", [("id", "integer")],
                               rows_sql=f"INSERT INTO {transfer.schema}.again VALUES (1), (2)")
    assert transfer.run("--table", str(source))[0] == 0
    transfer.rs_execute(f"INSERT INTO {transfer.schema}.again VALUES (3)")
    code, output = transfer.run("--table", str(source))
    assert code == 0, output
    assert transfer.pg_rows(f"SELECT id FROM {transfer.schema}.again ORDER BY id") == [(1,), (2,), (3,)]
    result = transfer.result(source)
    assert [a["number"] for a in result["attempts"]] == [1, 2]
    assert [a["status"] for a in result["attempts"]] == ["succeeded", "succeeded"]
    manifests = [i.url for i in transfer.store.list(transfer.layout.unload_prefix(source, 1).rsplit("attempt-", 1)[0])
                 if i.url.endswith("manifest")]
    assert [m.rsplit("/", 2)[1] for m in manifests] == ["attempt-001", "attempt-002"]
    claims = [Claim.read(transfer.store, transfer.layout.claim(source, n)) for n in (1, 2)]  # each before its UNLOAD
    assert [(c.run_id, c.table, c.attempt) for c in claims] == [(transfer.layout.run_id, str(source), 1),
                                                                 (transfer.layout.run_id, str(source), 2)]
    assert claims[0].claimed_at <= result["attempts"][1]["started_at"] <= claims[1].claimed_at


def test_failed_load_leaves_the_target_as_it_was(transfer):
    source, target = transfer.table("typed", [("id", "integer"), ("code", "varchar(10)")],
                                    rows_sql=f"INSERT INTO {transfer.schema}.typed VALUES (1, 'abc')")
    transfer.pg_execute(f"ALTER TABLE {transfer.schema}.typed ALTER COLUMN code TYPE integer USING 0")
    transfer.pg_execute(f"INSERT INTO {transfer.schema}.typed VALUES (7, 7)")
    code, output = transfer.run("--table", str(source))
    assert code == 5, output
    assert "invalid input syntax for type integer" in output
    assert transfer.pg_rows(f"SELECT id, code FROM {transfer.schema}.typed") == [(7, 7)]
    result = transfer.result(source)
    validate_result(result)
    assert result["status"] == "failed" and result["error"]["error_class"] == "TargetError"
    assert result["rows_source"] == 1 and result["rows_loaded"] is None


def test_cleanup_removes_staged_files(transfer):
    source, _ = transfer.table("tidy", [("id", "integer")], rows_sql=f"INSERT INTO {transfer.schema}.tidy VALUES (1)")
    code, output = transfer.run("--table", str(source), "--cleanup", "s3,gcs")
    assert code == 0, output
    assert transfer.store.list(transfer.layout.unload_prefix(source, 1)) == []
    assert transfer.store.list(transfer.layout.staging_prefix(source, 1)) == []
    assert "cleanup" in [p["name"] for p in transfer.result(source)["phases"]]


def test_cleanup_keeps_a_failed_tables_parts_and_removes_every_attempt_after_success(transfer):
    source, _ = transfer.table("retried", [("id", "integer"), ("code", "varchar(10)")],
                               rows_sql=f"INSERT INTO {transfer.schema}.retried VALUES (1, 'abc')")
    transfer.pg_execute(f"ALTER TABLE {transfer.schema}.retried ALTER COLUMN code TYPE integer USING 0")
    code, output = transfer.run("--table", str(source), "--cleanup", "s3,gcs")
    assert code == 5, output
    assert transfer.store.list(transfer.layout.unload_prefix(source, 1)) != []
    assert transfer.store.list(transfer.layout.staging_prefix(source, 1)) != []
    transfer.pg_execute(f"ALTER TABLE {transfer.schema}.retried ALTER COLUMN code TYPE varchar(10)")
    code, output = transfer.run("--table", str(source), "--cleanup", "s3,gcs")
    assert code == 0, output
    assert transfer.result(source)["attempts"][-1]["number"] == 2
    assert transfer.store.list(transfer.layout.unload_table_prefix(source)) == []
    assert transfer.store.list(transfer.layout.staging_table_prefix(source)) == []
