"""Load strategies, formats, batches, dry runs and awkward names, end to end."""

from __future__ import annotations

import json

import fastjsonschema

from shared.identifiers import TableRef, short_name
from shared.results import load_schema
from shared.staging import STAGING_SCHEMA
from tests.table_transfer.conftest import quoted

validate_result = fastjsonschema.compile(load_schema())


def _numbers_table(transfer, name: str, rows: int):
    return transfer.table(name, [("id", "integer"), ("label", "varchar(40)")],
                          rows_sql=f"INSERT INTO {transfer.schema}.{name} SELECT g, 'row ' || g "
                                   f"FROM generate_series(1, {rows}) g")


def test_staged_parallel_sessions_load_every_part_once(transfer):
    source, _ = _numbers_table(transfer, "wide", 5000)
    transfer.pg_execute(f"INSERT INTO {transfer.schema}.wide VALUES (-1, 'stale')")
    code, output = transfer.run("--table", str(source), "--load-sessions", "3", "--parallel-parts", "2",
                                "--verify", "checksum")
    assert code == 0, output
    result = transfer.result(source)
    assert result["parts"] > 1 and result["rows_loaded"] == 5000 and result["checksum_match"] is True
    assert transfer.pg_rows(f"SELECT count(*), count(DISTINCT id), min(id), max(id) FROM {transfer.schema}.wide") \
        == [(5000, 5000, 1, 5000)]
    assert transfer.pg_rows("SELECT count(*) FROM pg_tables WHERE schemaname = %s", (STAGING_SCHEMA,)) == [(0,)]


def test_staged_failure_drops_its_staging_table_and_keeps_the_target(transfer):
    source, _ = _numbers_table(transfer, "strict", 100)
    transfer.pg_execute(f"ALTER TABLE {transfer.schema}.strict ADD CONSTRAINT small CHECK (id < 50)")
    transfer.pg_execute(f"INSERT INTO {transfer.schema}.strict VALUES (1, 'kept')")
    code, output = transfer.run("--table", str(source), "--load-sessions", "2")
    assert code == 5, output
    assert transfer.pg_rows(f"SELECT id, label FROM {transfer.schema}.strict") == [(1, "kept")]
    assert transfer.pg_rows("SELECT count(*) FROM pg_tables WHERE schemaname = %s", (STAGING_SCHEMA,)) == [(0,)]


def test_a_staging_schema_owned_by_another_role_is_not_used(transfer, devstack):
    """r2a_staging is r2a's own: one another role owns could hold its tables or functions (exit 5, target kept)."""
    import uuid

    from tests.conftest import admin_connection

    source, _ = _numbers_table(transfer, "squatted", 10)
    transfer.pg_execute(f"INSERT INTO {transfer.schema}.squatted VALUES (1, 'kept')")
    squatter = f"squatter_{uuid.uuid4().hex[:8]}"
    admin = admin_connection(devstack)
    try:
        with admin.cursor() as cur:
            cur.execute(f'CREATE ROLE "{squatter}" NOLOGIN')
        transfer.pg_execute(f'CREATE SCHEMA {STAGING_SCHEMA} AUTHORIZATION "{squatter}"')
        code, output = transfer.run("--table", str(source), "--load-sessions", "2")
        assert code == 5, output
        assert f"schema {STAGING_SCHEMA} already exists in AlloyDB and is owned by '{squatter}'" in output
        assert transfer.pg_rows(f"SELECT id, label FROM {transfer.schema}.squatted") == [(1, "kept")]
    finally:
        transfer.pg_execute(f"DROP SCHEMA IF EXISTS {STAGING_SCHEMA} CASCADE")
        with admin.cursor() as cur:
            cur.execute(f'DROP ROLE IF EXISTS "{squatter}"')
        admin.close()


def test_csv_format_keeps_null_and_empty_apart(transfer):
    source, _ = transfer.table("csvish", [("id", "integer"), ("v", "varchar(30)")])
    conn = transfer.rs()
    with conn.cursor() as cur:
        cur.executemany(f"INSERT INTO {transfer.schema}.csvish VALUES (%s, %s)",
                        [(1, None), (2, ""), (3, 'a,"b"\nc'), (4, "back\\slash")])
    conn.close()
    code, output = transfer.run("--table", str(source), "--format", "csv", "--verify", "checksum")
    assert code == 0, output
    assert transfer.pg_rows(f"SELECT id, v FROM {transfer.schema}.csvish ORDER BY id") == \
        [(1, None), (2, ""), (3, 'a,"b"\nc'), (4, "back\\slash")]


