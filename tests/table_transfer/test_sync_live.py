"""Incremental sync (append, upsert) on devstack: the Redshift emulator's UNLOAD with a cursor WHERE, S3, GCS and a
fresh PostgreSQL as AlloyDB. Every run is compared row for row with the source."""

from __future__ import annotations

import json
import time

import fastjsonschema
import pytest
from psycopg2 import sql

from shared.results import load_schema
from steps.table_transfer import sync_load, sync_merge
from tests.table_transfer.conftest import plan_entry

validate_result = fastjsonschema.compile(load_schema())


def configure(transfer, tmp_path, tables: dict) -> str:
    path = tmp_path / "sync.json"
    path.write_text(json.dumps({"tables": tables}))
    return str(path)


def same_rows(transfer, name: str, order: str = "1") -> list[tuple]:
    source = transfer.rs_rows(f"SELECT * FROM {transfer.schema}.{name} ORDER BY {order}")
    target = transfer.pg_rows(f"SELECT * FROM {transfer.schema}.{name} ORDER BY {order}")
    assert target == source
    return target


def table_sql(transfer, name: str) -> sql.Identifier:
    return sql.Identifier(transfer.schema, name)


def inserted(transfer, name: str, values: str) -> sql.Composed:
    """INSERT INTO <the test schema>.<name> VALUES <values>, the name quoted by psycopg2.sql."""
    return sql.SQL("INSERT INTO {} VALUES " + values).format(table_sql(transfer, name))


def watermark(transfer, name: str):
    rows = transfer.pg_rows("SELECT watermark FROM r2a_meta.sync_state WHERE target = %s",
                            (f"{transfer.schema}.{name}",))
    return rows[0][0] if rows else None


EVENTS = [("id", "integer"), ("ts", "timestamp"), ("v", "varchar(20)")]


@pytest.fixture(params=["in one transaction", "by parts"])
def window_args(request) -> tuple[str, ...]:
    """A sync window merged in one transaction (the default for a small one), or loaded part by part into a shadow
    and merged in the switch (--merge-in-one-mb 0: every window)."""
    return () if request.param == "in one transaction" else ("--merge-in-one-mb", "0")


def test_append_rereads_boundary_ties_and_late_rows_in_the_lag_window(transfer, window_args, tmp_path):
    source, _ = transfer.table("events", EVENTS, rows_sql=f"INSERT INTO {transfer.schema}.events VALUES "
                               "(1, '2024-01-01 10:00:00', 'a'), (2, '2024-01-01 10:00:05', 'b')")
    config = configure(transfer, tmp_path, {str(source): {"mode": "append", "cursor": "ts", "lag": 60}})
    code, output = transfer.run("--table", str(source), "--sync-config", config, *window_args)
    assert code == 0, output
    first = transfer.result(source)
    validate_result(first)
    assert (first["sync_mode"], first["watermark_from"], first["watermark_to"]) == \
        ("append", None, "2024-01-01 10:00:05")
    assert first["rows_inserted"] == 2
    same_rows(transfer, "events")

    # a row sharing the watermark, a late row 4 s before it (inside the 60 s lag) and a new row
    transfer.rs_execute(f"INSERT INTO {transfer.schema}.events VALUES (3, '2024-01-01 10:00:05', 'tie'), "
                        "(4, '2024-01-01 10:00:01', 'late'), (5, '2024-01-01 10:01:00', 'new')")
    code, output = transfer.run("--table", str(source), "--sync-config", config, *window_args)
    assert code == 0, output
    second = transfer.result(source)
    validate_result(second)
    assert (second["watermark_from"], second["watermark_to"]) == ("2024-01-01 10:00:05", "2024-01-01 10:01:00")
    assert first["synced_before"] is None and first["finished_at"][:10] == second["synced_before"][:10]
    assert first["started_at"] < second["synced_before"] < second["started_at"]  # both utc_now()'s form
    # the window 10:00:00 (watermark - 60 s) .. 10:01:00 holds all five rows: the two already there are replaced
    assert (second["rows_source"], second["rows_unloaded"]) == (5, 5)
    assert (second["rows_inserted"], second["rows_updated"], second["rows_deleted"]) == (3, 2, 0)
    assert [r[0] for r in same_rows(transfer, "events")] == [1, 2, 3, 4, 5]

    # a row later than the lag window cannot be seen by an append: the count tells, the table fails, nothing moves
    transfer.rs_execute(f"INSERT INTO {transfer.schema}.events VALUES (6, '2023-12-31 00:00:00', 'too late'), "
                        "(7, '2024-01-01 10:02:00', 'newer')")
    code, output = transfer.run("--table", str(source), "--sync-config", config, *window_args)
    assert code != 0
    third = transfer.result(source)
    validate_result(third)
    assert third["status"] == "failed" and "row counts differ" in third["error"]["message"]
    assert "source 7, target 6" in third["error"]["message"]
    assert [r[0] for r in transfer.pg_rows(f"SELECT id FROM {transfer.schema}.events ORDER BY id")] == [1, 2, 3, 4, 5]
    assert watermark(transfer, "events") == "2024-01-01 10:01:00"


ORDERS = [("id", "integer"), ("updated_at", "timestamp"), ("amount", "integer")]


