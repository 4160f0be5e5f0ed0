"""The sample Redshift database, checked over the wire through the emulator."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time

import pytest
from psycopg2 import sql

from devstack.sample import load, tickit
from devstack.sample.expected import EDGE_OBJECTS, EDGE_TABLES, SCHEMA, EdgeTable, row_differences, same_cell
from devstack.sample.loader import connect


def _rows(cursor, schema: str, table: str, columns) -> list[tuple]:
    cursor.execute(sql.SQL("select {} from {}.{} order by {}").format(
        sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(schema), sql.Identifier(table),
        sql.SQL(", ").join(sql.Literal(i + 1) for i in range(len(columns)))))
    return cursor.fetchall()


def _tickit_digest(env) -> str:
    digest = hashlib.sha256()
    with connect(env) as conn, conn.cursor() as cursor:
        for table in tickit.DDL:
            cursor.execute(sql.SQL("select * from tickit.{} order by 1, 2").format(sql.Identifier(table)))
            for row in cursor:
                digest.update(repr(row).encode())
    conn.close()
    return digest.hexdigest()


def test_summary_counts_what_the_emulator_holds(sample_redshift):
    counts = tickit.TickitCounts.for_scale(1)
    expected = {f"tickit.{name}": rows for name, rows in tickit.expected_rows(counts).items()}
    expected.update({f"{SCHEMA}.{table.name}": len(table.rows) for table in EDGE_TABLES})
    assert sample_redshift.rows == expected
    views = {f"{SCHEMA}.{o.name}" for o in EDGE_OBJECTS if o.kind.endswith("view")}
    assert set(sample_redshift.views) == views
    assert set(sample_redshift.functions) == {"edge.f_add_one", "edge.f_py_double"}
    assert sample_redshift.procedures == ["edge.sp_log_parent"]
    assert "sample_reader" in sample_redshift.users and "sample_readers" in sample_redshift.groups
    assert sample_redshift.seconds < 60, f"scale 1 took {sample_redshift.seconds:.1f} s"


@pytest.mark.parametrize("table", EDGE_TABLES, ids=lambda table: table.name[:40])
def test_edge_table_holds_exactly_the_expected_cells(sample_redshift, devstack, table: EdgeTable):
    with connect(devstack) as conn, conn.cursor() as cursor:
        cursor.execute("set enable_case_sensitive_identifier to true")
        actual = _rows(cursor, SCHEMA, table.name, table.column_names)
    conn.close()
    assert row_differences(table, actual) == []


def test_edge_views_give_the_documented_values(sample_redshift, devstack):
    checked = 0
    with connect(devstack) as conn, conn.cursor() as cursor:
        for view in (o for o in EDGE_OBJECTS if o.expected_rows is not None):
            cursor.execute(sql.SQL("select * from {}.{}").format(sql.Identifier(SCHEMA), sql.Identifier(view.name)))
            assert cursor.fetchall() == list(view.expected_rows), view.name
            checked += 1
    conn.close()
    assert checked >= 4


def test_long_names_are_kept_whole_and_colliding_prefixes_stay_apart(sample_redshift, devstack):
    long_tables = [name for name in sample_redshift.rows if len(name.split(".", 1)[1].encode()) > 63]
    assert len(long_tables) == 3
    assert any(len(name.split(".", 1)[1].encode()) >= 100 for name in long_tables)
    assert len({name[: len("edge.") + 63] for name in long_tables}) == 2  # two share their first 63 bytes


def test_same_seed_same_data_other_seed_other_data(sample_redshift, devstack):
    first = _tickit_digest(devstack)
    load(devstack, scale=1, seed=7)
    other = _tickit_digest(devstack)
    again = load(devstack, scale=1, seed=42)  # leaves the session's sample as the fixture made it
    assert _tickit_digest(devstack) == first
    assert other != first
    assert again.rows == sample_redshift.rows


def test_cell_comparison_tells_apart_what_must_differ():
    assert same_cell(float("nan"), float("nan"))
    assert not same_cell(0.0, -0.0)
    assert not same_cell("", None) and not same_cell(None, "")
    assert not same_cell("\\N", None)
    assert not same_cell(1, True)
    table = EDGE_TABLES[0]
    changed = [tuple(row) for row in table.rows]
    changed[0] = changed[0][:1] + (32766,) + changed[0][2:]
    assert row_differences(table, changed) == [f"{table.name} row 1 column c_smallint: 32766 instead of 32767"]


def test_command_line_loads_and_prints_a_summary(sample_redshift, devstack):
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "devstack.sample", "--dir", devstack["state_dir"], "--quiet"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "schema tickit: 7 tables, 42,958 rows" in done.stdout
    assert f"schema edge: {len(EDGE_TABLES)} tables" in done.stdout
    assert time.monotonic() - started < 60


def test_command_line_refuses_a_bad_scale_in_one_line():
    done = subprocess.run([sys.executable, "-m", "devstack.sample", "--scale", "0"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].endswith("--scale must be at least 1, not 0")


def test_users_groups_and_grants_are_visible_in_the_catalog(sample_redshift, devstack):
    # The catalog's ACL columns name Redshift's users and groups (group grants as "group <name>=...")
    with connect(devstack) as conn, conn.cursor() as cursor:
        cursor.execute("select g.groname from pg_group g join pg_user u on u.usesysid = any(g.grolist) "
                       "where u.usename = 'sample_reader'")
        assert [name for (name,) in cursor.fetchall()] == ["sample_readers"]
        cursor.execute("select nspname, coalesce(nspacl::text, '') from pg_namespace where nspname in ('edge', 'tickit')")
        acls = dict(cursor.fetchall())
        assert "group sample_readers=U" in acls["edge"], acls
        assert "sample_readers" not in acls["tickit"], acls
        cursor.execute("select c.relname, coalesce(c.relacl::text, '') from pg_class c "
                       "join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'edge' and c.relkind = 'r'")
        tables = dict(cursor.fetchall())
        assert tables and all("group sample_readers=r" in acl for acl in tables.values()), tables
    conn.close()


def test_show_table_gives_back_redshift_ddl_of_the_sample(sample_redshift, devstack):
    with connect(devstack) as conn, conn.cursor() as cursor:
        cursor.execute("show table edge.identity_cols")
        identity = "\n".join(row[0] for row in cursor.fetchall()).lower()
        cursor.execute("show table tickit.sales")
        sales = "\n".join(row[0] for row in cursor.fetchall()).lower()
    conn.close()
    assert "identity(5,10)" in identity.replace(" ", ""), identity
    assert "listid integer not null encode az64 distkey" in sales, sales
    assert "diststyle key" in sales and "sortkey ( dateid )" in sales, sales
