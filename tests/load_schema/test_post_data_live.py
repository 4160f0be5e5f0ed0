"""load_schema --section post-data after a simulated transfer: violations counted, the rest kept, reseed, views."""

from tests.load_schema import sample
from tests.load_schema.conftest import query
from tests.support.steps import one_error_line, run_step
from tests.validate_restore.conftest import assert_result_record, block

STEP = "steps.load_schema"


def post_data(folder):
    return run_step(STEP, ["--run-id", folder.run_id, "--section", "post-data"], folder.environ)


def test_violations_are_reported_and_everything_else_is_kept(loaded):
    folder, dsn = loaded
    done = post_data(folder)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    report = folder.json(folder.layout.post_data_report_json)
    outcomes = {o["name"]: (o["status"], o.get("violations"), o.get("reason")) for o in report["objects"]}
    assert outcomes == {
        "shop.customers.customers_pkey": ("applied", 0, None),
        "shop.orders.orders_pkey": ("applied", 0, None),
        "shop.items.items_pkey": ("failed", 3, "3 row(s) violate it (2 in duplicate keys, 1 with a NULL key column); "
                                               "not created"),
        "shop.orders.orders_customer_fkey": ("not_valid", 2, "2 row(s) reference keys missing from the referenced "
                                                             "table; kept NOT VALID (new rows are checked)"),
        "shop.items.items_order_fkey": ("applied", 0, None),
        "shop.orders.orders_customer_idx": ("applied", None, None),
        "shop.mv_totals.mv_totals_customer_idx": ("applied", None, None),
        "shop.places.places_id_idx": ("skipped", None, 'depends on shop.places, which is not in AlloyDB: failed in '
                                                       'pre-data: type "geometry" does not exist (SQLSTATE 42704)'),
        "shop.v_orders": ("applied", None, None),
        "shop.mv_totals": ("applied", None, "created WITH NO DATA; refreshed"),
        "shop.orders.id": ("applied", None, None),
    }
    constraints = dict(query(dsn, "select conname, convalidated from pg_constraint c join pg_namespace n "
                                  "on n.oid = c.connamespace where nspname = 'shop'"))
    assert constraints == {"customers_pkey": True, "orders_pkey": True, "orders_customer_fkey": False,
                           "items_order_fkey": True}
    assert query(dsn, "select count(*) from pg_indexes where indexname = 'orders_customer_idx'") == [(1,)]


def test_identity_continues_after_the_loaded_values(loaded):
    folder, dsn = loaded
    assert post_data(folder).returncode == 0
    reseed = next(o for o in folder.json(folder.layout.post_data_report_json)["objects"] if o["kind"] == "sequence")
    assert reseed["next_value"] == 45  # max 35 + step 10
    assert query(dsn, "insert into shop.orders (customer_id, amount) values (1, 1) returning id") == [(45,)]


def test_views_mv_and_statistics(loaded):
    folder, dsn = loaded
    assert post_data(folder).returncode == 0
    assert query(dsn, "select count(*) from shop.v_orders") == [(2,)]  # orphans drop out of the join
    assert query(dsn, "select customer_id, total from shop.mv_totals order by 1") == [
        (1, 10), (2, 20), (8, 40), (9, 30)]
    report = folder.json(folder.layout.post_data_report_json)
    assert report["analyzed"] == 3 and report["analyze_failures"] == []
    tuples = dict(query(dsn, "select relname, reltuples from pg_class c join pg_namespace n on n.oid = relnamespace "
                             "where nspname = 'shop' and relkind = 'r'"))
    assert tuples == {"customers": 2, "orders": 4, "items": 4}  # -1 until ANALYZE ran
    result = folder.json(folder.layout.step_result("load_schema_post_data"))
    assert_result_record(result)
    assert result["status"] == "partial" and result["counts"] == {"applied": 8, "failed": 1, "not_valid": 1, "skipped": 1}


def test_a_second_run_keeps_what_is_there(loaded):
    folder, dsn = loaded
    assert post_data(folder).returncode == 0
    query(dsn, "insert into shop.orders (id, customer_id, amount) values (100, 2, 5)")
    done = post_data(folder)
    assert done.returncode == 0, done.stderr
    outcomes = {o["name"]: (o["status"], o.get("reason")) for o in folder.json(folder.layout.post_data_report_json)["objects"]}
    # what this run created the first time is reported as then (a resubmit's report reads like a clean run's)
    assert outcomes["shop.customers.customers_pkey"] == ("applied", None)
    assert outcomes["shop.orders.orders_customer_fkey"][0] == "not_valid"  # counted again, still violated
    assert outcomes["shop.orders.orders_customer_idx"] == ("applied", None)
    assert outcomes["shop.mv_totals"] == ("applied", "created WITH NO DATA; refreshed")  # refreshed again: rows below
    assert query(dsn, "select total from shop.mv_totals where customer_id = 2") == [(25,)]
    assert query(dsn, "select nextval(pg_get_serial_sequence('shop.orders', 'id'))") == [(110,)]