@pytest.mark.parametrize("indexed", [False, True], ids=["key not indexed", "key indexed"])
def test_upsert_merges_changed_rows_by_the_configured_key(transfer, window_args, tmp_path, monkeypatch, indexed):
    source, _ = transfer.table("orders", ORDERS, rows_sql=f"INSERT INTO {transfer.schema}.orders VALUES "
                               "(1, '2024-01-01', 10), (2, '2024-01-01', 20), (3, '2024-01-02', 30)")
    if indexed:  # an index leading with the key: UPDATE + INSERT in one statement, else DELETE + INSERT
        transfer.pg_execute(sql.SQL("CREATE INDEX ON {} (id, amount)").format(table_sql(transfer, "orders")))
    strategies = []
    real_key_indexed = sync_merge.key_indexed
    monkeypatch.setattr(sync_merge, "key_indexed", lambda *a: strategies.append(real_key_indexed(*a)) or strategies[-1])
    config = configure(transfer, tmp_path, {str(source): {"mode": "upsert", "cursor": "updated_at", "key": ["id"]}})
    code, output = transfer.run("--table", str(source), "--sync-config", config, *window_args)
    assert code == 0, output
    same_rows(transfer, "orders")

    transfer.rs_execute(f"UPDATE {transfer.schema}.orders SET amount = 21, updated_at = '2024-01-03' WHERE id = 2")
    transfer.rs_execute(f"INSERT INTO {transfer.schema}.orders VALUES (4, '2024-01-03', 40)")
    code, output = transfer.run("--table", str(source), "--sync-config", config, *window_args)
    assert code == 0, output
    result = transfer.result(source)
    validate_result(result)
    # window: updated_at >= 2024-01-02 (the old watermark, re-read for ties): rows 2, 3, 4
    assert result["rows_unloaded"] == 3
    assert result["attempts"][-1]["switch"] == ("merge" if window_args else "none")
    assert result["rows_source"] == 4 and result["rows_source_after"] is None  # no recount of a synced table
    assert strategies == [indexed]
    assert ("sync.key_not_indexed" in output) is not indexed, output
    assert (result["rows_inserted"], result["rows_updated"], result["rows_deleted"]) == (1, 2, 0)
    assert same_rows(transfer, "orders") == [(1, _ts("2024-01-01"), 10), (2, _ts("2024-01-03"), 21),
                                             (3, _ts("2024-01-02"), 30), (4, _ts("2024-01-03"), 40)]

    # Redshift does not enforce keys: a key twice in the window fails the table instead of doubling a row
    transfer.rs_execute(f"INSERT INTO {transfer.schema}.orders VALUES (4, '2024-01-04', 41)")
    code, output = transfer.run("--table", str(source), "--sync-config", config, *window_args)
    assert code != 0
    assert "is not a key of the sync window" in transfer.result(source)["error"]["message"]
    assert transfer.pg_rows(f"SELECT count(*) FROM {transfer.schema}.orders") == [(4,)]


@pytest.mark.parametrize("indexed", [False, True], ids=["key not indexed", "key indexed"])
def test_an_upsert_key_shared_by_rows_outside_the_window_fails_the_table(transfer, tmp_path, indexed):
    # Redshift does not enforce keys: two rows share id 1, and only one of them moves into the window
    shared_key = table_sql(transfer, "shared_key")
    source, _ = transfer.table("shared_key", ORDERS, rows_sql=inserted(
        transfer, "shared_key", "(1, '2023-01-01', 10), (1, '2023-01-01', 11), (2, '2024-01-01', 20)"))
    if indexed:  # not unique: the one-statement upsert would update both rows of id 1 and keep the count equal
        transfer.pg_execute(sql.SQL("CREATE INDEX ON {} (id)").format(shared_key))
    config = configure(transfer, tmp_path, {str(source): {"mode": "upsert", "cursor": "updated_at", "key": ["id"]}})
    assert transfer.run("--table", str(source), "--sync-config", config)[0] == 0
    before = same_rows(transfer, "shared_key", "1, 3")
    transfer.rs_execute(sql.SQL("UPDATE {} SET amount = 12, updated_at = '2024-01-02' WHERE id = 1 AND amount = 11"
                                ).format(shared_key))
    code, _ = transfer.run("--table", str(source), "--sync-config", config)
    assert code != 0
    message = transfer.result(source)["error"]["message"]
    assert ("is not unique in" if indexed else "row counts differ") in message, message
    assert transfer.pg_rows(sql.SQL("SELECT * FROM {} ORDER BY 1, 3").format(shared_key)) == before
    assert watermark(transfer, "shared_key") == "2024-01-01 00:00:00"


