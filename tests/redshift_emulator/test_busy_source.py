"""A source other sessions are using: their temporary tables, their locks and their commits, seen over the wire.

Redshift behaviour followed (each test names its page):
- a temporary table lives in its session's own schema pg_temp_nnn, searched only by that session
  (https://docs.aws.amazon.com/redshift/latest/dg/r_search_path.html); PG_TABLE_DEF returns only tables visible
  to the user (https://docs.aws.amazon.com/redshift/latest/dg/r_PG_TABLE_DEF.html); SVV_TABLE_INFO shows only
  user-defined tables (https://docs.aws.amazon.com/redshift/latest/dg/r_SVV_TABLE_INFO.html); SVV_COLUMNS and
  SVV_TABLES list the tables and views of the catalogs
  (https://docs.aws.amazon.com/redshift/latest/dg/r_SVV_COLUMNS.html). None of them fails because another session
  holds a temporary table.
- a transaction reads the snapshot taken at its first SELECT
  (https://docs.aws.amazon.com/redshift/latest/dg/c_serial_isolation.html).
- LOCK takes an ACCESS EXCLUSIVE lock that makes other sessions' reads wait until the transaction ends
  (https://docs.aws.amazon.com/redshift/latest/dg/r_LOCK.html); SVV_TRANSACTIONS shows the held lock and the
  awaited one with granted = false (https://docs.aws.amazon.com/redshift/latest/dg/r_SVV_TRANSACTIONS.html).
"""

from __future__ import annotations

import threading
import time
import uuid

import psycopg2
import pytest

from tests.redshift_emulator.conftest import connect, one, rows

ROLE = "arn:aws:iam::123456789012:role/r2a-unload"
# PostgreSQL's planner may evaluate the row count of SVV_TABLE_INFO before the filter on the schema; these settings
# (passed to the backend) make it scan pg_class first, the order that met another session's temporary table.
SCAN_PG_CLASS_FIRST = "set enable_indexscan to off; set enable_bitmapscan to off; set enable_nestloop to off"


@pytest.fixture
def other(redshift):
    """A second live session, as an ETL job holding its temporary table."""
    conn = connect(redshift)
    yield conn
    conn.close()


def test_temporary_tables_of_other_sessions_are_in_no_system_view_and_break_none(rs, other, schema):
    with other.cursor() as cur:
        cur.execute("create temp table etl_scratch (a int, b varchar(10))")
        cur.execute("insert into etl_scratch values (1, 'x'), (2, 'y')")
    with rs.cursor() as cur:
        cur.execute(f"create table {schema}.kept (id int)")
        cur.execute(f"insert into {schema}.kept values (1)")
        cur.execute(SCAN_PG_CLASS_FIRST)
        cur.execute(f"set search_path to {schema}, public")
    # SVV_TABLE_INFO: "shows only user-defined tables" (r_SVV_TABLE_INFO.html), never another session's scratch
    info = rows(rs, 'select "schema", "table", tbl_rows from svv_table_info')
    assert (schema, "kept", 1) in info
    assert not [r for r in info if r[1] == "etl_scratch" or r[0].startswith("pg_temp")], info
    # PG_TABLE_DEF: only tables visible to the user (r_PG_TABLE_DEF.html); another session's pg_temp_nnn never is
    table_def = rows(rs, "select schemaname, tablename from pg_table_def")
    assert (schema, "kept") in table_def and not [r for r in table_def if r[1] == "etl_scratch"], table_def
    for view, name_column in (("svv_columns", "table_name"), ("svv_tables", "table_name"),
                              ("pg_tables", "tablename")):
        names = [r[0] for r in rows(rs, f"select {name_column} from {view}")]
        assert "kept" in names and "etl_scratch" not in names, view
    assert one(rs, "select count(*) from pg_class where relname = 'etl_scratch'") == 0
    # the owner still sees and counts its own temporary table
    assert one(other, "select count(*) from etl_scratch") == 2
    assert [r[0] for r in rows(other, "select \"table\" from svv_table_info where \"table\" = 'etl_scratch'")] \
        == ["etl_scratch"]


