"""The part ledger on devstack: each part committed once with its ledger row, a killed transfer resumed part by part,
a lost connection mid-part retried without doubling, a re-run of a loaded target switched in while readers keep
the old rows, and what post-data cleans. Each part's COPY is slowed by a statement trigger on the target (COPY FROM
fires the table's statement-level INSERT triggers: https://www.postgresql.org/docs/16/sql-copy.html, "COPY FROM will
invoke any triggers and check constraints on the destination table"), so a kill lands between two parts."""

from __future__ import annotations

import threading
import time

import psycopg2
import psycopg2.errors
import psycopg2.extensions
import psycopg2.sql
import pytest

from shared.identifiers import TableRef
from shared.partledger import (
    BUSY,
    CLAIMED,
    TAKEN,
    LoadKey,
    claim_part,
    ensure_ledger,
    loaders_of,
    loads_of,
    mark_unloaded,
    record_part,
    start_load,
)
from shared.staging import STAGING_SCHEMA, create_shadow, drop_leftovers
from steps.table_transfer.plan import TableSpec, TransferOptions
from steps.table_transfer.resume import LoadPlan
from steps.table_transfer.switch import check_unchanged_since_counted, count_in_chunks
from steps.table_transfer.verify import VerificationError
from tests.faults.helpers import expected_summary, numbered_table, run_step, target_summary
from tests.table_transfer.conftest import quoted

ROWS = 1_500_000  # about eight 5 MB ZSTD parts
SMALL_PARTS = ("--max-file-size", "5MB", "--parallel-parts", "2")


def _slow_parts(transfer, name: str, seconds: float) -> None:
    table = f"{quoted(transfer.schema)}.{quoted(name)}"
    transfer.pg_execute(f"CREATE FUNCTION {quoted(transfer.schema)}.slow_part() RETURNS trigger LANGUAGE plpgsql "
                        f"AS $$BEGIN PERFORM pg_sleep({seconds}); RETURN NULL; END$$")
    transfer.pg_execute(f"CREATE TRIGGER slow_part AFTER INSERT ON {table} FOR EACH STATEMENT "
                        f"EXECUTE FUNCTION {quoted(transfer.schema)}.slow_part()")


def _ledger(transfer) -> tuple[str | None, dict[str, int]]:
    """(state of the run's load, committed part -> rows)."""
    if not transfer.pg_rows("SELECT to_regclass('r2a_meta.transfer_parts') IS NOT NULL")[0][0]:
        return None, {}
    state = transfer.pg_rows("SELECT max(state) FROM r2a_meta.transfer_loads WHERE run_id = %s",
                             (transfer.run_id,))[0][0]
    parts = transfer.pg_rows("SELECT part, rows FROM r2a_meta.transfer_parts WHERE run_id = %s AND rows IS NOT NULL",
                             (transfer.run_id,))
    return state, dict(parts)


def test_sigkilled_load_is_resumed_loading_only_the_missing_parts(transfer):
    source, _ = numbered_table(transfer, "resumed", ROWS)
    _slow_parts(transfer, "resumed", 1.0)

    def some_parts_in_after_the_unload(_output: str) -> bool:
        state, parts = _ledger(transfer)
        return state == "unloaded" and len(parts) >= 2

    run = run_step(transfer, "--table", str(source), *SMALL_PARTS, timeout=180,
                   kill_when=some_parts_in_after_the_unload)
    assert run.code is None and not run.timed_out, run.output
    time.sleep(1.5)  # the killed session's part, sleeping in its trigger, rolls back when it finds its client gone
    state, committed = _ledger(transfer)
    assert state == "unloaded" and committed, run.output
    loaded = target_summary(transfer, "resumed")
    assert loaded[0] == sum(committed.values()) < ROWS  # the target holds exactly the ledger's parts

    rerun = run_step(transfer, "--table", str(source), *SMALL_PARTS, timeout=180)
    assert rerun.code == 0, rerun.output
    assert target_summary(transfer, "resumed") == expected_summary(ROWS)
    result = transfer.result(source)
    last = result["attempts"][-1]
    assert last["number"] == 2 and last["unload_attempt"] == 1 and last["status"] == "succeeded"
    assert last["parts_reused"] == sorted(committed)
    assert last["parts_loaded"] and not set(last["parts_loaded"]) & set(committed)
    assert len(last["parts_loaded"]) + len(committed) == result["parts"]
    assert {p["name"]: p["status"] for p in result["phases"]}["unload"] == "skipped"
    assert result["rows_source"] == result["rows_loaded"] == ROWS
    assert _ledger(transfer) == (None, {})  # forgotten with the switch