@pytest.mark.parametrize("mode", ["upsert", "append"])
def test_a_sync_into_a_table_other_tables_refer_to_keeps_their_references(transfer, tmp_path, mode):
    """Post-data builds the target's primary key and the foreign keys that refer to it. An upsert keyed by it
    updates the window's rows in place; an append deletes and re-inserts them, with the keys that refer to the
    table taken off and put back (VALIDATEd) in the same transaction, as a reload does (foreign_keys.py)."""
    parent, child = table_sql(transfer, "parent"), table_sql(transfer, "child")
    source, _ = transfer.table("parent", ORDERS, rows_sql=inserted(
        transfer, "parent", "(1, '2024-01-01', 10), (2, '2024-01-01', 20)"))
    entry = {"mode": mode, "cursor": "updated_at", **({"key": ["id"]} if mode == "upsert" else {})}
    config = configure(transfer, tmp_path, {str(source): entry})
    assert transfer.run("--table", str(source), "--sync-config", config)[0] == 0
    transfer.pg_execute(sql.SQL("ALTER TABLE {} ADD PRIMARY KEY (id)").format(parent))
    transfer.pg_execute(sql.SQL("CREATE TABLE {} (parent_id integer REFERENCES {} (id))").format(child, parent))
    transfer.pg_execute(inserted(transfer, "child", "(1), (2)"))
    transfer.rs_execute(sql.SQL("UPDATE {} SET amount = 11, updated_at = '2024-01-02' WHERE id = 1").format(parent))
    transfer.rs_execute(inserted(transfer, "parent", "(3, '2024-01-02', 30)"))
    code, output = transfer.run("--table", str(source), "--sync-config", config)
    assert code == 0, output
    result = transfer.result(source)
    assert (result["rows_inserted"], result["rows_updated"], result["rows_deleted"]) == (1, 2, 0)
    same_rows(transfer, "parent")
    assert transfer.pg_rows(sql.SQL("SELECT count(*) FROM {}").format(child)) == [(2,)]
    assert transfer.pg_rows("SELECT convalidated FROM pg_constraint WHERE conname = 'child_parent_id_fkey'") == \
        [(True,)]


def _ts(text: str):
    from datetime import datetime

    return datetime.fromisoformat(text)


def test_a_crash_between_copy_and_commit_loses_and_doubles_nothing(transfer, window_args, tmp_path, monkeypatch):
    source, _ = transfer.table("ledger", EVENTS, rows_sql=f"INSERT INTO {transfer.schema}.ledger VALUES "
                               "(1, '2024-01-01 10:00:00', 'a'), (2, '2024-01-01 10:00:05', 'b')")
    config = configure(transfer, tmp_path, {str(source): {"mode": "append", "cursor": "ts"}})
    assert transfer.run("--table", str(source), "--sync-config", config, *window_args)[0] == 0
    transfer.rs_execute(f"INSERT INTO {transfer.schema}.ledger VALUES (3, '2024-01-01 10:00:05', 'tie'), "
                        "(4, '2024-01-01 10:00:09', 'c')")

    real_write_state = sync_load.write_state

    def crash_before_commit(cur, state):
        real_write_state(cur, state)  # the window is COPYed and merged, the watermark written: COMMIT is next
        raise RuntimeError("process died before COMMIT")

    monkeypatch.setattr(sync_load, "write_state", crash_before_commit)
    code, _ = transfer.run("--table", str(source), "--sync-config", config, *window_args)
    assert code != 0
    assert [r[0] for r in transfer.pg_rows(f"SELECT id FROM {transfer.schema}.ledger ORDER BY id")] == [1, 2]
    assert watermark(transfer, "ledger") == "2024-01-01 10:00:05"

    monkeypatch.setattr(sync_load, "write_state", real_write_state)
    code, output = transfer.run("--table", str(source), "--sync-config", config, *window_args)
    assert code == 0, output
    assert [r[0] for r in same_rows(transfer, "ledger")] == [1, 2, 3, 4]
    assert watermark(transfer, "ledger") == "2024-01-01 10:00:09"


@pytest.mark.parametrize("added_by", ["sync", "pre-data"])
def test_an_added_column_is_added_and_the_table_read_whole(transfer, tmp_path, added_by):
    source, _ = transfer.table("grow", ORDERS, rows_sql=f"INSERT INTO {transfer.schema}.grow VALUES "
                               "(1, '2024-01-01', 10), (2, '2024-01-02', 20)")
    config = configure(transfer, tmp_path, {str(source): {"mode": "upsert", "cursor": "updated_at", "key": ["id"]}})
    assert transfer.run("--table", str(source), "--sync-config", config)[0] == 0
    transfer.rs_execute(f"ALTER TABLE {transfer.schema}.grow ADD COLUMN note varchar(30) DEFAULT 'old'")
    transfer.entries[-1] = plan_entry(source, source, [*ORDERS, ("note", "varchar(30)")])
    transfer.write_plan()
    if added_by == "pre-data":  # load_schema's refresh follows an added column before the transfers run
        transfer.pg_execute(f"ALTER TABLE {transfer.schema}.grow ADD COLUMN note varchar(30)")
    code, output = transfer.run("--table", str(source), "--sync-config", config)
    assert code == 0, output
    result = transfer.result(source)
    assert result["watermark_from"] is None  # read whole: the rows before the window hold 'old' too
    assert transfer.pg_rows("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = %s::regclass "
                            "AND attname = 'note'", (f"{transfer.schema}.grow",)) == [("character varying(30)",)]
    assert [r[3] for r in same_rows(transfer, "grow")] == ["old", "old"]


