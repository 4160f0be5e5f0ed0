"""load_schema --section pre-data against a fresh devstack database (the AlloyDB stand-in), as a process."""

import json
import socket

import pytest

from shared.documents.fanout import Fanout
from shared.identifiers import parse_table_ref
from shared.objectstore import RunLayout
from tests.load_schema import sample
from tests.load_schema.conftest import query
from tests.support.runfolder import RunFolder
from tests.support.steps import one_error_line, run_step
from tests.validate_restore.conftest import assert_result_record

STEP = "steps.load_schema"


def pre_data(folder, *extra: str, environ=None):
    return run_step(STEP, ["--run-id", folder.run_id, "--section", "pre-data", *extra], environ or folder.environ)


def shop_tables(dsn: str) -> list[str]:
    return [r[0] for r in query(dsn, "select relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
                                     "where nspname = 'shop' and relkind = 'r' order by 1")]


def test_objects_tables_and_fanout(folder, alloydb):
    dsn, _ = alloydb
    sample.put_pre_data(folder)
    done = pre_data(folder)
    assert done.returncode == 0, done.stderr

    report = folder.json(folder.layout.load_report_json)
    outcomes = {(o["kind"], o["name"]): (o["status"], o.get("reason")) for o in report["objects"]}
    geometry = 'type "geometry" does not exist (SQLSTATE 42704)'
    assert outcomes == {
        ("schema", "shop"): ("applied", None),
        ("table", "shop.customers"): ("applied", None),
        ("table", "shop.orders"): ("applied", None),
        ("comment", "shop.orders"): ("applied", None),
        ("table", "shop.items"): ("applied", None),
        ("table", "shop.places"): ("failed", geometry),
        ("comment", "shop.places"): ("skipped", f"depends on table shop.places, which failed: {geometry}"),
    }
    assert report["counts"] == {"applied": 5, "failed": 1, "skipped": 1}
    assert shop_tables(dsn) == ["customers", "items", "orders"]

    listed = folder.json(folder.layout.tables_json)["tables"]
    assert [t["table"] for t in listed] == ["shop.orders", "shop.customers", "shop.items"]  # largest first
    orders = listed[0]
    assert orders["target_ref"] == {"schema": "shop", "name": "orders"} and orders["size_mb"] == 2048
    assert [c["target"] for c in orders["columns"]] == ["id", "customer_id", "amount"]
    assert orders["columns"][2] == {"source": "amount", "target": "amount", "unload_expression": '"amount"',
                                    "target_type": "numeric(12,2)", "source_type": "numeric(12,2)", "nullable": True}

    # shop.orders (2 GB) reaches own-pod-min-mb and is its own item; the two small ones share a batch (fanout.py).
    assert json.loads(done.stdout) == ["shop.orders", "batch-0001"]
    assert folder.json(folder.layout.batch("batch-0001"))["tables"] == ["shop.customers", "shop.items"]
    assert Fanout.from_json(folder.json(folder.layout.fanout_json), "fanout.json").items == tuple(json.loads(done.stdout))

    failed = folder.json(folder.layout.result(parse_table_ref("shop.places")))
    assert_result_record(failed)
    assert_result_record(folder.json(folder.layout.step_result("load_schema_pre_data")))
    assert failed["status"] == "skipped" and failed["table"] == "shop.places"
    assert failed["error"]["message"] == ("not transferred: load_schema could not create the table in AlloyDB: "
                                          f"{geometry}")
    assert folder.json(folder.layout.step_result("load_schema_pre_data"))["status"] == "partial"


def test_existing_tables_fail_by_default_and_change_nothing(folder, alloydb):
    dsn, _ = alloydb
    query(dsn, 'create schema shop; create table shop.orders (keep int); insert into shop.orders values (1)')
    sample.put_pre_data(folder)
    done = pre_data(folder)
    assert done.returncode == 6
    assert ("1 table(s) already exist in AlloyDB: shop.orders. Nothing was changed. Re-run with --on-existing skip"
            in one_error_line(done, "load_schema"))
    assert shop_tables(dsn) == ["orders"]
    assert not folder.has(folder.layout.tables_json) and not folder.has(folder.layout.load_report_json)


