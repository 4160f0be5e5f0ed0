"""The rendered CronWorkflow's workflowSpec, run three nights in a row by run-local against devstack, with the
source changing in between: each night succeeds, AlloyDB holds exactly the source's rows, and the reports list
exactly what changed.

The source is a schema of its own in the Redshift emulator and AlloyDB a fresh database, so the shared sample is
untouched. Each night gets its own run id, as each scheduled Workflow gets its own name on a cluster.
Redshift statements used between the nights: ALTER TABLE ADD COLUMN
(https://docs.aws.amazon.com/redshift/latest/dg/r_ALTER_TABLE.html; the emulator appends the column, as PostgreSQL
does, and a column placed anywhere else would fail the table with the difference spelled out), CREATE OR REPLACE VIEW
(https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_VIEW.html), DROP TABLE
(https://docs.aws.amazon.com/redshift/latest/dg/r_DROP_TABLE.html), CREATE OR REPLACE FUNCTION
(https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_FUNCTION.html), DROP FUNCTION with its argument types
(https://docs.aws.amazon.com/redshift/latest/dg/r_DROP_FUNCTION.html: overloads are told apart by them, so a changed
argument list is a DROP and a CREATE), and DROP then CREATE MATERIALIZED VIEW, since Redshift has no CREATE OR REPLACE
for one (https://docs.aws.amazon.com/redshift/latest/dg/materialized-view-create-sql-command.html,
https://docs.aws.amazon.com/redshift/latest/dg/materialized-view-drop-sql-command.html).
Each night every table, view and materialized view holds exactly the source's rows (compared row by row, which
covers counts and checksums), and each function gives the source's result.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg2
import pytest
import yaml
from psycopg2 import sql

from devstack import env as devstack_env
from shared.config import load_settings
from shared.objectstore import ObjectStore, RunLayout
from workflows.local_env import devstack_environment
from workflows.run_local import RENDERED, run_workflow

pytestmark = pytest.mark.slow  # three full runs: 260-350 s measured on the shared 2-core devstack

CRON = RENDERED / "cronworkflow-redshift-to-alloydb.yaml"


@pytest.fixture
def source(redshift):
    schema = f"nightly_{uuid.uuid4().hex[:8]}"
    conn = psycopg2.connect(host=redshift["host"], port=redshift["port"], dbname=redshift["database"],
                            user=redshift["user"], password=redshift["password"], sslmode="disable")
    conn.autocommit = True
    run(conn, f"CREATE SCHEMA {schema}",
        f"CREATE TABLE {schema}.orders (id integer NOT NULL, amount integer)",
        f"INSERT INTO {schema}.orders VALUES (1, 10), (2, 20), (3, 30)",
        f"CREATE TABLE {schema}.customers (id integer NOT NULL, name varchar(20))",
        f"INSERT INTO {schema}.customers VALUES (1, 'ann'), (2, 'bob')",
        f"CREATE TABLE {schema}.legacy (id integer)",
        f"INSERT INTO {schema}.legacy VALUES (7)",
        f"CREATE VIEW {schema}.v_orders AS SELECT id, amount FROM {schema}.orders",
        f"CREATE OR REPLACE FUNCTION {schema}.f_tax(integer) RETURNS integer IMMUTABLE AS $$ SELECT $1 / 10 $$ "
        "LANGUAGE sql",
        f"CREATE MATERIALIZED VIEW {schema}.mv_totals AS SELECT count(*) AS n, sum(amount) AS total "
        f"FROM {schema}.orders",
        f"CREATE FUNCTION {schema}.f_gone(integer) RETURNS integer IMMUTABLE AS $$ SELECT $1 $$ LANGUAGE sql",
        f"CREATE FUNCTION {schema}.f_sig(integer) RETURNS integer IMMUTABLE AS $$ SELECT $1 + 1 $$ LANGUAGE sql")
    yield schema, conn
    run(conn, f"DROP SCHEMA {schema} CASCADE")
    conn.close()


def run(conn, *statements: str) -> None:
    with conn.cursor() as cur:
        for statement in statements:
            cur.execute(statement)


def rows(conn, schema: str, table: str) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(sql.SQL("SELECT * FROM {} ORDER BY 1").format(sql.Identifier(schema, table)))
        return cur.fetchall()


def cron_workflow(tmp_path: Path) -> Path:
    """The CronWorkflow's workflowSpec as the Workflow the controller creates from it each night."""
    cron = yaml.safe_load(CRON.read_text())
    assert cron["kind"] == "CronWorkflow"
    path = tmp_path / "nightly.yaml"
    path.write_text(yaml.safe_dump({"apiVersion": cron["apiVersion"], "kind": "Workflow",
                                    "metadata": {"generateName": "redshift-to-alloydb-nightly-"},
                                    "spec": cron["spec"]["workflowSpec"]}))
    return path