@pytest.mark.parametrize("change, difference", [
    ("drop", "dropped in Redshift: amount"),
    ("retype", "retyped: amount is integer in AlloyDB, bigint from Redshift's bigint"),
])
def test_a_dropped_or_retyped_column_fails_the_table_with_the_difference(transfer, tmp_path, change, difference):
    source, _ = transfer.table("shift", ORDERS, rows_sql=f"INSERT INTO {transfer.schema}.shift VALUES "
                               "(1, '2024-01-01', 10)")
    config = configure(transfer, tmp_path, {str(source): {"mode": "upsert", "cursor": "updated_at", "key": ["id"]}})
    assert transfer.run("--table", str(source), "--sync-config", config)[0] == 0
    columns = ORDERS[:2] if change == "drop" else [*ORDERS[:2], ("amount", "bigint")]
    transfer.rs_execute(f"DROP TABLE {transfer.schema}.shift")
    body = ", ".join(f"{n} {t}" for n, t in columns)
    transfer.rs_execute(f"CREATE TABLE {transfer.schema}.shift ({body})")
    transfer.rs_execute(f"INSERT INTO {transfer.schema}.shift VALUES (1, '2024-01-02'{', 11' if change == 'retype' else ''})")
    transfer.entries[-1] = plan_entry(source, source, columns)
    transfer.write_plan()
    code, output = transfer.run("--table", str(source), "--sync-config", config)
    assert code != 0
    result = transfer.result(source)
    validate_result(result)
    assert result["status"] == "failed" and difference in result["error"]["message"], result["error"]
    assert transfer.pg_rows(f"SELECT * FROM {transfer.schema}.shift") == [(1, _ts("2024-01-01"), 10)]
    assert result["synced_before"] is not None  # the last successful sync, for `r2a status` and the readiness lag


def test_three_scheduled_runs_with_changes_between_them(transfer, tmp_path):
    source, _ = transfer.table("stock", ORDERS, rows_sql=f"INSERT INTO {transfer.schema}.stock "
                               "VALUES (1, '2024-01-01', 1), (2, '2024-01-01', 2)")
    events, _ = transfer.table("moves", [("id", "bigint"), ("ts", "timestamp")],
                               rows_sql=f"INSERT INTO {transfer.schema}.moves VALUES (1, '2024-01-01 00:00:01')")
    config = configure(transfer, tmp_path, {
        str(source): {"mode": "upsert", "cursor": "updated_at", "key": ["id"], "lag": 86400},
        str(events): {"mode": "append", "cursor": "id"}})
    changes = [
        [f"UPDATE {transfer.schema}.stock SET amount = 10, updated_at = '2024-01-02' WHERE id = 1",
         f"INSERT INTO {transfer.schema}.moves VALUES (2, '2024-01-02 00:00:00'), (3, '2024-01-02 00:00:00')"],
        [f"INSERT INTO {transfer.schema}.stock VALUES (3, '2024-01-01', 3)",  # late: inside the one-day lag
         f"UPDATE {transfer.schema}.stock SET amount = 20, updated_at = '2024-01-03' WHERE id = 2",
         f"INSERT INTO {transfer.schema}.moves VALUES (4, '2024-01-03 00:00:00')"],
        [],
    ]
    watermarks = []
    for run, statements in enumerate(changes):
        code, output = transfer.run("--table", str(source), "--sync-config", config)
        assert code == 0, (run, output)
        code, output = transfer.run("--table", str(events), "--sync-config", config)
        assert code == 0, (run, output)
        same_rows(transfer, "stock")
        same_rows(transfer, "moves")
        watermarks.append((watermark(transfer, "stock"), watermark(transfer, "moves")))
        for statement in statements:
            transfer.rs_execute(statement)
    assert watermarks == [("2024-01-01 00:00:00", "1"), ("2024-01-02 00:00:00", "3"), ("2024-01-03 00:00:00", "4")]
    assert transfer.result(events)["rows_unloaded"] == 2  # id >= 3: the boundary row again, and the new one


@pytest.mark.parametrize("entry, message", [
    ({"mode": "append", "cursor": "nope"}, "cursor 'nope' is not a column of"),
    ({"mode": "append", "cursor": "v"}, "a cursor must be one of"),
    ({"mode": "upsert", "cursor": "ts"}, "names no key, and neither"),
])
def test_a_sync_config_the_table_cannot_follow_loads_it_in_full_and_says_why(transfer, tmp_path, entry, message):
    """Issue 20: a table without a usable cursor or key stays full, and the report says why."""
    source, _ = transfer.table("odd", EVENTS, rows_sql=f"INSERT INTO {transfer.schema}.odd VALUES (1, '2024-01-01', 'a')")
    code, output = transfer.run("--table", str(source), "--sync-config", configure(transfer, tmp_path,
                                                                                  {str(source): entry}))
    assert code == 0 and "Traceback" not in output, output
    result = transfer.result(source)
    validate_result(result)
    assert result["status"] == "succeeded" and result["sync_mode"] is None
    assert result["sync_note"].startswith("loaded in full: sync config: ") and message in result["sync_note"]
    same_rows(transfer, "odd")
    if transfer.pg_rows("SELECT to_regclass('r2a_meta.sync_state')") != [(None,)]:
        assert watermark(transfer, "odd") is None


def test_a_table_the_sync_config_leaves_full_is_loaded_whole_and_its_result_says_why(transfer, tmp_path):
    noted, _ = transfer.table("noted", EVENTS, rows_sql=f"INSERT INTO {transfer.schema}.noted VALUES (1, NULL, 'a')")
    unnamed, _ = transfer.table("unnamed", EVENTS, rows_sql=f"INSERT INTO {transfer.schema}.unnamed VALUES (2, NULL, 'b')")
    path = tmp_path / "sync.json"
    path.write_text(json.dumps({"tables": {}, "notes": {str(noted): "stays full: no cursor"}}))
    for table, note in ((noted, "stays full: no cursor"), (unnamed, "not named in the sync config")):
        code, output = transfer.run("--table", str(table), "--sync-config", str(path))
        assert code == 0, output
        result = transfer.result(table)
        validate_result(result)
        assert (result["sync_mode"], result["sync_note"]) == (None, note)
        same_rows(transfer, table.table)
    if transfer.pg_rows("SELECT to_regclass('r2a_meta.sync_state')") != [(None,)]:  # no watermark for either
        assert watermark(transfer, "noted") is None and watermark(transfer, "unnamed") is None