def test_existing_tables_skip_keeps_them(folder, alloydb):
    dsn, _ = alloydb
    query(dsn, 'create schema shop; create table shop.orders (id bigint, customer_id int, amount numeric(12,2)); '
               'insert into shop.orders values (1, 1, 1)')
    sample.put_pre_data(folder)
    done = pre_data(folder, "--on-existing", "skip")
    assert done.returncode == 0, done.stderr
    outcomes = {(o["kind"], o["name"]): (o["status"], o.get("reason")) for o in folder.json(folder.layout.load_report_json)["objects"]}
    assert outcomes[("schema", "shop")] == ("skipped", "already exists in AlloyDB; kept")
    assert outcomes[("table", "shop.orders")] == ("skipped", "already exists in AlloyDB; kept (--on-existing skip)")
    assert outcomes[("comment", "shop.orders")] == ("applied", None)  # its table is there: kept counts
    assert query(dsn, "select count(*) from shop.orders") == [(1,)]
    assert "shop.orders" in json.loads(done.stdout)


def test_existing_tables_replace_recreates_them(folder, alloydb):
    dsn, _ = alloydb
    query(dsn, "create schema shop; create table shop.orders (keep int); insert into shop.orders values (1);"
               "create view shop.v as select * from shop.orders")
    sample.put_pre_data(folder)
    done = pre_data(folder, "--on-existing", "replace")
    assert done.returncode == 0, done.stderr
    outcomes = {(o["kind"], o["name"]): (o["status"], o.get("reason")) for o in folder.json(folder.layout.load_report_json)["objects"]}
    assert outcomes[("table", "shop.orders")] == ("applied", "replaced the existing table (--on-existing replace)")
    columns = query(dsn, "select attname from pg_attribute where attrelid = 'shop.orders'::regclass and attnum > 0 "
                         "order by attnum")
    assert [c[0] for c in columns] == ["id", "customer_id", "amount"]
    assert query(dsn, "select count(*) from shop.orders") == [(0,)]


@pytest.mark.parametrize("name_map, message", [
    ("{not json", "name_map.json is not valid JSON"),
    (json.dumps({"tables": [{"source": {"schema": "shop"}, "target": {"schema": "shop", "name": "t"}}]}),
     "name_map.json: tables[0].source.name must be a non-empty string"),
])
def test_malformed_name_map_is_one_line_and_writes_nothing_to_alloydb(folder, alloydb, name_map, message):
    dsn, _ = alloydb
    folder.put(folder.layout.validated_sql("pre-data"), sample.PRE_DATA)
    folder.put(folder.layout.name_map_json, name_map)
    done = pre_data(folder)
    assert done.returncode == 3
    assert message in one_error_line(done, "load_schema")
    assert query(dsn, "select count(*) from pg_namespace where nspname = 'shop'") == [(0,)]
    assert done.stdout == ""


def test_malformed_marker_is_bad_input(folder, alloydb):
    dsn, _ = alloydb
    folder.put(folder.layout.validated_sql("pre-data"), '-- r2a:object {"kind": "schema", "name": "shop"\nCREATE SCHEMA shop;\n')
    folder.put(folder.layout.name_map_json, json.dumps(sample.NAME_MAP))
    done = pre_data(folder)
    assert done.returncode == 3
    assert "validated_pre_data.sql line 1: the r2a:object marker is not valid JSON" in one_error_line(done, "load_schema")
    assert query(dsn, "select count(*) from pg_namespace where nspname = 'shop'") == [(0,)]


def test_missing_validation_is_bad_state(folder):
    done = pre_data(folder)
    assert done.returncode == 6
    assert "validated_pre_data.sql does not exist. Run validate_restore for this run first" in one_error_line(done, "load_schema")


def test_unreachable_alloydb_is_transient(folder):
    sample.put_pre_data(folder)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    done = pre_data(folder, environ=dict(folder.environ, PGPORT=str(closed_port), PGCONNECT_TIMEOUT="3"))
    assert done.returncode == 1
    assert f"cannot connect to AlloyDB at 127.0.0.1:{closed_port}" in one_error_line(done, "load_schema")
    assert not folder.has(folder.layout.tables_json)


def test_wrong_password_is_config_error(folder, alloydb):
    dsn, _ = alloydb
    sample.put_pre_data(folder)
    done = pre_data(folder, environ=dict(folder.environ, PGPASSWORD="not-the-password-42"))
    assert done.returncode == 2
    line = one_error_line(done, "load_schema")
    assert "refused the login for user 'postgres': wrong user or password" in line
    assert "not-the-password-42" not in done.stderr
    assert query(dsn, "select count(*) from pg_namespace where nspname = 'shop'") == [(0,)]


