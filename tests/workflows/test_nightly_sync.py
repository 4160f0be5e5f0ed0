"""The rendered CronWorkflow run three nights by run-local against devstack with a sync config in the run bucket
(`-p sync-config=gs://…`), the source changed between nights: each later night merges only the rows whose cursor
moved (and the rows tied at the watermark), and AlloyDB holds exactly the source's rows after each night. Each night
gets its own run id, as each scheduled Workflow does on a cluster. Then `r2a cutover --local` (the rendered cutover
WorkflowTemplate): on a small schema, ready while in sync and not ready after a change its cursor does not show; on
the sample database after a night, ready with every table verified by checksum over the whole table."""

from __future__ import annotations

import json
import uuid

import psycopg2
import pytest

from devstack import env as devstack_env
from shared.config import load_settings
from shared.documents.readiness import Readiness
from shared.identifiers import TableRef
from shared.objectstore import ObjectStore, RunLayout
from tests.workflows.test_nightly_cron import cron_workflow, rows, run
from workflows.local_env import devstack_environment
from workflows.podspec import CONFIGMAP_SYNC, SYNC_CONFIG_DIR
from workflows.run_local import run_workflow

pytestmark = pytest.mark.slow  # seven runs of the DAG in all: the three tests took 118 s together, measured here


@pytest.fixture
def source(redshift):
    schema = f"sync_{uuid.uuid4().hex[:8]}"
    conn = psycopg2.connect(host=redshift["host"], port=redshift["port"], dbname=redshift["database"],
                            user=redshift["user"], password=redshift["password"], sslmode="disable")
    conn.autocommit = True
    run(conn, f"CREATE SCHEMA {schema}",
        f"CREATE TABLE {schema}.orders (id integer NOT NULL, updated_at timestamp, amount integer, PRIMARY KEY (id))",
        f"INSERT INTO {schema}.orders VALUES (1, '2024-01-01', 10), (2, '2024-01-01', 20)",
        f"CREATE TABLE {schema}.events (id bigint NOT NULL, what varchar(20))",
        f"INSERT INTO {schema}.events VALUES (1, 'a'), (2, 'b')",
        f"CREATE TABLE {schema}.plain (id integer)",
        f"INSERT INTO {schema}.plain VALUES (1)")
    yield schema, conn
    run(conn, f"DROP SCHEMA {schema} CASCADE")
    conn.close()


def test_three_nights_sync_incrementally_from_a_config_in_the_run_bucket(devstack, source, fresh_db, tmp_path):
    schema, redshift = source
    parameters, local = devstack_environment(devstack)
    alloydb = psycopg2.connect(fresh_db)
    alloydb.autocommit = True
    settings = load_settings(devstack_env.product_environ(devstack))
    store = ObjectStore(settings.s3, settings.gcs)
    config_url = f"gs://{settings.gcs.bucket}/sync-test-{uuid.uuid4().hex[:8]}/sync.json"
    config = {"tables": {
        f"{schema}.orders": {"mode": "upsert", "cursor": "updated_at"},  # the key: the declared primary key
        f"{schema}.events": {"mode": "append", "cursor": "id"}}}
    store.write_json(config_url, config)
    parameters.update({"schemas": schema, "alloydb-database": alloydb.info.dbname, "sync-config": config_url})
    workflow = cron_workflow(tmp_path)

    def night(number: int) -> dict[str, dict]:
        run_id = f"sync_{uuid.uuid4().hex[:6]}_{number}"
        result = run_workflow(workflow, {**parameters, "run-id": run_id}, local, tmp_path / f"night{number}",
                              progress=lambda message: None)
        assert result.phase == "Succeeded", [(n.name, n.phase) for n in result.nodes if n.phase != "Succeeded"]
        for table in ("orders", "events", "plain"):
            assert rows(alloydb, schema, table) == rows(redshift, schema, table), table
        layout = RunLayout.from_settings(run_id, settings.gcs, settings.s3)
        return {table: store.read_json(layout.result(TableRef(schema, table))) for table in ("orders", "events", "plain")}

    try:
        first = night(1)
        assert (first["orders"]["sync_mode"], first["orders"]["watermark_from"]) == ("upsert", None)
        assert (first["plain"]["sync_mode"], first["plain"]["sync_note"]) == (None, "not named in the sync config")
        run(redshift, f"UPDATE {schema}.orders SET amount = 21, updated_at = '2024-01-02' WHERE id = 2",
            f"INSERT INTO {schema}.orders VALUES (3, '2024-01-02', 30)",
            f"INSERT INTO {schema}.events VALUES (3, 'c')", f"INSERT INTO {schema}.plain VALUES (2)")
        second = night(2)
        orders, events = second["orders"], second["events"]
        assert (orders["watermark_from"], orders["watermark_to"]) == ("2024-01-01 00:00:00", "2024-01-02 00:00:00")
        assert (orders["rows_inserted"], orders["rows_updated"], orders["rows_deleted"]) == (1, 2, 0)
        assert (events["watermark_from"], events["watermark_to"], events["rows_unloaded"]) == ("2", "3", 2)
        run(redshift, f"UPDATE {schema}.orders SET amount = 11, updated_at = '2024-01-02' WHERE id = 1",  # the tie
            f"DELETE FROM {schema}.plain WHERE id = 1", f"INSERT INTO {schema}.events VALUES (4, 'd'), (5, 'e')")
        # the third night reads the same config from the optional ConfigMap r2a-sync-config, mounted at /config/sync
        local.secrets[CONFIGMAP_SYNC] = {"nightly.json": json.dumps(config)}
        parameters["sync-config"] = f"{SYNC_CONFIG_DIR}/nightly.json"
        third = night(3)
        orders, events = third["orders"], third["events"]
        assert (orders["watermark_from"], orders["watermark_to"]) == ("2024-01-02 00:00:00", "2024-01-02 00:00:00")
        assert (orders["rows_unloaded"], orders["rows_inserted"], orders["rows_updated"]) == (3, 0, 3)
        assert (events["watermark_from"], events["watermark_to"], events["rows_unloaded"]) == ("3", "5", 3)
    finally:
        store.delete_prefix(config_url.rsplit("/", 1)[0] + "/")