def test_a_synced_table_cleans_up_its_files_after_the_commit(transfer, tmp_path):
    source, _ = transfer.table("tidy", EVENTS, rows_sql=f"INSERT INTO {transfer.schema}.tidy VALUES "
                               "(1, '2024-01-01 10:00:00', 'a')")
    config = configure(transfer, tmp_path, {str(source): {"mode": "append", "cursor": "ts"}})
    code, output = transfer.run("--table", str(source), "--sync-config", config, "--cleanup", "s3,gcs")
    assert code == 0, output
    assert not transfer.store.list(transfer.layout.unload_table_prefix(source))
    assert not transfer.store.list(transfer.layout.staging_table_prefix(source))
    assert "cleanup" in [p["name"] for p in transfer.result(source)["phases"]]


def test_a_process_killed_after_the_merge_before_its_commit_commits_nothing(transfer, tmp_path):
    """SIGKILL of the step while its transaction waits to write the watermark (the window is COPYed, the target's
    rows deleted and inserted): PostgreSQL aborts a transaction whose client is gone, and the re-run reads the same
    window again."""
    import psycopg2

    from tests.faults.helpers import run_step

    source, _ = transfer.table("killed", EVENTS, rows_sql=f"INSERT INTO {transfer.schema}.killed VALUES "
                               "(1, '2024-01-01 10:00:00', 'a'), (2, '2024-01-01 10:00:05', 'b')")
    config = configure(transfer, tmp_path, {str(source): {"mode": "append", "cursor": "ts"}})
    assert transfer.run("--table", str(source), "--sync-config", config)[0] == 0
    transfer.rs_execute(f"INSERT INTO {transfer.schema}.killed VALUES (3, '2024-01-01 10:00:05', 'tie'), "
                        "(4, '2024-01-01 10:00:09', 'c')")
    blocker = psycopg2.connect(transfer.alloydb_dsn)
    watcher = psycopg2.connect(transfer.alloydb_dsn)
    watcher.autocommit = True
    try:
        with blocker.cursor() as cur:  # lets the step's FOR UPDATE through, holds back its write of the row
            cur.execute("LOCK TABLE r2a_meta.sync_state IN SHARE MODE")

        def merged_and_waiting(_output: str) -> bool:
            with watcher.cursor() as cur:
                cur.execute("SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = "
                            "'r2a_meta.sync_state'::regclass AND mode = 'RowExclusiveLock'")
                return cur.fetchone()[0] > 0

        killed = run_step(transfer, "--table", str(source), "--sync-config", config, timeout=60,
                          kill_when=merged_and_waiting)
        assert killed.code is None and not killed.timed_out, killed.output
        blocker.rollback()  # the orphaned transaction goes on, finds its client gone and is rolled back
        deadline = time.monotonic() + 20
        while merged_and_waiting("") or _sessions_in_transaction(watcher) > 0:
            assert time.monotonic() < deadline, "the killed step's transaction did not end"
            time.sleep(0.1)
    finally:
        blocker.close()
        watcher.close()
    assert [r[0] for r in transfer.pg_rows(f"SELECT id FROM {transfer.schema}.killed ORDER BY id")] == [1, 2]
    assert watermark(transfer, "killed") == "2024-01-01 10:00:05"
    code, output = transfer.run("--table", str(source), "--sync-config", config)
    assert code == 0, output
    assert [r[0] for r in same_rows(transfer, "killed")] == [1, 2, 3, 4]
    assert watermark(transfer, "killed") == "2024-01-01 10:00:09"


def _sessions_in_transaction(conn) -> int:
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'")
        return cur.fetchone()[0]


@pytest.mark.parametrize("cursor_type, older, first, second, lag, expected_from, expected_to", [
    ("date", "2023-12-30", "2024-01-01", "2024-01-03", 86400, "2024-01-01", "2024-01-03"),
    ("timestamptz", "2024-01-01 09:59:59+00", "2024-01-01 10:00:00+00", "2024-01-01 12:00:00+00", 0,
     "2024-01-01 10:00:00+00:00", "2024-01-01 12:00:00+00:00"),
    ("numeric(12,2)", "9.99", "10.50", "11.25", "0.5", "10.50", "11.25"),
])
def test_a_cursor_of_each_type_with_a_hostile_name_bounds_the_window_and_checksums_match(
        transfer, tmp_path, cursor_type, older, first, second, lag, expected_from, expected_to):
    cursor = 'Up"d at'  # names are hostile input: quoted as identifiers, never formatted in
    source, _ = transfer.table("typed", [("id", "integer"), (cursor, cursor_type), ("v", "varchar(20)")])
    table = f'{transfer.schema}.typed'
    transfer.rs_execute(f"INSERT INTO {table} VALUES (1, %s, 'a''; --'), (2, %s, NULL)", (older, first))
    config = configure(transfer, tmp_path, {str(source): {"mode": "upsert", "cursor": cursor, "key": ["id"],
                                                          "lag": lag}})
    code, output = transfer.run("--table", str(source), "--sync-config", config, "--verify", "checksum")
    assert code == 0, output
    transfer.rs_execute(f"UPDATE {table} SET v = 'changed', \"Up\"\"d at\" = %s WHERE id = 2", (second,))
    code, output = transfer.run("--table", str(source), "--sync-config", config, "--verify", "checksum")
    assert code == 0, output
    result = transfer.result(source)
    validate_result(result)
    assert (result["watermark_from"], result["watermark_to"], result["checksum_match"]) == \
        (expected_from, expected_to, True)
    assert result["rows_unloaded"] == 1  # row 1 is just older than the watermark minus the lag
    same_rows(transfer, "typed")


