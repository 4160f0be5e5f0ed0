"""Incremental sync against a full reload of the same table, on devstack (issue 20's `make bench` row).

A table of R2A_BENCH_SYNC_MB of unloaded text (default 2048; smoke: 8) is made in the Redshift emulator
(transfer_bench's generated rows: id, payload, amount, `at` timestamp) and planned by the real schema steps. Then,
each a `python -m steps.table_transfer` process:
1. full: the table loaded in full (no sync config; --verify count, the nightly default);
2. first sync: `upsert` by `at` keyed on id (a sync config file), no watermark yet: it reads the whole table and
   commits the watermark;
3. 1 % of the rows changed in Redshift (amount + 1, `at` moved past the watermark), then the incremental sync
   (--verify count): its time against the full load's is the row's ratio, goal ≤ 0.10;
   A table above --merge-in-one-mb (256 MB; the default size is) loads its window by parts, into a shadow through
   the part ledger, merged in the switch's transaction; the benchmark stops if the result says otherwise;
4. the key indexed in AlloyDB (ALTER TABLE … ADD PRIMARY KEY (id), as post-data builds a primary key Redshift
   declares), another 1 % changed, then the incremental sync again: one statement updates the changed keys, found
   by the index, instead of a DELETE that scans the table (steps/table_transfer/README.md, "Incremental sync");
5. another 1 % changed, then the incremental sync in one transaction (--merge-in-one-mb 4096: the window COPYed
   into a temporary table and merged in one AlloyDB transaction, what a table below the bound does), what
   resumability costs a window of this size;
6. another 1 % changed, then the incremental sync with --verify checksum (the window's and the whole table's
   per-column aggregates on both sides): what the exact check costs.
The end state is checked by the benchmark itself too: on both sides the row count, the sum of amount, the number of
rows past the first watermark, min and max of `at`, and the sum of id * amount (a changed row whose amount landed on
another id would move it) must be equal.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import psycopg2
from psycopg2 import sql

from benchmarks.transfer_bench import (
    ROW_BYTES,
    PlannedSchema,
    _phase_seconds,
    bench_devstack,
    emulator_connection,
    planned_schema,
    run_step,
)
from devstack import env as envfile
from steps.table_transfer.plan import DEFAULT_MERGE_IN_ONE_MB

NAME = "sync_bench"
CHANGED_EVERY = 100  # 1 % of the rows: those whose id is a multiple of this (plus the round's offset)
GOAL_RATIO = 0.10
# The rows' `at` starts at 2020-01-01 (transfer_bench.ROWS_SQL); a changed row moves past every original one.
CHANGE_SQL = ("UPDATE {table} SET amount = amount + 1, at = '2030-01-01'::timestamp + ({round} * 100000000 + id) "
              "* interval '1 second' WHERE id % {every} = {round}")
# Aggregates both databases compute alike (the emulator runs them on PostgreSQL; Redshift has all of them).
STATE_SQL = ("SELECT count(*), sum(amount), sum(CASE WHEN at >= '2030-01-01' THEN 1 ELSE 0 END), min(at), max(at), "
             "sum(id * amount) FROM {table}")


def run(smoke: bool) -> list[dict]:
    megabytes = int(os.environ.get("R2A_BENCH_SYNC_MB", "8" if smoke else "2048"))
    rows = max(1000, megabytes * 2**20 // ROW_BYTES)
    with bench_devstack("sync") as (env, work), planned_schema(env, {"orders": rows}) as planned:
        return _measure(env, planned, work, by_parts=megabytes > DEFAULT_MERGE_IN_ONE_MB)


def _change(env: dict, schema: str, round_number: int) -> int:
    """Change 1 % of the rows in Redshift; how many changed."""
    statement = sql.SQL(CHANGE_SQL).format(table=sql.Identifier(schema, "orders"), round=sql.Literal(round_number),
                                           every=sql.Literal(CHANGED_EVERY))
    with emulator_connection(env) as conn, conn.cursor() as cursor:
        cursor.execute(statement)
        return cursor.rowcount


def _state(connection, schema: str) -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL(STATE_SQL).format(table=sql.Identifier(schema, "orders")))
        return tuple(str(value) for value in cursor.fetchone())


def _measure(env: dict, planned: PlannedSchema, work: Path, by_parts: bool) -> list[dict]:
    from shared.config import load_settings
    from shared.identifiers import TableRef
    from shared.objectstore import ObjectStore, RunLayout

    environ, schema, database = planned.environ, planned.schema, planned.database
    settings = load_settings(environ)
    store = ObjectStore(settings.s3, settings.gcs)
    layout = RunLayout.from_settings(planned.run_id, settings.gcs, settings.s3)
    table = TableRef(schema, "orders")
    config = work / "sync.json"
    config.write_text(json.dumps({"tables": {str(table): {"mode": "upsert", "cursor": "at", "key": ["id"]}}}))
    transfer = ["steps.table_transfer", "--run-id", planned.run_id, "--cleanup", "s3,gcs", "--table", str(table)]
    synced = [*transfer, "--sync-config", str(config)]

    def result(expected_mode: str | None, switch: str | None = None) -> dict:
        document = store.read_json(layout.result(table))
        if document["status"] != "succeeded" or document.get("sync_mode") != expected_mode:
            raise RuntimeError(f"{table}: {document['status']} in mode {document.get('sync_mode')}: "
                               f"{document.get('error')}")
        if switch is not None and document["attempts"][-1]["switch"] != switch:
            raise RuntimeError(f"{table}: switched by {document['attempts'][-1]['switch']!r}, not {switch!r}")
        return document

    full_s, _, _, _ = run_step(transfer, environ)
    full = result(None)
    first_s, _, _, _ = run_step(synced, environ)
    result("upsert")
    changed = _change(env, schema, 0)
    incremental_s, _, _, _ = run_step(synced, environ)
    default_switch = "merge" if by_parts else "none"  # "none": merged in the COPY's transaction, no shadow
    incremental = result("upsert", default_switch)
    with psycopg2.connect(envfile.postgres_dsn(env, database)) as target, target.cursor() as cursor:
        cursor.execute(sql.SQL("ALTER TABLE {} ADD PRIMARY KEY (id)").format(sql.Identifier(schema, "orders")))
    changed_indexed = _change(env, schema, 1)
    indexed_s, _, _, _ = run_step(synced, environ)
    indexed = result("upsert", default_switch)
    changed_at_once = _change(env, schema, 2)
    at_once_s, _, _, _ = run_step([*synced, "--merge-in-one-mb", "4096"], environ)
    at_once = result("upsert", "none")
    changed_again = _change(env, schema, 3)  # rounds increase: each round's `at` is past the one before
    checked_s, _, _, _ = run_step([*synced, "--verify", "checksum"], environ)
    checked = result("upsert")
    with emulator_connection(env) as source, psycopg2.connect(envfile.postgres_dsn(env, database)) as target:
        source_state, target_state = _state(source, schema), _state(target, schema)
    exact = source_state == target_state and checked["checksum_match"] is True
    if not exact:
        raise RuntimeError(f"end state differs: source {source_state}, target {target_state}, "
                           f"checksum_match {checked['checksum_match']}")
    ratio = incremental_s / full_s
    rows_out = [
        ("table (unloaded text)", full["bytes_raw"] / 2**20, "MB", None, None),
        ("rows", full["rows_source"], "rows", None, None),
        ("full load (mode full, --verify count)", full_s, "s", None, None),
        ("first sync (no watermark: the whole table, upsert)", first_s, "s", None, None),
        ("rows changed in the source before the incremental sync", changed, "rows", None, None),
        ("incremental sync: rows in the window", incremental["rows_unloaded"], "rows", None, None),
        ("incremental sync: rows updated", incremental["rows_updated"], "rows", None, None),
        ("incremental sync (upsert, --verify count)", incremental_s, "s", None, None),
        ("ratio incremental / full", ratio, "x", f"<= {GOAL_RATIO}", ratio <= GOAL_RATIO),
        *((f"incremental sync: {name} phase", seconds, "s", None, None)
          for name, seconds in _phase_seconds(incremental).items()),
        ("rows changed before the sync with the key indexed", changed_indexed, "rows", None, None),
        ("incremental sync, the key indexed in AlloyDB (post-data's primary key)", indexed_s, "s", None, None),
        ("ratio incremental with the key indexed / full", indexed_s / full_s, "x", f"<= {GOAL_RATIO}",
         indexed_s / full_s <= GOAL_RATIO),
        *((f"incremental sync, the key indexed: {name} phase", seconds, "s", None, None)
          for name, seconds in _phase_seconds(indexed).items()),
        ("rows changed before the sync in one transaction", changed_at_once, "rows", None, None),
        ("incremental sync in one transaction (--merge-in-one-mb 4096, key indexed)", at_once_s, "s", None, None),
        ("ratio incremental in one transaction / full", at_once_s / full_s, "x", None, None),
        *((f"incremental sync in one transaction: {name} phase", seconds, "s", None, None)
          for name, seconds in _phase_seconds(at_once).items()),
        ("rows changed before the checksum-verified sync", changed_again, "rows", None, None),
        ("incremental sync with --verify checksum (window and whole table)", checked_s, "s", None, None),
        ("ratio incremental with checksum / full", checked_s / full_s, "x", None, None),
        ("end state equal to the source (aggregates and the sync's checksum)", int(exact), "bool", "== 1", exact),
    ]
    return [{"benchmark": NAME, "measure": measure, "value": round(value, 3) if isinstance(value, float) else value,
             "unit": unit, **({"goal": goal, "ok": ok} if goal else {})} for measure, value, unit, goal, ok in rows_out]