def test_cutover_runs_a_final_sync_verified_by_checksum_and_judges_it(devstack, source, fresh_db, tmp_path,
                                                                       monkeypatch):
    from typer.testing import CliRunner

    from workflows.cli import app

    schema, redshift = source
    alloydb = psycopg2.connect(fresh_db)
    alloydb.autocommit = True
    settings = load_settings(devstack_env.product_environ(devstack))
    store = ObjectStore(settings.s3, settings.gcs)
    config_url = f"gs://{settings.gcs.bucket}/sync-test-{uuid.uuid4().hex[:8]}/sync.json"
    store.write_json(config_url, {"tables": {f"{schema}.orders": {"mode": "upsert", "cursor": "updated_at"},
                                             f"{schema}.ids": {"mode": "append", "cursor": "id"}}})
    monkeypatch.chdir(tmp_path)  # run-local's task logs
    run(redshift, f"UPDATE {schema}.orders SET updated_at = '2024-01-05' WHERE id = 2",  # row 1 below the watermark
        f"CREATE TABLE {schema}.ids (id bigint IDENTITY(1, 1), what varchar(10))",
        f"INSERT INTO {schema}.ids (what) VALUES ('a'), ('b'), ('c')")

    def identity_last_value() -> int:  # post-data's reseed: the target's identity continues after the loaded ids
        with alloydb.cursor() as cursor:
            cursor.execute("SELECT last_value FROM pg_sequences WHERE schemaname = %s AND sequencename = "
                           "split_part(pg_get_serial_sequence(%s, 'id'), '.', 2)", (schema, f'"{schema}".ids'))
            return cursor.fetchone()[0]

    common = ["--local", "--devstack", devstack["state_dir"], "-p", f"schemas={schema}",
              "-p", f"alloydb-database={alloydb.info.dbname}", "-p", f"sync-config={config_url}"]
    try:
        first = CliRunner().invoke(app, ["cutover", *common, "-p", f"run-id=cut_{uuid.uuid4().hex[:6]}_1"])
        assert first.exit_code == 0, first.output
        assert first.output.splitlines()[-1] == "ready: 4 of 4 tables in sync"
        for table in ("orders", "events", "plain", "ids"):
            assert rows(alloydb, schema, table) == rows(redshift, schema, table), table
        assert identity_last_value() == max(row[0] for row in rows(redshift, schema, "ids"))
        run(redshift, f"UPDATE {schema}.orders SET amount = 99 WHERE id = 1",  # updated_at not moved: no window
            f"INSERT INTO {schema}.ids (what) VALUES ('d'), ('e')")
        run_id = f"cut_{uuid.uuid4().hex[:6]}_2"
        second = CliRunner().invoke(app, ["cutover", *common, "-p", f"run-id={run_id}"])
        assert second.exit_code == 7, second.output
        orders = [line for line in second.output.splitlines() if line.startswith(f"✗  {schema}.orders ")]
        assert orders and "checksums differ" in orders[0], second.output
        assert second.output.splitlines()[-1] == "not ready: 3 of 4 tables in sync"
        layout = RunLayout.from_settings(run_id, settings.gcs)
        assert Readiness.read(store, layout.readiness_json).ready is False
        assert rows(alloydb, schema, "ids") == rows(redshift, schema, "ids")  # appended by the final sync
        assert identity_last_value() == max(row[0] for row in rows(redshift, schema, "ids"))
    finally:
        store.delete_prefix(config_url.rsplit("/", 1)[0] + "/")