@pytest.mark.parametrize("declared_by", ["target", "catalog"])
def test_upsert_without_a_configured_key_merges_by_the_declared_primary_key(transfer, tmp_path, declared_by):
    source, _ = transfer.table("keyed", ORDERS, rows_sql=f"INSERT INTO {transfer.schema}.keyed VALUES "
                               "(1, '2024-01-01', 10), (2, '2024-01-01', 20)")
    if declared_by == "target":  # post-data created it on an earlier night
        transfer.pg_execute(f"ALTER TABLE {transfer.schema}.keyed ADD PRIMARY KEY (id)")
    else:  # the first night: only the source's catalog declares it
        transfer.store.write_json(transfer.layout.catalog_json, {"tables": [
            {"schema": transfer.schema, "name": "keyed", "columns": [{"name": n, "type": t} for n, t in ORDERS],
             "constraints": [{"name": "keyed_pkey", "kind": "primary_key", "columns": ["id"]}]}]})
    config = configure(transfer, tmp_path, {str(source): {"mode": "upsert", "cursor": "updated_at"}})
    assert transfer.run("--table", str(source), "--sync-config", config)[0] == 0
    transfer.rs_execute(f"UPDATE {transfer.schema}.keyed SET amount = 11, updated_at = '2024-01-02' WHERE id = 1")
    code, output = transfer.run("--table", str(source), "--sync-config", config)
    assert code == 0, output
    assert (transfer.result(source)["rows_updated"], transfer.result(source)["rows_inserted"]) == (2, 0)
    same_rows(transfer, "keyed")


def test_mirror_deletes_removes_the_rows_whose_key_left_the_source(transfer, tmp_path):
    source, _ = transfer.table("gone", ORDERS, rows_sql=f"INSERT INTO {transfer.schema}.gone VALUES "
                               "(1, '2024-01-01', 10), (2, '2024-01-01', 20), (3, '2024-01-01', 30)")
    entry = {"mode": "upsert", "cursor": "updated_at", "key": ["id"]}
    plain = configure(transfer, tmp_path, {str(source): entry})
    assert transfer.run("--table", str(source), "--sync-config", plain)[0] == 0
    transfer.rs_execute(f"DELETE FROM {transfer.schema}.gone WHERE id IN (1, 3)")
    transfer.rs_execute(f"INSERT INTO {transfer.schema}.gone VALUES (4, '2024-01-02', 40)")
    # without mirror_deletes the rows that left the source stay, and the count says so
    code, _ = transfer.run("--table", str(source), "--sync-config", plain)
    assert code != 0 and "source 2, target 4" in transfer.result(source)["error"]["message"]
    mirror = configure(transfer, tmp_path, {str(source): {**entry, "mirror_deletes": True}})
    code, output = transfer.run("--table", str(source), "--sync-config", mirror)
    assert code == 0, output
    result = transfer.result(source)
    validate_result(result)
    assert (result["rows_inserted"], result["rows_updated"], result["rows_deleted"]) == (1, 1, 2)
    assert [r[0] for r in same_rows(transfer, "gone")] == [2, 4]


def test_verify_checksum_fails_a_row_changed_without_moving_its_cursor(transfer, window_args, tmp_path):
    source, _ = transfer.table("sneaky", ORDERS, rows_sql=f"INSERT INTO {transfer.schema}.sneaky VALUES "
                               "(1, '2024-01-01', 10), (2, '2024-01-02', 20)")
    config = configure(transfer, tmp_path, {str(source): {"mode": "upsert", "cursor": "updated_at", "key": ["id"]}})
    assert transfer.run("--table", str(source), "--sync-config", config, *window_args, "--verify", "checksum")[0] == 0
    transfer.rs_execute(f"UPDATE {transfer.schema}.sneaky SET amount = 11 WHERE id = 1")  # updated_at not moved
    code, _ = transfer.run("--table", str(source), "--sync-config", config, *window_args)
    assert code == 0  # counts alone cannot see it
    code, _ = transfer.run("--table", str(source), "--sync-config", config, *window_args, "--verify", "checksum")
    assert code != 0
    result = transfer.result(source)
    validate_result(result)
    assert "checksums differ for" in result["error"]["message"] and "amount:sum" in result["error"]["message"]
    assert transfer.pg_rows(f"SELECT amount FROM {transfer.schema}.sneaky ORDER BY id") == [(10,), (20,)]