def synced_window_by_parts(transfer, tmp_path, name: str) -> tuple[TableRef, tuple[str, ...], int]:
    """A table of ROWS ids synced once (append by id, every window by parts), then ROWS // 2 more rows in Redshift
    and each part's COPY into a new shadow slowed to 1 s: (source, the step's sync flags, rows added)."""
    import json

    from tests.support.slow_copy import slow_new_tables

    source, _ = numbered_table(transfer, name, ROWS)
    config = tmp_path / "sync.json"
    config.write_text(json.dumps({"tables": {str(source): {"mode": "append", "cursor": "id"}}}))
    synced = ("--sync-config", str(config), "--merge-in-one-mb", "0", *SMALL_PARTS)
    first = run_step(transfer, "--table", str(source), *synced, timeout=180)
    assert first.code == 0, first.output
    added = ROWS // 2
    transfer.rs_execute(psycopg2.sql.SQL("INSERT INTO {} SELECT g, 'row ' || g || ' ' || md5(g::varchar) "
                                         "FROM generate_series({}, {}) g").format(
        psycopg2.sql.Identifier(transfer.schema, name), psycopg2.sql.Literal(ROWS + 1),
        psycopg2.sql.Literal(ROWS + added)))
    slow_new_tables(transfer.alloydb_dsn, STAGING_SCHEMA, 1.0)
    return source, synced, added


def test_a_sigkilled_sync_window_by_parts_is_resumed_and_merged_once(transfer, tmp_path):
    """A synced table's window loaded by parts (--merge-in-one-mb 0) into a shadow: killed with some parts
    committed, the target and the watermark are untouched; the re-run resumes the same UNLOAD, loads only the
    missing parts and merges the window once."""
    source, synced, added = synced_window_by_parts(transfer, tmp_path, "window_killed")

    def some_parts_in_after_the_unload(_output: str) -> bool:
        state, parts = _ledger(transfer)
        return state == "unloaded" and len(parts) >= 1

    run = run_step(transfer, "--table", str(source), *synced, timeout=180, kill_when=some_parts_in_after_the_unload)
    assert run.code is None and not run.timed_out, run.output
    time.sleep(1.5)  # the killed session's part, sleeping in its trigger, rolls back when it finds its client gone
    state, committed = _ledger(transfer)
    assert state == "unloaded" and committed, run.output
    assert target_summary(transfer, "window_killed") == expected_summary(ROWS)  # the target as it was
    assert transfer.pg_rows("SELECT watermark FROM r2a_meta.sync_state WHERE target = %s",
                            (f"{transfer.schema}.window_killed",)) == [(str(ROWS),)]

    rerun = run_step(transfer, "--table", str(source), *synced, timeout=180)
    assert rerun.code == 0, rerun.output
    assert target_summary(transfer, "window_killed") == expected_summary(ROWS + added)
    result = transfer.result(source)
    last = result["attempts"][-1]  # the killed attempt (2) wrote no result: the re-run is 3 and resumes its UNLOAD
    assert (last["number"], last["unload_attempt"], last["switch"]) == (3, 2, "merge")
    assert last["parts_reused"] == sorted(committed)
    assert not set(last["parts_loaded"]) & set(committed)
    assert (result["watermark_from"], result["watermark_to"]) == (str(ROWS), str(ROWS + added))
    assert result["rows_loaded"] == added + 1  # the window: the row at the old watermark and the new ones
    assert _ledger(transfer) == (None, {})