def test_a_retried_attempt_keeps_the_tables_its_cut_off_predecessor_made(folder, alloydb):
    """Attempt 1 loses its connection after 200 committed tables (exit 1, Argo retries); attempt 2 must not stop
    at those tables with --on-existing fail: they are this run's own, listed in the progress file."""
    from tests.validate_restore.conftest import block

    dsn, _ = alloydb
    tables = [block("table", f"shop.t{i:03d}", f'CREATE TABLE "shop"."t{i:03d}" ("x" int);', depends_on=["shop"])
              for i in range(205)]
    # A materialized view runs its query when created: this one ends its own session (one statement of its kind).
    cut = block("materialized_view", "shop.cut",
                'CREATE MATERIALIZED VIEW "shop"."cut" AS SELECT pg_terminate_backend(pg_backend_pid());')
    schema = block("schema", "shop", 'CREATE SCHEMA "shop";')
    folder.put(folder.layout.name_map_json, json.dumps({"tables": []}))
    folder.put(folder.layout.validated_sql("pre-data"), schema + "".join(tables[:200]) + cut + "".join(tables[200:]))
    first = pre_data(folder)
    assert first.returncode == 1, first.stderr
    assert "lost the AlloyDB connection" in one_error_line(first, "load_schema")
    assert len(shop_tables(dsn)) == 199  # schema + 199 tables = 200 objects committed; the rest rolled back

    folder.put(folder.layout.validated_sql("pre-data"), schema + "".join(tables))
    second = pre_data(folder)
    assert second.returncode == 0, second.stderr
    outcomes = [(o["name"], o["status"], o.get("reason")) for o in folder.json(folder.layout.load_report_json)["objects"]]
    assert outcomes[1] == ("shop.t000", "skipped", "created by an earlier attempt of this run; kept")
    assert outcomes[-1] == ("shop.t204", "applied", None)
    assert len(shop_tables(dsn)) == 205

    other_layout = RunLayout(f"{folder.run_id}_other", folder.layout.gcs_bucket, folder.layout.gcs_prefix)
    other = RunFolder(other_layout.run_id, folder.store, other_layout, folder.environ)
    other.put(other.layout.validated_sql("pre-data"), schema + "".join(tables))
    other.put(other.layout.name_map_json, json.dumps({"tables": []}))
    third = pre_data(other, "--on-existing", "fail")
    assert third.returncode == 6  # fail: another run does not get to keep them
    assert "205 table(s) already exist in AlloyDB: shop.t000" in one_error_line(third, "load_schema")
    fourth = pre_data(other)  # the default, refresh: r2a made them (r2a_meta.created_tables), so it keeps them
    assert fourth.returncode == 0, fourth.stderr
    report = other.json(other.layout.load_report_json)
    assert report["on_existing"] == "refresh" and report["counts"] == {"unchanged": 206}


def test_batches_are_written_and_stale_ones_removed(folder, alloydb):
    from tests.validate_restore.conftest import block

    def run(count: int, *flags: str) -> list[str]:
        folder.put(folder.layout.validated_sql("pre-data"), block("schema", "shop", 'CREATE SCHEMA "shop";') + "".join(
            block("table", f"shop.t{i:03d}", f'CREATE TABLE "shop"."t{i:03d}" ("x" int);', depends_on=["shop"])
            for i in range(count)))
        folder.put(folder.layout.name_map_json, json.dumps({"tables": [
            {"source": {"schema": "shop", "name": f"t{i:03d}"}, "target": {"schema": "shop", "name": f"t{i:03d}"},
             "size_mb": 1000 - i if i < 200 else 0, "estimated_rows": 1, "columns": [{"source": "x", "target": "x"}]}
            for i in range(count)]}))
        done = pre_data(folder, *flags)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    items = run(230)  # 200 tables of 801 MB or more alone (own-pod-min-mb 256); 30 empty ones fill 6 of 8 batches
    assert items[:200] == [f"shop.t{i:03d}" for i in range(200)]
    assert items[200:] == [f"batch-{n:04d}" for n in range(1, 7)]
    batch = folder.json(folder.layout.batch("batch-0001"))
    assert batch["batch_id"] == "batch-0001" and batch["run_id"] == folder.run_id and len(batch["tables"]) == 5
    listed = sorted(t for n in range(1, 7) for t in folder.json(folder.layout.batch(f"batch-{n:04d}"))["tables"])
    assert listed == [f"shop.t{i:03d}" for i in range(200, 230)]

    assert run(212, "--on-existing", "skip")[200:] == ["batch-0001", "batch-0002", "batch-0003"]
    assert folder.has(folder.layout.batch("batch-0003")) and not folder.has(folder.layout.batch("batch-0004"))