def _state_oid_is_the_targets(transfer, name: str) -> bool:
    return transfer.pg_rows("SELECT target_oid = %s::regclass::oid FROM r2a_meta.sync_state WHERE target = %s",
                            (f"{transfer.schema}.{name}", f"{transfer.schema}.{name}")) == [(True,)]


def test_a_first_sync_of_a_loaded_table_is_switched_in_whole_with_its_watermark(transfer, tmp_path):
    """A sync that reads the whole table loads it as a full load does (part ledger, shadow, switch) and the switch's
    transaction commits the watermark; the next run then reads only its window."""
    source, _ = transfer.table("switched", ORDERS, rows_sql=f"INSERT INTO {transfer.schema}.switched VALUES "
                               "(1, '2024-01-01', 10), (2, '2024-01-02', 20)")
    assert transfer.run("--table", str(source))[0] == 0  # an earlier night loaded it in full
    config = configure(transfer, tmp_path, {str(source): {"mode": "upsert", "cursor": "updated_at", "key": ["id"]}})
    transfer.rs_execute(sql.SQL("UPDATE {} SET amount = 11 WHERE id = 1").format(source.sql()))
    code, output = transfer.run("--table", str(source), "--sync-config", config)
    assert code == 0, output
    first = transfer.result(source)
    validate_result(first)
    assert first["attempts"][-1]["switch"] not in (None, "none")  # switched in from a shadow, not merged
    assert (first["watermark_from"], first["watermark_to"]) == (None, "2024-01-02 00:00:00")
    assert (first["rows_inserted"], first["rows_updated"], first["rows_deleted"]) == (2, None, None)
    assert _state_oid_is_the_targets(transfer, "switched")  # the OID of the table the switch put in place
    same_rows(transfer, "switched")

    transfer.rs_execute(sql.SQL("INSERT INTO {} VALUES (3, '2024-01-03', 30)").format(source.sql()))
    code, output = transfer.run("--table", str(source), "--sync-config", config)
    assert code == 0, output
    second = transfer.result(source)
    assert (second["watermark_from"], second["rows_unloaded"]) == ("2024-01-02 00:00:00", 2)
    same_rows(transfer, "switched")


def test_a_whole_table_sync_that_fails_before_its_commit_resumes_its_load_and_commits_the_watermark_once(
        transfer, tmp_path, monkeypatch):
    """The watermark goes in the switch's transaction: a failure there leaves none, and the next attempt resumes the
    recorded load (its UNLOAD's count and MAX from the part ledger) instead of unloading again."""
    from shared.errors import TransientError
    from steps.table_transfer import core

    source, _ = transfer.table("resumed", EVENTS, rows_sql=f"INSERT INTO {transfer.schema}.resumed VALUES "
                               "(1, '2024-01-01 10:00:00', 'a'), (2, '2024-01-01 10:00:05', 'b')")
    config = configure(transfer, tmp_path, {str(source): {"mode": "append", "cursor": "ts"}})
    real_write_state = sync_load.write_state

    def lost_before_commit(cur, state):
        real_write_state(cur, state)
        raise TransientError("the connection to AlloyDB was lost before COMMIT")

    monkeypatch.setattr(core, "DEFAULT_POLICY", core.replace(core.DEFAULT_POLICY, attempts=1))
    monkeypatch.setattr(sync_load, "write_state", lost_before_commit)
    code, _ = transfer.run("--table", str(source), "--sync-config", config)
    failed = transfer.result(source)
    assert code != 0 and failed["status"] == "failed" and failed["error"]["transient"] is True
    assert watermark(transfer, "resumed") is None
    transfer.rs_execute(sql.SQL("INSERT INTO {} VALUES (3, '2024-01-01 10:00:09', 'after')").format(
        source.sql()))

    monkeypatch.setattr(sync_load, "write_state", real_write_state)
    code, output = transfer.run("--table", str(source), "--sync-config", config)
    assert code == 0, output
    resumed = transfer.result(source)
    validate_result(resumed)
    assert resumed["attempts"][-1]["unload_attempt"] == 1  # the first attempt's UNLOAD, not a new one
    assert resumed["watermark_to"] == "2024-01-01 10:00:05"  # that UNLOAD's snapshot: row 3 came after it
    assert watermark(transfer, "resumed") == "2024-01-01 10:00:05"
    assert [r[0] for r in transfer.pg_rows(f"SELECT id FROM {transfer.schema}.resumed ORDER BY id")] == [1, 2]

    code, output = transfer.run("--table", str(source), "--sync-config", config)
    assert code == 0, output
    assert transfer.result(source)["watermark_from"] == "2024-01-01 10:00:05"
    assert [r[0] for r in same_rows(transfer, "resumed")] == [1, 2, 3]