def changes(store: ObjectStore, layout: RunLayout) -> set[tuple[str, str, str]]:
    """(kind, AlloyDB name, change) of every object the night's summary says was created, changed or dropped; a
    function's name with its argument types as PostgreSQL prints them (one entry per overload)."""
    summary = store.read_json(layout.report("summary.json"))
    arguments = {}
    for url in (layout.load_report_json, layout.post_data_report_json):
        arguments.update({(e["kind"], e["name"]): e.get("arguments") for e in store.read_json(url)["objects"]})
    found = set()
    for o in summary["changes"]["objects"]:
        types = arguments[(o["kind"], o["name"])]
        found.add((o["kind"], o["target_name"] + (f"({types})" if types is not None else ""), o["change"]))
    return found


def value(conn, statement: sql.Composable) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(statement)
        return cur.fetchall()


def totals(conn, schema: str, doubled: bool = False) -> list[tuple]:
    """What mv_totals holds: in AlloyDB the materialized view, in the source its query over the current rows (the
    emulator's materialized view is a PostgreSQL one and is not refreshed between the nights)."""
    return value(conn, sql.SQL("SELECT count(*), sum(amount){} FROM {}").format(
        sql.SQL(" * 2" if doubled else ""), sql.Identifier(schema, "orders")))


def table_changes(store: ObjectStore, layout: RunLayout) -> dict[str, str]:
    """The .tables file's "change" column by table: the column after the original eleven (the sync columns come
    after it, so readers of the older layout keep theirs)."""
    lines = store.read_text(layout.report(f"{layout.run_id}.tables")).splitlines()
    header = lines[0].split("\t")
    assert header.index("change") == 11
    return {line.split("\t")[0]: line.split("\t")[11] for line in lines[1:]}


