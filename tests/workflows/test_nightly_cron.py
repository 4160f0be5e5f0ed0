"""The rendered CronWorkflow's workflowSpec, run three nights in a row by run-local against devstack, with the
source changing in between: each night succeeds, AlloyDB holds exactly the source's rows, and the reports list
exactly what changed.

The source is a schema of its own in the Redshift emulator and AlloyDB a fresh database, so the shared sample is
untouched. Each night gets its own run id, as each scheduled Workflow gets its own name on a cluster.
Redshift statements used between the nights: ALTER TABLE ADD COLUMN appends the column
(https://docs.aws.amazon.com/redshift/latest/dg/r_ALTER_TABLE.html), CREATE OR REPLACE VIEW
(https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_VIEW.html), DROP TABLE
(https://docs.aws.amazon.com/redshift/latest/dg/r_DROP_TABLE.html).
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

pytestmark = pytest.mark.slow  # three full runs: about 80 s on devstack

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
        f"CREATE VIEW {schema}.v_orders AS SELECT id, amount FROM {schema}.orders")
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
    """(kind, name, change) of every object the night's reports say was created, changed or dropped."""
    found = set()
    for url in (layout.load_report_json, layout.post_data_report_json):
        for entry in store.read_json(url)["objects"]:
            if entry.get("change") in ("created", "changed", "dropped_in_source"):
                found.add((entry["kind"], entry["name"], entry["change"]))
    return found


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

    def night(number: int, tables: list[str]) -> set[tuple[str, str, str]]:
        run_id = f"nightly_{uuid.uuid4().hex[:6]}_{number}"
        result = run_workflow(workflow, {**parameters, "run-id": run_id}, local, tmp_path / f"night{number}",
                              progress=lambda message: None)
        assert result.phase == "Succeeded", [(n.name, n.phase) for n in result.nodes if n.phase != "Succeeded"]
        for table in tables:
            assert rows(alloydb, s, table) == rows(redshift, s, table), table
        return changes(store, RunLayout.from_settings(run_id, settings.gcs, settings.s3))

    assert night(1, ["orders", "customers", "legacy"]) == {
        ("table", f"{s}.orders", "created"), ("table", f"{s}.customers", "created"),
        ("table", f"{s}.legacy", "created"), ("view", f"{s}.v_orders", "created")}

    run(redshift, f"INSERT INTO {s}.orders VALUES (4, 40)", f"UPDATE {s}.orders SET amount = 21 WHERE id = 2",
        f"DELETE FROM {s}.orders WHERE id = 1", f"CREATE TABLE {s}.added (id integer, note varchar(10))",
        f"INSERT INTO {s}.added VALUES (1, 'new')", f"ALTER TABLE {s}.customers ADD COLUMN email varchar(40)",
        f"UPDATE {s}.customers SET email = 'bob@example.com' WHERE id = 2")
    assert night(2, ["orders", "customers", "legacy", "added"]) == {
        ("table", f"{s}.added", "created"), ("table", f"{s}.customers", "changed")}
    with alloydb.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_views WHERE schemaname = %s AND viewname = 'v_orders'", (s,))
        assert cur.fetchone() == (1,)  # the view on the refreshed table is kept

    run(redshift, f"CREATE OR REPLACE VIEW {s}.v_orders AS SELECT id, amount * 2 AS amount FROM {s}.orders",
        f"DROP TABLE {s}.legacy", f"INSERT INTO {s}.added VALUES (2, 'more')")
    assert night(3, ["orders", "customers", "added"]) == {
        ("view", f"{s}.v_orders", "changed"), ("table", f"{s}.legacy", "dropped_in_source")}
    assert rows(alloydb, s, "v_orders") == rows(redshift, s, "v_orders")
    assert rows(alloydb, s, "legacy") == [(7,)]  # dropped in the source, kept in AlloyDB
    alloydb.close()
