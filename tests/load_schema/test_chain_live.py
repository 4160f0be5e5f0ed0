"""validate_restore's output is load_schema's input: the two steps run in sequence on one run folder."""

import json

from tests.load_schema.conftest import query
from tests.load_schema.sample import column
from tests.validate_restore import sample as rewritten
from tests.validate_restore.conftest import run_step

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
        folder.put(filename, text)
    folder.put("name_map.json", json.dumps(NAME_MAP))
    args = ["--run-id", folder.run_id]
    validated = run_step("steps.validate_restore", args, folder.environ)
    assert validated.returncode == 0, validated.stderr

    pre = run_step("steps.load_schema", [*args, "--section", "pre-data"], folder.environ)
    assert pre.returncode == 0, pre.stderr
    assert json.loads(pre.stdout) == ["sales.orders", "sales.customers"]  # sketches was refused by validation
    skipped = folder.json("results/sales.sketches.json")
    assert skipped["status"] == "skipped"
    assert skipped["error"]["message"] == ('not transferred: load_schema could not create the table in AlloyDB: '
                                           'failed in validation: type "hllsketch" does not exist (SQLSTATE 42704)')

    query(dsn, "insert into sales.customers values (1, 'a'); insert into sales.orders (id, customer_id) "
               "values (5, 1), (15, 1), (25, 7)")
    post = run_step("steps.load_schema", [*args, "--section", "post-data"], folder.environ)
    assert post.returncode == 0, post.stderr
    outcomes = {o["name"]: (o["status"], o.get("violations")) for o in folder.json("post_data_report.json")["objects"]}
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
