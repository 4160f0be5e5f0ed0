"""Several pods per big table through the rendered DAG (run-local on devstack): with own-pod-min-mb 0 (the table moves
alone), big-table-mb 0 and loaders-per-big-table 3, pre-data's fan-out gives the schema's one table three items (its
own, loader-2-of-3 and loader-3-of-3), three table-transfer pods run, the rows arrive exactly once, and the report
shows one table whose timeline lane holds the further loaders' phases.

So that the further loaders get parts however fast the machine, each part's COPY is slowed
(tests/support/slow_copy.py).
"""

from __future__ import annotations

import csv
import json
import re
import uuid

import psycopg2
import pytest
from psycopg2 import sql

from devstack import env as envfile
from shared.config import load_settings
from shared.identifiers import parse_table_ref
from shared.objectstore import ObjectStore, RunLayout, new_run_id
from shared.progress import Progress
from tests.conftest import admin_connection
from tests.support.slow_copy import slow_new_tables
from workflows.demo import copy_report
from workflows.local_env import devstack_environment
from workflows.run_local import RENDERED, node_progress, run_workflow

ROWS = 400_000  # 4 slices: at least four parts
K = 3
PART_S = 2.0

pytestmark = pytest.mark.timeout(600)


@pytest.fixture
def big_table(devstack, redshift):
    schema, database = f"kp_{uuid.uuid4().hex[:8]}", f"t_kpods_{uuid.uuid4().hex[:8]}"
    source = psycopg2.connect(host=redshift["host"], port=redshift["port"], dbname=redshift["database"],
                              user=redshift["user"], password=redshift["password"], sslmode="disable")
    source.autocommit = True
    admin = admin_connection(devstack)
    try:
        with source.cursor() as cur:
            cur.execute(f"CREATE SCHEMA {schema}")
            cur.execute(f"CREATE TABLE {schema}.facts (id integer NOT NULL, label varchar(64))")
            cur.execute(f"INSERT INTO {schema}.facts SELECT g, 'row ' || g || ' ' || md5(g::varchar) "
                        f"FROM generate_series(1, {ROWS}) g")
        with admin.cursor() as cur:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
        dsn = envfile.postgres_dsn(devstack, database)
        slow_new_tables(dsn, schema, PART_S)
        yield schema, database, dsn
    finally:
        with source.cursor() as cur:
            cur.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        source.close()
        with admin.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
        admin.close()


def _report_data(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.DOTALL)
    assert match, "report.html has no report-data block"
    return json.loads(match.group(1))


def test_a_big_table_is_loaded_by_k_pods_and_reported_as_one_table(devstack, big_table, tmp_path):
    schema, database, dsn = big_table
    table = f"{schema}.facts"
    parameters, local = devstack_environment(devstack)
    run_id = f"{new_run_id(parameters['database'])}_kpods"
    parameters.update({"run-id": run_id, "alloydb-database": database, "schemas": schema,
                       "own-pod-min-mb": "0", "big-table-mb": "0", "loaders-per-big-table": str(K)})
    result = run_workflow(RENDERED / "workflow-local.yaml", parameters, local, tmp_path / "run",
                          progress=lambda message: None)
    assert result.phase == "Succeeded", [(n.name, n.phase, n.log) for n in result.failed_nodes]
    pods = sorted(n.name for n in result.nodes if n.task == "table-transfer" and n.name != "table-transfer")
    assert pods == [f"table-transfer(0:{table})", f"table-transfer(1:loader-2-of-{K}:{table})",
                    f"table-transfer(2:loader-3-of-{K}:{table})"]
    # one try each: a further loader that lost a race with loader 1's switch and clean-up would have failed once
    assert {(n.phase, n.attempts) for n in result.nodes if n.name in pods} == {("Succeeded", 1)}
    # the run's progress (Argo's sum over the pods) counts the table once: the further loaders report 0/0
    assert node_progress([n for n in result.nodes if n.name in pods]) == Progress(1, 1)

    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(sql.SQL("SELECT count(*), count(DISTINCT id), sum(id) FROM {}").format(
                sql.Identifier(schema, "facts")))
            assert cur.fetchone() == (ROWS, ROWS, ROWS * (ROWS + 1) // 2)
    finally:
        conn.close()

    settings = load_settings(envfile.product_environ(devstack))
    store = ObjectStore(settings.s3, settings.gcs)
    layout = RunLayout.from_settings(run_id, settings.gcs, settings.s3)
    record = store.read_json(layout.result(parse_table_ref(table)))
    (attempt,) = record["attempts"]
    loader_phases = {p["name"] for p in record["phases"] if p["name"].startswith("load (loader ")}
    assert loader_phases == {"load (loader 2)", "load (loader 3)"}, record["phases"]
    assert len(attempt["parts_loaded"]) + len(attempt["parts_reused"]) == record["parts"] >= 4
    assert attempt["parts_reused"]  # what the further loaders committed, counted by loader 1

    copy_report(devstack, run_id, tmp_path / "report")
    folder = tmp_path / "report" / run_id
    with (folder / f"{run_id}.tables").open() as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert [(r["table"], r["status"], r["rows_source"], r["rows_loaded"]) for r in rows] == [
        (table, "succeeded", str(ROWS), str(ROWS))]
    data = _report_data((folder / "report.html").read_text())
    (lane,) = data["tables"]
    bars = lane[11]  # the table's phases: [phase index, start, duration, failed] * n (steps/report/html.py _table)
    drawn = {data["phases"][bars[i]] for i in range(0, len(bars), 4)}
    assert {"unload", "load", "load (loader 2)", "load (loader 3)"} <= drawn, drawn