def test_three_nights_with_source_changes_in_between(devstack, source, fresh_db, tmp_path):
    schema, redshift = source
    parameters, local = devstack_environment(devstack)
    alloydb = psycopg2.connect(fresh_db)
    alloydb.autocommit = True
    parameters.update({"schemas": schema, "alloydb-database": alloydb.info.dbname})
    settings = load_settings(devstack_env.product_environ(devstack))
    store = ObjectStore(settings.s3, settings.gcs)
    workflow = cron_workflow(tmp_path)
    s = schema

    per_table: dict[int, dict[str, str]] = {}

    def night(number: int, tables: list[str]) -> set[tuple[str, str, str]]:
        run_id = f"nightly_{uuid.uuid4().hex[:6]}_{number}"
        result = run_workflow(workflow, {**parameters, "run-id": run_id}, local, tmp_path / f"night{number}",
                              progress=lambda message: None)
        assert result.phase == "Succeeded", [(n.name, n.phase) for n in result.nodes if n.phase != "Succeeded"]
        for table in tables:
            assert rows(alloydb, s, table) == rows(redshift, s, table), table
        assert rows(alloydb, s, "v_orders") == rows(redshift, s, "v_orders")
        assert rows(alloydb, s, "mv_totals") == totals(redshift, s, doubled=number == 3)
        for function, argument in (("f_tax", "40"), ("f_sig", "40::bigint" if number == 3 else "40")):
            call = sql.SQL("SELECT {}({})").format(sql.Identifier(s, function), sql.SQL(argument))
            assert value(alloydb, call) == value(redshift, call), function
        layout = RunLayout.from_settings(run_id, settings.gcs, settings.s3)
        per_table[number] = table_changes(store, layout)
        return changes(store, layout)

    assert night(1, ["orders", "customers", "legacy"]) == {
        ("table", f"{s}.orders", "created"), ("table", f"{s}.customers", "created"),
        ("table", f"{s}.legacy", "created"), ("view", f"{s}.v_orders", "created"),
        ("materialized_view", f"{s}.mv_totals", "created"), ("function", f"{s}.f_tax(integer)", "created"),
        ("function", f"{s}.f_gone(integer)", "created"), ("function", f"{s}.f_sig(integer)", "created")}
    assert per_table[1] == {f"{s}.orders": "created", f"{s}.customers": "created", f"{s}.legacy": "created"}

    run(redshift, f"INSERT INTO {s}.orders VALUES (4, 40)", f"UPDATE {s}.orders SET amount = 21 WHERE id = 2",
        f"DELETE FROM {s}.orders WHERE id = 1", f"CREATE TABLE {s}.added (id integer, note varchar(10))",
        f"INSERT INTO {s}.added VALUES (1, 'new')", f"ALTER TABLE {s}.customers ADD COLUMN email varchar(40)",
        f"UPDATE {s}.customers SET email = 'bob@example.com' WHERE id = 2")
    assert night(2, ["orders", "customers", "legacy", "added"]) == {
        ("table", f"{s}.added", "created"), ("table", f"{s}.customers", "changed")}
    assert per_table[2] == {f"{s}.orders": "refreshed", f"{s}.customers": "changed", f"{s}.legacy": "refreshed",
                            f"{s}.added": "created"}
    with alloydb.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_views WHERE schemaname = %s AND viewname = 'v_orders'", (s,))
        assert cur.fetchone() == (1,)  # the view on the refreshed table is kept

    run(redshift, f"CREATE OR REPLACE VIEW {s}.v_orders AS SELECT id, amount * 2 AS amount FROM {s}.orders",
        f"DROP TABLE {s}.legacy", f"INSERT INTO {s}.added VALUES (2, 'more')",
        f"CREATE OR REPLACE FUNCTION {s}.f_tax(integer) RETURNS integer IMMUTABLE AS $$ SELECT $1 / 5 $$ "
        "LANGUAGE sql",
        f"DROP MATERIALIZED VIEW {s}.mv_totals",
        f"CREATE MATERIALIZED VIEW {s}.mv_totals AS SELECT count(*) AS n, sum(amount) * 2 AS total "
        f"FROM {s}.orders",
        f"DROP FUNCTION {s}.f_gone(integer)", f"DROP FUNCTION {s}.f_sig(integer)",
        f"CREATE FUNCTION {s}.f_sig(bigint) RETURNS bigint IMMUTABLE AS $$ SELECT $1 + 2 $$ LANGUAGE sql")
    assert night(3, ["orders", "customers", "added"]) == {
        ("view", f"{s}.v_orders", "changed"), ("table", f"{s}.legacy", "dropped_in_source"),
        ("function", f"{s}.f_tax(integer)", "changed"), ("materialized_view", f"{s}.mv_totals", "changed"),
        ("function", f"{s}.f_gone(integer)", "dropped_in_source"),
        ("function", f"{s}.f_sig(integer)", "dropped_in_source"), ("function", f"{s}.f_sig(bigint)", "created")}
    assert per_table[3] == {f"{s}.orders": "refreshed", f"{s}.customers": "refreshed", f"{s}.added": "refreshed",
                            f"{s}.legacy": "dropped_in_source"}
    with alloydb.cursor() as cur:
        cur.execute(sql.SQL("SELECT {}(40)").format(sql.Identifier(s, "f_tax")))
        assert cur.fetchone() == (8,)
    assert rows(alloydb, s, "legacy") == [(7,)]  # dropped in the source, kept in AlloyDB
    with alloydb.cursor() as cur:  # kept too: dropped only with dropped-in-source=drop
        cur.execute("SELECT proname, pg_get_function_identity_arguments(oid) FROM pg_proc "
                    "WHERE pronamespace = %s::regnamespace AND proname IN ('f_gone', 'f_sig') ORDER BY 1, 2", (s,))
        assert cur.fetchall() == [("f_gone", "integer"), ("f_sig", "bigint"), ("f_sig", "integer")]
        cur.execute(sql.SQL("SELECT {}(40)").format(sql.Identifier(s, "f_sig")))
        assert cur.fetchone() == (41,)  # why the report names the old overload: an integer call still finds it
    alloydb.close()
