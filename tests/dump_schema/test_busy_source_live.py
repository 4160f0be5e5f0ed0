"""dump_schema while other sessions use the source (devstack's Redshift emulator): their temporary tables stay out
of the catalog, and a table created and another dropped in the middle of the read give the state before or after,
never a mix. "The middle" is an event, not a moment: the emulator's query_pause fault holds the dump's query on
svv_table_info (after it has read the relations and columns) until the test has changed the catalog."""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid

import pytest

from steps.dump_schema.assemble import Filters
from steps.dump_schema.core import dump
from tests.support.db import redshift_session


def _execute(conn, *statements: str) -> None:
    with conn.cursor() as cur:
        for statement in statements:
            cur.execute(statement)


@pytest.fixture
def sessions(redshift):
    """(control, etl): the test's control session and a second live session doing the interference."""
    control, etl = redshift_session(redshift), redshift_session(redshift)
    yield control, etl
    _execute(control, "select r2a_emulator_fault_clear()")
    control.close()
    etl.close()


@pytest.fixture
def source(sessions):
    control, _ = sessions
    schema = f"busy_{uuid.uuid4().hex[:8]}"
    _execute(control, f"create schema {schema}", f"create table {schema}.kept (id int, label varchar(20))",
             f"insert into {schema}.kept values (1, 'a')", f"create table {schema}.doomed (id int)",
             f"insert into {schema}.doomed values (1)",
             f"create view {schema}.v_doomed as select id from {schema}.doomed")
    yield schema
    _execute(control, f"drop schema {schema} cascade")


def test_temporary_tables_of_other_sessions_are_never_dumped(redshift, sessions, source):
    _, etl = sessions
    _execute(etl, "create temp table etl_scratch (a int)", "insert into etl_scratch values (1), (2)")
    conn = redshift_session(redshift)
    try:
        catalog = dump(conn, Filters(), "dev_20260101_000000").catalog
    finally:
        conn.close()
    assert {(t["schema"], t["name"]) for t in catalog["tables"] if t["schema"] == source} == \
        {(source, "kept"), (source, "doomed")}
    assert not [t for t in catalog["tables"] if t["name"] == "etl_scratch" or t["schema"].startswith("pg_temp")]
    assert not [s for s in catalog["schemas"] if s["name"].startswith("pg_temp")]


def _paused_dump(redshift, sessions, schema: str, change):
    """Run dump() in a thread, held at its svv_table_info query while `change()` runs; returns its DumpResult."""
    control, _ = sessions
    key = random.randint(1 << 20, 1 << 30)
    _execute(control, f"select pg_advisory_lock({key})",
             f"select r2a_emulator_fault('query_pause', 'svv_table_info', '{key}')")
    conn = redshift_session(redshift)
    done: list[object] = []

    def run() -> None:
        try:
            done.append(dump(conn, Filters(schemas=(schema,)), "dev_20260101_000000"))
        except Exception as exc:  # handed to the test below
            done.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    try:
        thread.start()
        deadline = time.monotonic() + 20
        with control.cursor() as cur:
            while time.monotonic() < deadline:
                cur.execute("select count(*) from pg_locks where locktype = 'advisory' and objid = %s "
                            "and not granted", (key & 0xFFFFFFFF,))
                if cur.fetchone()[0]:
                    break
                time.sleep(0.05)
            else:
                pytest.fail("dump_schema never reached its svv_table_info query")
        change()
    finally:
        _execute(control, "select r2a_emulator_fault_clear()", f"select pg_advisory_unlock({key})")
        thread.join(30)
        conn.close()
    assert done and not isinstance(done[0], Exception), done
    return done[0]


def _create_one_drop_another(etl, schema: str):
    def change() -> None:
        _execute(etl, f"create table {schema}.newcomer (id int, note varchar(10))",
                 f"insert into {schema}.newcomer values (1, 'x')", f"drop table {schema}.doomed cascade")
    return change


def _assert_whole(catalog: dict, schema: str) -> str:
    """The catalog is the state before or after the change, whole: every table has its columns and every view's
    base table is there. Returns 'before' or 'after'."""
    tables = {t["name"]: t for t in catalog["tables"]}
    views = {v["name"]: v for v in catalog["views"]}
    assert all(t["columns"] for t in tables.values()), tables
    for view in views.values():
        assert all(d.split(".", 1)[1] in tables for d in view["depends_on"]), view
    state = {"before": ({"kept", "doomed"}, {"v_doomed"}), "after": ({"kept", "newcomer"}, set())}
    found = [name for name, (t, v) in state.items() if set(tables) == t and set(views) == v]
    assert found, (sorted(tables), sorted(views))
    if found == ["before"]:
        assert views["v_doomed"]["depends_on"] == [f"{schema}.doomed"]
    return found[0]


def test_a_table_created_and_another_dropped_mid_dump_give_one_whole_state(redshift, sessions, source):
    """The catalog queries read the transaction's snapshot
    (https://docs.aws.amazon.com/redshift/latest/dg/c_serial_isolation.html), the SHOWs may not (SHOW TABLE of the
    dropped table fails): before or after, whole, either way."""
    _, etl = sessions
    result = _paused_dump(redshift, sessions, source, _create_one_drop_another(etl, source))
    assert _assert_whole(result.catalog, source) in ("before", "after")


def test_a_change_seen_by_the_final_reread_makes_the_dump_read_again(redshift, sessions, source):
    """Where the catalog does not hold still within the transaction (a SHOW that fails ends it here: the next
    statements see a new snapshot), the final re-read differs from the first read and the whole read is repeated:
    the state after, never the first read's relations with the second's columns."""
    control, etl = sessions
    _execute(control, f"select r2a_emulator_fault('query_fail', '{source}.kept', 'injected SHOW failure')")
    result = _paused_dump(redshift, sessions, source, _create_one_drop_another(etl, source))
    assert _assert_whole(result.catalog, source) == "after"
    assert result.counts["catalog_reads"] == 2  # the first read's end differed from its start
    assert result.show_failures == []  # the fault was cleared before the second read: only its outcome counts


def test_a_show_refused_inside_a_transaction_runs_outside_it(redshift, sessions, source, caplog):
    """Whether Redshift runs SHOW TABLE inside a transaction block is not documented: if it refuses (SQLSTATE 25001,
    "cannot run inside a transaction block"), the SHOWs run on their own and the final re-read still vouches
    for the catalog. Here the emulator refuses the SHOW of one table that way, in and out of a transaction."""
    control, _ = sessions
    _execute(control, f"select r2a_emulator_fault('query_fail', '{source}.kept', "
                      f"'25001: SHOW TABLE cannot run inside a transaction block')")
    conn = redshift_session(redshift)
    try:
        with caplog.at_level(logging.INFO):
            result = dump(conn, Filters(schemas=(source,)), "dev_20260101_000000")
    finally:
        conn.close()
    assert [r.fields["object"] for r in caplog.records if r.getMessage() == "show.outside_transaction"] == \
        [f"{source}.kept"]
    assert _assert_whole(result.catalog, source) == "before" and result.counts["catalog_reads"] == 1
    assert [(kind, name) for kind, name, _ in result.show_failures] == [("table", f"{source}.kept")]
    shows = {t["name"]: t for t in result.catalog["tables"]}
    assert shows["doomed"]["columns"] and "cannot run inside a transaction block" in result.show_failures[0][2]
    # the other SHOWs ran without failing: doomed's before the refusal, v_doomed's after it, outside the transaction
    assert [r.fields["object"] for r in caplog.records if r.getMessage() == "show.failed"] == [f"{source}.kept"]
