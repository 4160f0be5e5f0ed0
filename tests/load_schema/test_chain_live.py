"""validate_restore's output is load_schema's input: the two steps run in sequence on one run folder."""

import json

from shared.identifiers import parse_table_ref
from tests.load_schema.conftest import fanout_tables, query, transfers_succeeded
from tests.load_schema.sample import column
from tests.support.runfolder import url_of
from tests.support.steps import run_step
from tests.validate_restore import sample as rewritten

NAME_MAP = {"format_version": 1, "run_id": "x", "schemas": {"sales": "sales"}, "tables": [
    {"source": {"schema": "sales", "name": name}, "target": {"schema": "sales", "name": name}, "kind": "table",
     "estimated_rows": rows, "size_mb": size, "columns": [column(c, t) for c, t in columns]}
    for name, size, rows, columns in [
        ("customers", 1, 2, [("id", "integer"), ("name", "varchar(256)")]),
        ("orders", 3, 3, [("id", "bigint"), ("customer_id", "integer"), ("note", "varchar(256)")]),
        ("sketches", 9, 1, [("id", "integer"), ("sketch", "bytea")])]]}


def test_validate_then_load_both_sections(folder, alloydb):
    dsn, _ = alloydb
    for filename, text in rewritten.FILES.items():
        folder.put(url_of(folder.layout, filename), text)
    folder.put(folder.layout.name_map_json, json.dumps(NAME_MAP))
    args = ["--run-id", folder.run_id]
    validated = run_step("steps.validate_restore", args, folder.environ)
    assert validated.returncode == 0, validated.stderr

    pre = run_step("steps.load_schema", [*args, "--section", "pre-data"], folder.environ)
    assert pre.returncode == 0, pre.stderr
    # sketches was refused by validation; the two small tables share a batch (steps/load_schema/fanout.py)
    assert fanout_tables(folder, json.loads(pre.stdout)) == ["sales.orders", "sales.customers"]
    skipped = folder.json(folder.layout.result(parse_table_ref("sales.sketches")))
    assert skipped["status"] == "skipped"
    assert skipped["error"]["message"] == ('not transferred: load_schema could not create the table in AlloyDB: '
                                           'failed in validation: type "hllsketch" does not exist (SQLSTATE 42704)')

    query(dsn, "insert into sales.customers values (1, 'a'); insert into sales.orders (id, customer_id) "
               "values (5, 1), (15, 1), (25, 7)")
    transfers_succeeded(folder)
    post = run_step("steps.load_schema", [*args, "--section", "post-data"], folder.environ)
    assert post.returncode == 0, post.stderr
    outcomes = {o["name"]: (o["status"], o.get("violations")) for o in folder.json(folder.layout.post_data_report_json)["objects"]}
    assert outcomes == {
        "sales.customers.customers_pkey": ("applied", 0),
        "sales.orders.orders_customer_fkey": ("not_valid", 1),
        "sales.orders.orders_sort": ("applied", None),
        "sales.v_base": ("applied", None),
        "sales.v_late": ("applied", None),
        "sales.orders.id": ("applied", None),
    }
    assert query(dsn, "select flag from sales.v_base order by id") == [("has note",)] * 3  # default 'none'
    assert query(dsn, "select nextval(pg_get_serial_sequence('sales.orders', 'id'))") == [(35,)]


def test_rewrite_ddl_output_through_validate_and_load(folder, alloydb):
    """The real rewrite_ddl on its own sample catalog, then validate_restore and both load_schema sections."""
    from tests.rewrite_ddl.sample import sample_catalog

    dsn, _ = alloydb
    folder.store.write_json(folder.layout.catalog_json, sample_catalog(folder.run_id))
    args = ["--run-id", folder.run_id]
    for module, extra in (("steps.rewrite_ddl", ["--sortkey-indexes"]), ("steps.validate_restore", []),
                          ("steps.load_schema", ["--section", "pre-data"])):
        done = run_step(module, [*args, *extra], folder.environ)
        assert done.returncode == 0, (module, done.stderr)
    validation = {(o["kind"], o["name"]): o["status"] for o in folder.json(folder.layout.validation_report_json)["objects"]}
    assert validation[("table", "sales.only_sketch")] == "skipped"
    assert validation[("function", "sales.f_py(double precision)")] == "skipped"
    assert validation[("view", "sales.v_late")] == "applied"
    fanout = fanout_tables(folder, json.loads(done.stdout))
    assert fanout[0] == "sales.orders" and {"sales.customers", '"Odd Schema"."Odd.Table"'} <= set(fanout)

    query(dsn, "insert into sales.customers (id, name) values (1, 'a');"
               "insert into sales.orders (id, customer_id, amount) values (5, 1, 1), (15, 3, 2)")
    transfers_succeeded(folder)
    done = run_step("steps.load_schema", [*args, "--section", "post-data"], folder.environ)
    assert done.returncode == 0, done.stderr
    outcomes = {o["name"]: o for o in folder.json(folder.layout.post_data_report_json)["objects"]}
    assert (outcomes["sales.orders.orders_customer_fkey"]["status"],
            outcomes["sales.orders.orders_customer_fkey"]["violations"]) == ("not_valid", 1)
    assert outcomes["sales.orders.orders_pkey"]["status"] == "applied"
    assert outcomes["sales.orders.id"]["next_value"] == 25  # IDENTITY(5, 10) after 5 and 15
    assert outcomes["sales.mv_totals"]["status"] == "applied"
    assert query(dsn, "insert into sales.orders (customer_id) values (1) returning id") == [(25,)]