def test_objects_of_another_run_are_reported_as_found(loaded):
    folder, dsn = loaded
    assert post_data(folder).returncode == 0
    report = folder.json(folder.layout.post_data_report_json)
    folder.store.write_json(folder.layout.post_data_report_json, {**report, "run_id": "another_run"})
    assert post_data(folder).returncode == 0
    outcomes = {o["name"]: (o["status"], o.get("reason")) for o in folder.json(folder.layout.post_data_report_json)["objects"]}
    # pre-data ran with the default --on-existing refresh: what is already there is reported unchanged
    assert outcomes["shop.customers.customers_pkey"] == ("unchanged", "already present in AlloyDB")
    assert outcomes["shop.orders.orders_customer_idx"] == ("unchanged", "already in AlloyDB; kept")


def test_constraint_sqlglot_cannot_read_is_applied_as_is(loaded):
    folder, dsn = loaded
    folder.put(folder.layout.validated_sql("post-data"), block(
        "constraint", "shop.customers.name_check",
        """ALTER TABLE "shop"."customers" ADD CONSTRAINT "name_check" CHECK (length("name") < 4);"""))
    assert post_data(folder).returncode == 0
    check = next(o for o in folder.json(folder.layout.post_data_report_json)["objects"] if o["kind"] == "constraint")
    assert (check["status"], check["violations"]) == ("applied", 0)
    folder.put(folder.layout.validated_sql("post-data"), block(
        "constraint", "shop.customers.name_check2",
        """ALTER TABLE "shop"."customers" ADD CONSTRAINT "name_check2" CHECK (length("name") < 3);"""))
    assert post_data(folder).returncode == 0
    check = next(o for o in folder.json(folder.layout.post_data_report_json)["objects"] if o["kind"] == "constraint")
    assert check["status"] == "failed" and check["violations"] is None
    assert "is violated by some row (SQLSTATE 23514)" in check["reason"]


def test_missing_tables_json_is_bad_state(folder):
    folder.put(folder.layout.validated_sql("post-data"), sample.POST_DATA)
    done = post_data(folder)
    assert done.returncode == 6
    assert "tables.json does not exist. Run load_schema --section pre-data" in done.stderr


def test_malformed_tables_json_changes_nothing(folder, alloydb):
    dsn, _ = alloydb
    folder.put(folder.layout.validated_sql("post-data"), block("table", "touched", "CREATE TABLE touched (x int);"))
    folder.put(folder.layout.tables_json, '{"tables": [{"table": "s.t"}]}')
    done = post_data(folder)
    assert done.returncode == 3
    assert one_error_line(done, "load_schema") == (
        f"r2a load_schema: error: {folder.layout.tables_json}: tables[0].target_ref must be an object with schema "
        "and name")
    assert query(dsn, "select to_regclass('public.touched') is null") == [(True,)]
    assert not folder.has(folder.layout.post_data_report_json)


def test_staging_tables_left_by_killed_transfers_of_planned_tables_are_dropped(loaded):
    """A staged load (--load-sessions N) killed with SIGKILL leaves its UNLOGGED staging table, commented with its
    target; post-data runs after every transfer of the run and drops those of the run's tables, no other."""
    from shared.staging import STAGING_SCHEMA

    folder, dsn = loaded
    query(dsn, f"CREATE SCHEMA {STAGING_SCHEMA}; "
               f"CREATE UNLOGGED TABLE {STAGING_SCHEMA}.orders_attempt_002 AS SELECT * FROM shop.orders; "
               f"COMMENT ON TABLE {STAGING_SCHEMA}.orders_attempt_002 IS 'shop.orders'; "
               f"CREATE UNLOGGED TABLE {STAGING_SCHEMA}.other_attempt_001 (id int); "
               f"COMMENT ON TABLE {STAGING_SCHEMA}.other_attempt_001 IS 'elsewhere.not_in_this_run'")
    done = post_data(folder)
    assert done.returncode == 0, done.stderr
    report = folder.json(folder.layout.post_data_report_json)
    assert report["staging_tables_dropped"] == [{"staging_table": f"{STAGING_SCHEMA}.orders_attempt_002",
                                                 "target": "shop.orders"}]
    assert report["staging_cleanup_error"] is None
    assert query(dsn, "SELECT tablename FROM pg_tables WHERE schemaname = %s", (STAGING_SCHEMA,)) == [
        ("other_attempt_001",)]
    assert "staging.dropped" in done.stderr  # one log line per table dropped