@pytest.mark.parametrize("mirror_deletes", [False, True])
def test_a_window_past_the_bound_is_loaded_by_parts_and_merged(transfer, tmp_path, mirror_deletes):
    from steps.table_transfer.plan import DEFAULT_MERGE_IN_ONE_MB

    name = "churned_mirror" if mirror_deletes else "churned"
    source, _ = transfer.table(name, ORDERS, rows_sql=inserted(
        transfer, name, "(1, '2024-01-01', 10), (2, '2024-01-01', 20), (3, '2024-01-01', 30), (4, '2024-01-01', 40)"))
    entry = {"mode": "upsert", "cursor": "updated_at", "key": ["id"], "mirror_deletes": mirror_deletes}
    config = configure(transfer, tmp_path, {str(source): entry})
    assert transfer.run("--table", str(source), "--sync-config", config)[0] == 0
    transfer.rs_execute(sql.SQL("UPDATE {} SET amount = amount + 1, updated_at = '2024-01-02' WHERE id = 4").format(
        source.sql()))
    transfer.entries[-1]["size_mb"] = DEFAULT_MERGE_IN_ONE_MB * 4_000  # the plan says the table is that large
    transfer.write_plan()
    code, output = transfer.run("--table", str(source), "--sync-config", config)
    assert code == 0, output
    result = transfer.result(source)
    validate_result(result)
    assert f"more than --merge-in-one-mb {DEFAULT_MERGE_IN_ONE_MB:g}" in output
    assert result["watermark_to"] == "2024-01-02 00:00:00"
    if mirror_deletes:  # the key set goes with the window's snapshot: the table is read whole instead
        assert "sync.window_read_whole" in output and result["watermark_from"] is None
        assert [p["name"] for p in result["phases"]][0] == "window"  # the counts that decided it
        assert result["attempts"][-1]["switch"] not in (None, "none", "merge") and result["rows_unloaded"] == 4
    else:  # the window (the rows at or past the old watermark: all four) through a shadow, merged at the switch
        assert "sync.window_by_parts" in output and result["watermark_from"] == "2024-01-01 00:00:00"
        assert "window" not in [p["name"] for p in result["phases"]]  # decided by the plan's size: no count twice
        assert result["attempts"][-1]["switch"] == "merge"
        assert (result["rows_source"], result["rows_unloaded"], result["rows_loaded"]) == (4, 4, 4)
        assert (result["rows_inserted"], result["rows_updated"], result["rows_deleted"]) == (0, 4, 0)
    same_rows(transfer, name)
    assert transfer.pg_rows("SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = 'r2a_staging' "
                            "AND tablename LIKE %s", (f"%{name}%",)) == [(0,)]  # the shadow is gone
    assert transfer.pg_rows("SELECT count(*) FROM r2a_meta.transfer_loads WHERE target = %s",
                            (f"{transfer.schema}.{name}",)) == [(0,)]


def test_a_window_loaded_by_parts_resumes_its_load_after_a_failed_merge_and_commits_once(
        transfer, tmp_path, monkeypatch):
    from shared.errors import TransientError
    from steps.table_transfer import core

    parted_ids = sql.SQL("SELECT id FROM {} ORDER BY id").format(table_sql(transfer, "parted"))
    source, _ = transfer.table("parted", EVENTS, rows_sql=inserted(
        transfer, "parted", "(1, '2024-01-01 10:00:00', 'a'), (2, '2024-01-01 10:00:05', 'b')"))
    config = configure(transfer, tmp_path, {str(source): {"mode": "append", "cursor": "ts"}})
    by_parts = ("--merge-in-one-mb", "0")
    assert transfer.run("--table", str(source), "--sync-config", config, *by_parts)[0] == 0
    transfer.rs_execute(sql.SQL("INSERT INTO {} VALUES (3, '2024-01-01 10:00:05', 'tie'), "
                                "(4, '2024-01-01 10:00:09', 'c')").format(source.sql()))
    real_write_state = sync_load.write_state

    def lost_before_commit(cur, state):
        real_write_state(cur, state)  # merged, counted, the watermark written: COMMIT is next
        raise TransientError("the connection to AlloyDB was lost before COMMIT")

    monkeypatch.setattr(core, "DEFAULT_POLICY", core.replace(core.DEFAULT_POLICY, attempts=1))
    monkeypatch.setattr(sync_load, "write_state", lost_before_commit)
    code, _ = transfer.run("--table", str(source), "--sync-config", config, *by_parts)
    failed = transfer.result(source)
    assert code != 0 and failed["status"] == "failed" and failed["error"]["transient"] is True
    assert [r[0] for r in transfer.pg_rows(parted_ids)] == [1, 2]
    assert watermark(transfer, "parted") == "2024-01-01 10:00:05"
    unload_attempt = failed["attempts"][-1]["unload_attempt"]
    transfer.rs_execute(sql.SQL("INSERT INTO {} VALUES (5, '2024-01-01 10:00:30', 'after')").format(source.sql()))

    monkeypatch.setattr(sync_load, "write_state", real_write_state)
    code, output = transfer.run("--table", str(source), "--sync-config", config, *by_parts)
    assert code == 0, output
    resumed = transfer.result(source)
    validate_result(resumed)
    assert resumed["attempts"][-1]["unload_attempt"] == unload_attempt  # the failed attempt's UNLOAD, resumed
    assert resumed["attempts"][-1]["switch"] == "merge"
    assert resumed["watermark_to"] == "2024-01-01 10:00:09"  # that UNLOAD's snapshot: row 5 came after it
    assert (resumed["rows_inserted"], resumed["rows_updated"], resumed["rows_deleted"]) == (2, 1, 0)
    assert [r[0] for r in transfer.pg_rows(parted_ids)] == [1, 2, 3, 4]

    code, output = transfer.run("--table", str(source), "--sync-config", config, *by_parts)
    assert code == 0, output
    assert transfer.result(source)["watermark_from"] == "2024-01-01 10:00:09"
    assert [r[0] for r in same_rows(transfer, "parted")] == [1, 2, 3, 4, 5]