def test_a_connection_lost_mid_part_retries_that_part_and_doubles_nothing(transfer):
    source, _ = numbered_table(transfer, "cut_part", ROWS)
    _slow_parts(transfer, "cut_part", 0.5)
    terminated: list[int] = []

    def cut_a_copy_once_a_part_is_in() -> None:
        if terminated or len(_ledger(transfer)[1]) < 1:
            return
        terminated.extend(pid for pid, _ in transfer.pg_rows(
            "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
            "AND query LIKE 'COPY %%' AND state = 'active' AND pid <> pg_backend_pid()"))

    run = run_step(transfer, "--table", str(source), *SMALL_PARTS, timeout=180,
                   while_running=cut_a_copy_once_a_part_is_in)
    assert terminated, "no COPY was seen after the first part: the fault was not injected"
    assert run.code == 0, run.output
    assert target_summary(transfer, "cut_part") == expected_summary(ROWS)
    result = transfer.result(source)
    (attempt,) = result["attempts"]
    assert attempt["retries"] >= 1 and attempt["parts_reused"] == []
    assert len(attempt["parts_loaded"]) == len(set(attempt["parts_loaded"])) == result["parts"]


def test_a_part_is_claimed_once_and_a_second_claim_skips_it_while_held(transfer):
    """A claim of a committed part is refused (an earlier try whose COMMIT's answer was lost, another loader); a claim
    of a part another session holds answers BUSY at once (that loader goes on with other parts) and succeeds once the
    holder rolled back."""
    first, second = psycopg2.connect(transfer.alloydb_dsn), psycopg2.connect(transfer.alloydb_dsn)
    try:
        ensure_ledger(first)
        key = LoadKey(transfer.run_id, "s.t", 1)
        with first.cursor() as cur:
            start_load(cur, key, TableRef("s", "t"), None, "text", "zstd", "r2a_null_" + "0" * 32)
        first.commit()
        with first.cursor() as cur:
            assert claim_part(cur, key, "0000_part_00.zst", 1) == CLAIMED
        started = time.monotonic()
        with second.cursor() as cur:
            assert claim_part(cur, key, "0000_part_00.zst", 2, loader=2) == BUSY
        assert time.monotonic() - started < 1.0  # not waited for
        second.rollback()
        first.rollback()  # that try failed: the part is free again
        with second.cursor() as cur:
            assert claim_part(cur, key, "0000_part_00.zst", 2, loader=2) == CLAIMED
        second.commit()
        with first.cursor() as cur:
            assert claim_part(cur, key, "0000_part_00.zst", 3) == TAKEN  # committed: never loaded twice
            assert loaders_of(cur, key) == {"0000_part_00.zst": 2}
        first.rollback()
    finally:
        first.close()
        second.close()


_CATALOG = """
SELECT (SELECT array_agg(indexname || ': ' || regexp_replace(indexdef, '^.* USING ', '') ORDER BY indexname)
          FROM pg_indexes WHERE schemaname = %(s)s AND tablename = 'reread'),
       (SELECT array_agg(conname || ': ' || pg_get_constraintdef(oid) ORDER BY conname) FROM pg_constraint
          WHERE conrelid = %(t)s::regclass OR confrelid = %(t)s::regclass),
       (SELECT relacl::text FROM pg_class WHERE oid = %(t)s::regclass),
       obj_description(%(t)s::regclass, 'pg_class'),
       (SELECT col_description(%(t)s::regclass, 2)),
       (SELECT array_agg(c.relname || ': ' || pg_get_viewdef(c.oid) ORDER BY c.relname) FROM pg_class c
          JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %(s)s AND c.relkind = 'v'),
       (SELECT array_agg(c.oid ORDER BY c.relname) FROM pg_class c
          JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %(s)s AND c.relkind = 'v')"""


