"""The real-world DDL corpora (../shared/corpora: Snowplow iglu-central, TPC-H, TPC-DS) load into the Redshift
emulator over the wire with no statement refused, and migrate through the rendered DAG run by run-local: every
table arrives in AlloyDB with its columns.

The TPC files end with COPY commands that read AWS's public bucket s3://redshift-downloads (IAM_ROLE default);
they load data, not schema, and that bucket cannot be reached here, so they are left out of the load (and
counted, so a change in the corpus shows)."""

from __future__ import annotations

from pathlib import Path

import psycopg2
import pytest
from psycopg2 import sql

from devstack import env as devstack_env
from devstack import stack
from devstack.redshift.lexer import significant, split_statements, tokenize
from shared.config import load_settings
from shared.objectstore import ObjectStore, RunLayout, new_run_id
from workflows.local_env import devstack_environment
from workflows.run_local import RENDERED, run_workflow

CORPORA = Path(__file__).resolve().parents[3] / "shared" / "corpora"
IGLU = CORPORA / "iglu-central"
# 228 + 8 + 25 = 261 CREATE TABLE statements make 260 tables, as they would on Redshift: two iglu-central files
# create atomic.com_mailchimp_unsubscribe_1. com.mailchimp_unsubcribe_1.sql (the source repository's misspelt
# name, loaded first in sorted order) runs a plain CREATE TABLE; com.mailchimp_unsubscribe_1.sql then runs
# CREATE TABLE IF NOT EXISTS, which Redshift skips: "if the specified table already exists, the command should
# make no changes ... only the table name is used for comparison"
# (https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_TABLE_NEW.html, IF NOT EXISTS). So atomic holds
# 228 - 1 = 227 tables, the first file's definition (its 10th column is "type", the second file's is
# "data.action").
EXPECTED_TABLES = {"atomic": 228 - 1, "tpch": 8, "tpcds": 25}
SKIPPED_CREATE = ("atomic", "com_mailchimp_unsubscribe_1")
COPY_STATEMENTS = 8 + 24  # every TPC table but dbgen_version


def corpus_statements() -> list[tuple[str, str | None, str]]:
    """(file name, schema to SET search_path to first or None, statement); atomic.events first, as the iglu
    tables reference it."""
    if not IGLU.is_dir():
        raise FileNotFoundError(f"the DDL corpora are expected in {CORPORA} (the team folder ../shared/corpora)")
    first = IGLU / "000_atomic_events.sql"
    files = [(first, None)] + [(p, None) for p in sorted(IGLU.glob("*.sql")) if p != first]
    files += [(CORPORA / "tpc" / "tpch_ddl.sql", "tpch"), (CORPORA / "tpc" / "tpcds_ddl.sql", "tpcds")]
    out = []
    for path, schema in files:
        for index, statement in enumerate(split_statements(path.read_text())):
            out.append((path.name, schema if index == 0 else None, statement))
    return out


def _is_copy(statement: str) -> bool:
    words = significant(tokenize(statement))
    return bool(words) and words[0].is_word("COPY")


def load_corpora(conn) -> tuple[list[tuple[str, str, str]], int]:
    """Runs every corpus statement but the COPYs; returns (refused statements with their errors, COPYs skipped)."""
    refused, copies = [], 0
    with conn.cursor() as cur:
        for schema in EXPECTED_TABLES:
            cur.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
        for name, schema, statement in corpus_statements():
            if schema is not None:
                cur.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
                cur.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
            if _is_copy(statement):
                copies += 1
                continue
            try:
                cur.execute(statement)
            except psycopg2.Error as exc:
                refused.append((name, " ".join(statement.split())[:100], str(exc).strip().splitlines()[0]))
        cur.execute("RESET search_path")
    return refused, copies


def _connect(redshift: dict):
    conn = psycopg2.connect(host=redshift["host"], port=redshift["port"], dbname=redshift["database"],
                            user=redshift["user"], password=redshift["password"], sslmode="disable",
                            connect_timeout=10)
    conn.autocommit = True
    return conn