def test_cutover_of_the_sample_database_after_a_night(devstack, sample_redshift, redshift, fresh_db, tmp_path,
                                                      monkeypatch):
    from typer.testing import CliRunner

    from workflows.cli import app

    parameters, local = devstack_environment(devstack)
    alloydb = psycopg2.connect(fresh_db)
    alloydb.autocommit = True
    source = psycopg2.connect(host=redshift["host"], port=redshift["port"], dbname=redshift["database"],
                              user=redshift["user"], password=redshift["password"], sslmode="disable")
    settings = load_settings(devstack_env.product_environ(devstack))
    store = ObjectStore(settings.s3, settings.gcs)
    config_url = f"gs://{settings.gcs.bucket}/sync-test-{uuid.uuid4().hex[:8]}/sync.json"
    # TICKIT declares no keys and no identity (`r2a sync-config init` makes every table full): keys named here
    synced = {"tickit.sales": {"mode": "append", "cursor": "salesid"},
              "tickit.listing": {"mode": "upsert", "cursor": "listtime", "key": ["listid"]},
              "tickit.event": {"mode": "upsert", "cursor": "starttime", "key": ["eventid"], "lag": "86400"}}
    store.write_json(config_url, {"tables": synced})
    common = {"schemas": "tickit", "alloydb-database": alloydb.info.dbname, "sync-config": config_url}
    tickit = sorted(t for t in sample_redshift.rows if t.startswith("tickit."))
    try:
        night = run_workflow(cron_workflow(tmp_path), {**parameters, **common, "run-id": f"tick_{uuid.uuid4().hex[:6]}"},
                             local, tmp_path / "night", progress=lambda message: None)
        assert night.phase == "Succeeded", [(n.name, n.phase) for n in night.nodes if n.phase != "Succeeded"]
        monkeypatch.chdir(tmp_path)  # run-local's task logs
        run_id = f"cut_{uuid.uuid4().hex[:6]}"
        done = CliRunner().invoke(app, ["cutover", "--local", "--devstack", devstack["state_dir"], "-p",
                                        f"run-id={run_id}", *[f"-p{k}={v}" for k, v in common.items()]])
        assert done.exit_code == 0, done.output
        assert done.output.splitlines()[-1] == f"ready: {len(tickit)} of {len(tickit)} tables in sync"
        layout = RunLayout.from_settings(run_id, settings.gcs, settings.s3)
        verdict = store.read_json(layout.report("readiness.json"))  # written by the workflow's report step
        assert verdict["ready"] is True and verdict["post_data"]["status"] in ("succeeded", "partial")
        assert {t["table"]: t["mode"] for t in verdict["tables"] if t["mode"] != "full"} == {
            name: config["mode"] for name, config in synced.items()}
        for name in tickit:
            schema, table = name.split(".")
            assert rows(alloydb, schema, table) == rows(source, schema, table), name
            result = store.read_json(layout.result(TableRef(schema, table)))
            assert result["checksum_match"] is True, name
            if name in synced:  # the last window only: nothing moved since the night
                assert result["watermark_from"] == result["watermark_to"], name
                assert result["rows_unloaded"] < sample_redshift.rows[name] / 10, (name, result["rows_unloaded"])
    finally:
        store.delete_prefix(config_url.rsplit("/", 1)[0] + "/")
        source.close()