# truncate-insert keeps readers waiting for the whole INSERT (and its index upkeep): a small table; rename for
# the catalog changes only, whatever the size
@pytest.mark.parametrize(("switch", "old", "new"), [("truncate-insert", 20_000, 26_000), ("rename", 200_000, 260_000)])
def test_a_rerun_of_a_loaded_target_keeps_readers_on_old_or_new_rows_and_what_depends_on_it(transfer, switch, old,
                                                                                           new):
    source, target = numbered_table(transfer, "reread", old)
    assert run_step(transfer, "--table", str(source), timeout=120).code == 0
    schema, table = quoted(transfer.schema), f"{quoted(transfer.schema)}.{quoted('reread')}"
    transfer.pg_execute(f"ALTER TABLE {table} ADD PRIMARY KEY (id)")
    transfer.pg_execute(f"CREATE INDEX reread_label ON {table} (label) WHERE id > 10")
    transfer.pg_execute(f"CREATE VIEW {schema}.reread_count AS SELECT count(*) AS n FROM {table}")
    transfer.pg_execute(f"CREATE VIEW {schema}.reread_count_twice AS SELECT n * 2 AS n2 FROM {schema}.reread_count")
    transfer.pg_execute(f"CREATE TABLE {schema}.child (id bigint REFERENCES {table} (id))")
    transfer.pg_execute(f"INSERT INTO {schema}.child VALUES (7)")
    transfer.pg_execute(f"GRANT SELECT ON {table} TO PUBLIC")
    transfer.pg_execute(f"COMMENT ON TABLE {table} IS 'numbers'")
    transfer.pg_execute(f"COMMENT ON COLUMN {table}.label IS 'a label'")
    catalog = {"s": transfer.schema, "t": table}
    before = transfer.pg_rows(_CATALOG, catalog)
    transfer.rs_execute(f"INSERT INTO {table} SELECT g, 'row ' || g FROM generate_series({old + 1}, {new}) g")
    seen: list[tuple[int, float]] = []
    stop = threading.Event()

    def reader() -> None:
        conn = psycopg2.connect(transfer.alloydb_dsn)
        conn.autocommit = True
        try:
            while not stop.is_set():
                began = time.monotonic()
                with conn.cursor() as cur:
                    cur.execute(f"SELECT count(*) FROM {table}")
                    seen.append((cur.fetchone()[0], time.monotonic() - began))
                time.sleep(0.1)
        finally:
            conn.close()

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    try:
        rerun = run_step(transfer, "--table", str(source), *SMALL_PARTS, "--rename-switch-mb",
                         "0" if switch == "rename" else "100000", timeout=180)
        time.sleep(0.5)
    finally:
        stop.set()
        thread.join(10)
    assert rerun.code == 0, rerun.output
    counts = {count for count, _ in seen}
    assert counts == {old, new}, counts  # old rows until the switch, then the new ones; never a part of them
    worst = max(wait for _, wait in seen)
    print(f"{switch}: {len(seen)} reads, worst wait {worst:.3f} s")  # the README's figure (pytest -s)
    assert worst < 2.0, f"a reader waited {worst:.2f} s"
    last = transfer.result(source)["attempts"][-1]
    assert last["switch"] == switch and last["parts_reused"] == []
    assert transfer.pg_rows(_CATALOG, catalog) == before  # same names, definitions, grants, comments, view OIDs
    assert transfer.pg_rows(f"SELECT n2 FROM {schema}.reread_count_twice") == [(2 * new,)]
    assert transfer.pg_rows("SELECT convalidated FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'",
                            (f"{schema}.child",)) == [(True,)]
    with pytest.raises(psycopg2.errors.ForeignKeyViolation):
        transfer.pg_execute(f"INSERT INTO {schema}.child VALUES ({new + 1})")
    assert transfer.pg_rows("SELECT count(*) FROM pg_tables WHERE schemaname = %s", (STAGING_SCHEMA,)) == [(0,)]


