"""Views over Redshift-only functions, created on the Redshift emulator, moved by the four schema steps (each run
as a process: dump_schema → rewrite_ddl → validate_restore → load_schema pre-data, the rows, post-data), then
read in AlloyDB (devstack's PostgreSQL) and compared with the values AWS's documentation gives for its examples.

The rows are inserted into AlloyDB directly where table_transfer would copy them (table_transfer has its own
tests; the demo test runs the whole DAG). LISTAGG(DISTINCT …) and LISTAGG … OVER are left to
tests/rewrite_ddl/test_aws_examples_live.py, and so is LISTAGG's skipping of empty strings: the emulator stores
views as PostgreSQL views, and its deparsed text (what dump_schema reads) is string_agg, which has already lost
that ordering and keeps empty strings, where Redshift's catalog keeps LISTAGG."""

from __future__ import annotations

import uuid

import psycopg2
import pytest

from tests.load_schema.conftest import module_target, query, run_steps
from tests.rewrite_ddl import aws_examples

LISTAGG_LOST_BY_THE_EMULATOR = {"v_listagg_distinct", "v_listagg_window", "v_listagg_buyer_b", "v_listagg_ignores",
                                "v_listagg_distinct_ignores"}
VIEWS = sorted(set(aws_examples.EXPECTED) - LISTAGG_LOST_BY_THE_EMULATOR)


@pytest.fixture(scope="module")
def migrated(devstack, redshift, devstack_environ):
    """The schema created on the emulator and moved; yields (AlloyDB DSN, schema, run folder)."""
    schema = f"docviews_{uuid.uuid4().hex[:8]}"
    source = psycopg2.connect(host=redshift["host"], port=redshift["port"], dbname=redshift["database"],
                              user=redshift["user"], password=redshift["password"], sslmode="disable")
    source.autocommit = True
    try:
        texts = aws_examples.views(schema)
        with source.cursor() as cur:
            cur.execute(f"CREATE SCHEMA {schema}")
            for statement in aws_examples.tables_ddl(schema):
                cur.execute(statement)
            for name in VIEWS:
                cur.execute(f"CREATE VIEW {schema}.{name} AS {texts[name]}")
        with module_target(devstack, devstack_environ, "docviews") as (folder, dsn):
            run_steps(folder, [("steps.dump_schema", ["--schemas", schema]), ("steps.rewrite_ddl", []),
                               ("steps.validate_restore", []), ("steps.load_schema", ["--section", "pre-data"])])
            conn = psycopg2.connect(dsn)
            try:
                with conn.cursor() as cur:
                    for statement, rows in aws_examples.rows(schema):
                        cur.executemany(statement, rows)
                conn.commit()
            finally:
                conn.close()
            run_steps(folder, [("steps.load_schema", ["--section", "post-data"])])
            yield dsn, schema, folder
    finally:
        with source.cursor() as cur:
            cur.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        source.close()


def test_every_view_is_validated_and_loaded(migrated):
    _, schema, folder = migrated
    validated = {o["name"]: o["status"] for o in folder.json(folder.layout.validation_report_json)["objects"]
                 if o["kind"] == "view"}
    assert validated == {f"{schema}.{name}": "applied" for name in VIEWS}
    loaded = {o["name"]: o["status"] for o in folder.json(folder.layout.post_data_report_json)["objects"] if o["kind"] == "view"}
    assert loaded == validated


@pytest.mark.parametrize("view", VIEWS)
def test_view_in_alloydb_returns_what_aws_documents(migrated, view):
    dsn, schema, _ = migrated
    order, expected = aws_examples.EXPECTED[view]
    assert query(dsn, f'SELECT * FROM "{schema}"."{view}" ORDER BY {order}') == expected