def test_batch_moves_every_table_and_reports_each(transfer):
    first, _ = _numbers_table(transfer, "one", 3)
    second, _ = _numbers_table(transfer, "two", 0)
    transfer.store.write_json(transfer.layout.batch("batch-0001"),
                              {"format_version": 1, "run_id": transfer.run_id, "batch_id": "batch-0001",
                               "tables": [str(first), str(second), f"{transfer.schema}.absent"]})
    code, output = transfer.run("--batch", "batch-0001")
    assert code == 3, output  # the absent table fails as bad input; the others still move
    assert transfer.result(first)["status"] == "succeeded" and transfer.result(second)["status"] == "succeeded"
    absent = transfer.result(TableRef(transfer.schema, "absent"))
    validate_result(absent)
    assert absent["status"] == "failed"
    assert transfer.pg_rows(f"SELECT count(*) FROM {transfer.schema}.one") == [(3,)]


def test_a_batch_reports_argo_progress_and_its_totals_for_the_metrics(transfer, tmp_path):
    """The pod ends on tables done / tables of the pod in ARGO_PROGRESS_FILE (a failed table is done too), and
    writes the totals its template's Prometheus metrics read (workflows/README.md, Progress and Metrics)."""
    first, _ = _numbers_table(transfer, "pone", 3)
    second, _ = _numbers_table(transfer, "ptwo", 2)
    transfer.store.write_json(transfer.layout.batch("batch-0002"),
                              {"format_version": 1, "run_id": transfer.run_id, "batch_id": "batch-0002",
                               "tables": [str(first), str(second), f"{transfer.schema}.absent"]})
    transfer.environ.update({"ARGO_PROGRESS_FILE": str(tmp_path / "progress"),
                             "R2A_OUTPUTS_DIR": str(tmp_path / "outputs")})
    code, output = transfer.run("--batch", "batch-0002")
    assert code == 3, output
    assert (tmp_path / "progress").read_text() == "3/3\n"
    totals = {path.name: int(path.read_text()) for path in (tmp_path / "outputs").iterdir()}
    assert {k: v for k, v in totals.items() if k != "bytes"} == {"rows": 5, "tables": 3, "tables-failed": 1}
    assert totals["bytes"] > 0


def test_dry_run_prints_statements_without_secrets_and_changes_nothing(transfer):
    source, _ = _numbers_table(transfer, "preview", 2)
    code, output = transfer.run("--table", str(source), "--dry-run", "--max-file-size", "100MB")
    assert code == 0, output
    plan = json.loads(output[output.index("["):output.rindex("]") + 1])
    assert plan[0]["unload"].startswith("UNLOAD ('SELECT \"id\", \"label\" FROM")
    assert "MAXFILESIZE 100 MB" in plan[0]["unload"] and "MANIFEST VERBOSE" in plan[0]["unload"]
    assert transfer.environ["AWS_SECRET_ACCESS_KEY"] not in output
    assert plan[0]["copy"].startswith("COPY")
    assert not transfer.store.exists(transfer.layout.result(source))
    assert transfer.store.list(transfer.layout.unload_prefix(source, 1)) == []


def test_quoted_long_and_mixed_names(transfer):
    long_name = "a table with spaces and \"quotes\" and a name far longer than sixty-three bytes in total x"
    source, target = transfer.table(long_name, [("select", "integer"), ("Weird \"col\"", "varchar(10)")],
                                    target_name=short_name(long_name))
    transfer.rs_execute(f"INSERT INTO {transfer.schema}.{quoted(long_name)} VALUES (1, 'x'), (2, NULL)")
    code, output = transfer.run("--table", str(source), "--verify", "checksum")
    assert code == 0, output
    assert len(target.table.encode()) <= 63
    rows = transfer.pg_rows(f'SELECT "select", "Weird ""col""" FROM {transfer.schema}.{quoted(target.table)} ORDER BY 1')
    assert rows == [(1, "x"), (2, None)]


def test_bad_flags_fail_in_one_line(transfer):
    code, output = transfer.run("--table", "a.b", "--compression", "lz4")  # a flag's value: usage, as in every step
    assert code == 2 and "'--compression'" in output and "'lz4'" in output and "Traceback" not in output
    code, output = transfer.run("--table", "a.b", "--batch", "batch-0001")
    assert code == 3 and "exactly one of" in output
    code, output = transfer.run("--table", "a.b", "--max-file-size", "1MB")
    assert code == 2 and "5MB..6.2GB" in output