def _source_columns(conn) -> dict[tuple[str, str], list[str]]:
    with conn.cursor() as cur:
        cur.execute("SELECT table_schema, table_name, column_name FROM svv_columns "
                    "WHERE table_schema IN ('atomic', 'tpch', 'tpcds') ORDER BY 1, 2, ordinal_position")
        columns: dict[tuple[str, str], list[str]] = {}
        for schema, table, column in cur.fetchall():
            columns.setdefault((schema, table), []).append(column)
    return columns


def _table_counts(columns: dict[tuple[str, str], list[str]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for schema, _ in columns:
        counts[schema] = counts.get(schema, 0) + 1
    return counts


def test_the_corpora_load_into_the_emulator_with_no_statement_refused(redshift):
    conn = _connect(redshift)
    try:
        refused, copies = load_corpora(conn)
        columns = _source_columns(conn)
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname = 'r2a_catalog'")
            leaked = cur.fetchone()[0]
    finally:
        with conn.cursor() as cur:
            for schema in EXPECTED_TABLES:
                cur.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
        conn.close()
    assert refused == []
    assert copies == COPY_STATEMENTS
    # the TPC files name no schema: after SET search_path TO tpch their tables are in tpch
    assert _table_counts(columns) == EXPECTED_TABLES
    assert leaked == 0
    assert len(columns[("atomic", "events")]) == 100
    assert columns[SKIPPED_CREATE][9] == "type"
    assert columns[("tpch", "lineitem")][:2] == ["l_orderkey", "l_partkey"]


@pytest.mark.live  # a private devstack
@pytest.mark.slow  # 160 s on 2 shared cores at a load of 3 (over 600 s at a load of 35): 260 empty tables (see EXPECTED_TABLES)
@pytest.mark.timeout(1800)
def test_the_corpora_migrate_through_run_local(tmp_path):
    """A private devstack: the session's emulator holds the sample other tests rely on."""
    state = tmp_path / "devstack"
    try:
        env = stack.up(state)
        conn = _connect(env["redshift"])
        try:
            refused, _ = load_corpora(conn)
            source = _source_columns(conn)
        finally:
            conn.close()
        assert refused == []
        parameters, local = devstack_environment(env)
        parameters.update({"run-id": new_run_id(parameters["database"]), "schemas": "atomic,tpch,tpcds"})
        result = run_workflow(RENDERED / "workflow-local.yaml", parameters, local, tmp_path / "run",
                              progress=lambda message: None)
        assert result.phase == "Succeeded"
        settings = load_settings(devstack_env.product_environ(env))
        layout = RunLayout.from_settings(result.run_id, settings.gcs, settings.s3)
        name_map = ObjectStore(settings.s3, settings.gcs).read_json(layout.name_map_json)
        target = psycopg2.connect(devstack_env.postgres_dsn(env, env["postgres"]["databases"]["alloydb"]))
        try:
            with target.cursor() as cur:
                cur.execute("SELECT table_schema, table_name, column_name FROM information_schema.columns "
                            "WHERE table_schema IN ('atomic', 'tpch', 'tpcds') ORDER BY 1, 2, ordinal_position")
                arrived: dict[tuple[str, str], list[str]] = {}
                for schema, table, column in cur.fetchall():
                    arrived.setdefault((schema, table), []).append(column)
        finally:
            target.close()
    finally:
        stack.down(state, purge=True)
    assert _table_counts(source) == EXPECTED_TABLES
    mapped = {(t["source"]["schema"], t["source"]["name"]): t for t in name_map["tables"]}
    assert set(mapped) == set(source)
    missing = []
    for key, columns in source.items():
        entry = mapped[key]
        expected = [c["target"] for c in entry["columns"]]
        assert [c["source"] for c in entry["columns"]] == columns, key
        if arrived.get((entry["target"]["schema"], entry["target"]["name"])) != expected:
            missing.append(key)
    assert missing == []
    assert len(arrived) == sum(EXPECTED_TABLES.values())