def test_post_data_cleans_what_no_attempt_can_resume_and_keeps_what_one_can(transfer):
    killed, resumable = TableRef(transfer.schema, "killed_early"), TableRef(transfer.schema, "resumable")
    for ref in (killed, resumable):
        transfer.pg_execute(f"CREATE TABLE {quoted(ref.schema)}.{quoted(ref.table)} (id int)")
    conn = psycopg2.connect(transfer.alloydb_dsn)
    try:
        ensure_ledger(conn)
        with conn.cursor() as cur:
            cur.execute(f"CREATE SCHEMA IF NOT EXISTS {STAGING_SCHEMA}")
            create_shadow(cur, killed, "killed_shadow")
            create_shadow(cur, killed, "orphan_shadow")  # no ledger row owns it
            create_shadow(cur, resumable, "resumable_shadow")
            start_load(cur, LoadKey(transfer.run_id, "x.killed", 1), killed, "killed_shadow", "text", "zstd", "m" * 16)
            key = LoadKey(transfer.run_id, "x.resumable", 1)
            start_load(cur, key, resumable, "resumable_shadow", "text", "zstd", "m" * 16)
            mark_unloaded(cur, key, 10, {}, "s3://b/manifest")
            cleaned = drop_leftovers(cur, [str(killed), str(resumable)])
            left = [r.target for r in loads_of(cur, transfer.run_id)]
        conn.commit()
    finally:
        conn.close()
    assert sorted(cleaned) == [(f"{STAGING_SCHEMA}.killed_shadow", str(killed)),
                               (f"{STAGING_SCHEMA}.orphan_shadow", str(killed))]
    assert left == [str(resumable)]
    assert transfer.pg_rows("SELECT tablename FROM pg_tables WHERE schemaname = %s", (STAGING_SCHEMA,)) == [
        ("resumable_shadow",)]


def test_the_rename_switch_keeps_identity_and_serial_sequences(transfer):
    source, _ = numbered_table(transfer, "sequenced", 5000)
    assert run_step(transfer, "--table", str(source), timeout=120).code == 0
    table = f"{quoted(transfer.schema)}.{quoted('sequenced')}"
    transfer.pg_execute(f"ALTER TABLE {table} ALTER COLUMN id SET NOT NULL, "
                        f"ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY")
    transfer.pg_execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), 9000)")
    transfer.pg_execute(f"ALTER TABLE {table} ADD COLUMN serial_no bigserial")  # not planned: filled by its default
    sequences = f"SELECT pg_get_serial_sequence('{table}', 'id'), pg_get_serial_sequence('{table}', 'serial_no')"
    before = transfer.pg_rows(sequences)
    rerun = run_step(transfer, "--table", str(source), "--rename-switch-mb", "0", timeout=120)
    assert rerun.code == 0, rerun.output
    assert transfer.result(source)["attempts"][-1]["switch"] == "rename"
    assert transfer.pg_rows(sequences) == before
    identity_seq, serial_seq = before[0]
    assert transfer.pg_rows(f"SELECT last_value FROM {identity_seq}") == [(9000,)]
    assert transfer.pg_rows(f"SELECT count(DISTINCT serial_no), min(serial_no) > 5000 FROM {table}") == [(5000, True)]
    transfer.pg_execute(f"INSERT INTO {table} (label) VALUES ('new')")
    assert transfer.pg_rows(f"SELECT id FROM {table} WHERE label = 'new'") == [(9001,)]
    assert target_summary(transfer, "sequenced")[0] == 5001