def test_a_transaction_reads_one_snapshot_whatever_other_sessions_commit(rs, other, schema):
    """c_serial_isolation.html: the snapshot is taken at the transaction's first SELECT; later commits by other
    sessions (rows, a new table, a dropped one) stay invisible to it, and the catalog views keep answering."""
    with other.cursor() as cur:
        cur.execute(f"create table {schema}.busy (id int)")
        cur.execute(f"insert into {schema}.busy values (1), (2)")
        cur.execute(f"create table {schema}.doomed (id int)")
        cur.execute(f"insert into {schema}.doomed values (1)")
    rs.autocommit = False
    try:
        assert one(rs, f"select count(*) from {schema}.busy") == 2
        with other.cursor() as cur:
            cur.execute(f"insert into {schema}.busy values (3)")
            cur.execute(f"create table {schema}.newcomer (id int)")
            cur.execute(f"insert into {schema}.newcomer values (1)")
            cur.execute(f"drop table {schema}.doomed")
        assert one(rs, f"select count(*) from {schema}.busy") == 2
        tables = {r[0] for r in rows(rs, "select \"table\" from svv_table_info where \"schema\" = %s", (schema,))}
        assert "newcomer" not in tables and "busy" in tables
        names = {r[0] for r in rows(rs, "select relname from pg_class c join pg_namespace n "
                                        "on n.oid = c.relnamespace where n.nspname = %s", (schema,))}
        assert names == {"busy", "doomed"}
    finally:
        rs.rollback()
        rs.autocommit = True
    assert one(rs, f"select count(*) from {schema}.busy") == 3


def _locked(conn, table: str) -> None:
    conn.autocommit = False
    with conn.cursor() as cur:
        cur.execute(f"lock {table}")


def test_lock_makes_other_sessions_wait_and_svv_transactions_shows_who_waits(rs, other, redshift, schema):
    with rs.cursor() as cur:
        cur.execute(f"create table {schema}.held (id int)")
        cur.execute(f"insert into {schema}.held values (1), (2)")
    _locked(other, f"{schema}.held")
    reader = connect(redshift)
    outcome: list[object] = []

    def read() -> None:
        try:
            outcome.append(one(reader, f"select count(*) from {schema}.held"))
        except psycopg2.Error as exc:
            outcome.append(exc)

    thread = threading.Thread(target=read, daemon=True)
    try:
        thread.start()
        relation = one(rs, "select c.oid from pg_class c join pg_namespace n on n.oid = c.relnamespace "
                           "where n.nspname = %s and c.relname = 'held'", (schema,))
        waiting: list[tuple] = []
        deadline = time.monotonic() + 10
        while not waiting and time.monotonic() < deadline:
            waiting = rows(rs, "select pid, lock_mode from svv_transactions where relation = %s and not granted",
                           (relation,))
            time.sleep(0.05)
        holders = rows(rs, "select pid, lock_mode from svv_transactions where relation = %s and granted",
                       (relation,))
        assert waiting == [(reader.get_backend_pid(), "AccessShareLock")]
        assert holders == [(other.get_backend_pid(), "AccessExclusiveLock")]
        assert thread.is_alive() and not outcome  # still waiting behind the LOCK
        other.rollback()  # the lock goes with its transaction
        thread.join(10)
        assert outcome == [2]
    finally:
        other.rollback()
        reader.close()


def test_unload_waiting_behind_a_lock_is_cancelled_by_cancel(rs, other, redshift, devstack, schema):
    with rs.cursor() as cur:
        cur.execute(f"create table {schema}.held (id int)")
        cur.execute(f"insert into {schema}.held values (1)")
    _locked(other, f"{schema}.held")
    unloader = connect(redshift)
    errors: list[psycopg2.Error] = []
    prefix = f"s3://{devstack['s3']['bucket']}/busy/{uuid.uuid4().hex[:12]}/"

    def run() -> None:
        try:
            with unloader.cursor() as cur:
                cur.execute(f"UNLOAD ('select * from {schema}.held') TO '{prefix}' IAM_ROLE '{ROLE}'")
        except psycopg2.Error as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    try:
        thread.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not rows(
                rs, "select 1 from svv_transactions where pid = %s and not granted", (unloader.get_backend_pid(),)):
            time.sleep(0.05)
        assert thread.is_alive()
        with rs.cursor() as cur:
            cur.execute(f"cancel {unloader.get_backend_pid()}")
        thread.join(10)
        assert not thread.is_alive() and len(errors) == 1 and errors[0].pgcode == "57014", errors
    finally:
        other.rollback()
        unloader.close()


def test_lock_outside_a_transaction_block_locks_nothing_after_it(rs, other, schema):
    """r_LOCK.html: LOCK "is only meaningful when it is run inside a transaction block"; outside one it is accepted
    and the lock ends with its own transaction."""
    with rs.cursor() as cur:
        cur.execute(f"create table {schema}.brief (id int)")
        cur.execute(f"insert into {schema}.brief values (1)")
        cur.execute(f"lock table {schema}.brief")
        assert cur.statusmessage == "LOCK TABLE"
    assert one(other, f"select count(*) from {schema}.brief") == 1