def test_verification_counts_in_page_ranges_and_the_switch_refuses_a_load_table_changed_since(transfer):
    """The count before the switch is the sum of short page-range counts (no transaction of it grows with the table):
    exact across range edges, pages freed by deletes and rows past the size it read. The switch's transaction then
    refuses a load table whose ledger records other rows than were counted."""
    schema, table = transfer.schema, "counted"
    name = psycopg2.sql.Identifier(schema, table)
    transfer.pg_execute(psycopg2.sql.SQL("CREATE TABLE {} (id integer, pad text)").format(name))
    transfer.pg_execute(psycopg2.sql.SQL("INSERT INTO {} SELECT g, repeat('x', 200) FROM generate_series(1, 5000) g"
                                         ).format(name))
    transfer.pg_execute(psycopg2.sql.SQL("DELETE FROM {} WHERE mod(id, 7) = 0 OR id BETWEEN 1000 AND 1400"
                                         ).format(name))
    expected = transfer.pg_rows(psycopg2.sql.SQL("SELECT count(*) FROM {}").format(name))[0][0]
    pages = transfer.pg_rows("SELECT pg_relation_size(%s::regclass) / 8192", (f"{quoted(schema)}.{table}",))[0][0]
    assert pages > 30  # several ranges of three pages below
    conn = psycopg2.connect(transfer.alloydb_dsn)
    try:
        assert count_in_chunks(conn, name, chunk_pages=3) == expected
        assert count_in_chunks(conn, name) == expected
        assert conn.info.transaction_status == psycopg2.extensions.TRANSACTION_STATUS_IDLE

        ensure_ledger(conn)
        key = LoadKey(transfer.run_id, f"{schema}.{table}", 1)
        with conn.cursor() as cur:
            start_load(cur, key, TableRef(schema, table), None, "text", "zstd", "r2a_null_" + "0" * 32)
            assert claim_part(cur, key, "0000_part_00.zst", 1) == CLAIMED
            record_part(cur, key, "0000_part_00.zst", expected, 1)
        conn.commit()
        spec = TableSpec(TableRef(schema, table), TableRef(schema, table), ())
        with conn.cursor() as cur:
            plan = LoadPlan(loads_of(cur, transfer.run_id)[0], TransferOptions(), {}, None)
            check_unchanged_since_counted(cur, spec, plan, expected)  # the ledger records what was counted
            assert transfer.pg_rows("SELECT mode FROM pg_locks WHERE relation = %s::regclass AND granted",
                                    (f"{quoted(schema)}.{table}",)) == [("ShareLock",)]  # writers wait to the end
        conn.rollback()
        with conn.cursor() as cur:
            assert claim_part(cur, key, "0001_part_00.zst", 1) == CLAIMED
            record_part(cur, key, "0001_part_00.zst", 10, 1)  # a part committed after the count
        conn.commit()
        with conn.cursor() as cur, pytest.raises(VerificationError, match=f"{expected} rows counted, "
                                                                          f"{expected + 10} in the part ledger"):
            check_unchanged_since_counted(cur, spec, plan, expected)
        conn.rollback()
    finally:
        conn.close()


_AUTOVACUUM_OPTIONS = """
SELECT c.reloptions, t.reloptions FROM pg_class c LEFT JOIN pg_class t ON t.oid = c.reltoastrelid
WHERE c.oid = %s::regclass"""


def test_shadows_load_without_autovacuum_and_the_renamed_target_vacuums_as_before(transfer):
    """A shadow is created with autovacuum off (a worker on it would hold off the switch's lock until PostgreSQL's
    deadlock check cancels it); the rename switch resets that, so the target keeps no storage options and the next
    re-run can rename again (a target with storage options is switched by truncate-insert)."""
    source, _ = numbered_table(transfer, "vacuumed", 5000)
    assert run_step(transfer, "--table", str(source), timeout=120).code == 0
    table = f"{quoted(transfer.schema)}.{quoted('vacuumed')}"
    conn = psycopg2.connect(transfer.alloydb_dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE SCHEMA IF NOT EXISTS {STAGING_SCHEMA}")
            cur.execute(f"CREATE TABLE {quoted(transfer.schema)}.wide (id int, body text)")  # text: a TOAST table
            for name in ("vacuumed", "wide"):
                shadow = create_shadow(cur, TableRef(transfer.schema, name), f"{name}_shadow", whole=True)
                cur.execute(_AUTOVACUUM_OPTIONS, (shadow.as_string(cur),))
                off = ["autovacuum_enabled=false"]
                assert cur.fetchone() == ((off, None) if name == "vacuumed" else (off, off))  # varchar(60): no TOAST
        conn.rollback()
    finally:
        conn.close()
    for _ in range(2):
        rerun = run_step(transfer, "--table", str(source), "--rename-switch-mb", "0", timeout=120)
        assert rerun.code == 0, rerun.output
        assert transfer.result(source)["attempts"][-1]["switch"] == "rename"
        assert transfer.pg_rows(_AUTOVACUUM_OPTIONS, (table,)) == [(None, None)]
    assert target_summary(transfer, "vacuumed") == expected_summary(5000)
