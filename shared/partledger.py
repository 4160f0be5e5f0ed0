"""The part ledger: which parts of which UNLOAD are committed in AlloyDB, written in the same transaction as the rows.

A table's load is one row of `r2a_meta.transfer_loads` (run, Redshift table, the attempt whose UNLOAD it loads) and
one row of `r2a_meta.transfer_parts` per part committed (by which loader, when its transaction began and when its
rows were in); `r2a_meta.transfer_staged` lists the parts in GCS the table's further loaders may load. Each part is
COPYed in a transaction of its own that first claims it (claim_part: its advisory lock, then its ledger row) and
commits the rows and the row together, so a part is in the load table exactly once whatever crashes, and the ledger
says which.

A load goes into the target itself when the target was empty when the load began (`shadow` NULL), else into a
shadow table in r2a_staging that is switched in once every part is there and verified. Its state is `unloading`
until the UNLOAD's manifest is read and the source's count (and checksums) are recorded, then `unloaded`: only an
`unloaded` load is resumed by a later attempt (it loads the parts the ledger lacks); any other is abandoned (its
parts taken out again) before a new UNLOAD. A sync window's load (`window_low` set) always goes into a shadow that
is merged into the target at the switch, and only an attempt that reads the same window resumes it. The tables live in r2a_meta, whose owner is checked before use
(shared/ddlsession.py). The load's rows are deleted when the table is switched in; post-data deletes those that
cannot be resumed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

import psycopg2.extensions
from psycopg2 import sql

from shared.ddlsession import META_SCHEMA, require_own_schema
from shared.identifiers import TableRef
from shared.runlock import lock_key

LOADS = sql.Identifier(META_SCHEMA, "transfer_loads")
PARTS = sql.Identifier(META_SCHEMA, "transfer_parts")
STAGED = sql.Identifier(META_SCHEMA, "transfer_staged")
UNLOADING, UNLOADED = "unloading", "unloaded"

_DDL = (
    sql.SQL("CREATE TABLE IF NOT EXISTS {} (run_id text NOT NULL, source text NOT NULL, unload_attempt integer NOT NULL,"
            " target text NOT NULL, shadow text, switch text, state text NOT NULL, format text NOT NULL, compression text NOT NULL,"
            " null_marker text NOT NULL, source_rows bigint, source_checks jsonb, manifest_url text,"
            " created_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (run_id, source, unload_attempt))"
            ).format(LOADS),
    sql.SQL("CREATE TABLE IF NOT EXISTS {} (run_id text NOT NULL, source text NOT NULL, unload_attempt integer NOT NULL,"
            " part text NOT NULL, rows bigint, bytes bigint, loaded_by_attempt integer NOT NULL,"
            " loaded_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (run_id, source, unload_attempt, part),"
            " FOREIGN KEY (run_id, source, unload_attempt) REFERENCES {} ON DELETE CASCADE)").format(PARTS, LOADS),
    sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS loader integer NOT NULL DEFAULT 1").format(PARTS),
    sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS committed_at timestamptz").format(PARTS),
    # a sync's whole-table read: MAX(cursor) from the UNLOAD's transaction, the watermark its switch commits
    sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS source_high text").format(LOADS),
    # a sync's window loaded part by part into a shadow and merged: where the window starts (the load resumes only
    # for the same window), the whole table's count and checksums (the merged target must match them)
    sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS window_low text").format(LOADS),
    sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS source_total bigint").format(LOADS),
    sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS source_table_checks jsonb").format(LOADS),
    sql.SQL("CREATE TABLE IF NOT EXISTS {} (run_id text NOT NULL, source text NOT NULL, unload_attempt integer NOT NULL,"
            " part text NOT NULL, url text NOT NULL, bytes bigint NOT NULL,"
            " PRIMARY KEY (run_id, source, unload_attempt, part),"
            " FOREIGN KEY (run_id, source, unload_attempt) REFERENCES {} ON DELETE CASCADE)").format(STAGED, LOADS),
)


@dataclass(frozen=True)
class LoadKey:
    run_id: str
    source: str  # the Redshift table, "schema.table"
    unload_attempt: int

    @property
    def values(self) -> tuple[str, str, int]:
        return self.run_id, self.source, self.unload_attempt


@dataclass(frozen=True)
class LoadRecord:
    key: LoadKey
    target: str
    shadow: str | None  # the r2a_staging table the parts go into; None: the target itself
    switch: str | None  # how the shadow becomes the target: "rename" or "truncate-insert"
    state: str
    format: str
    compression: str
    null_marker: str
    source_rows: int | None
    source_checks: dict[str, object]
    manifest_url: str | None
    source_high: str | None = None  # MAX(cursor) counted with source_rows, when a sync reads the whole table
    window_low: str | None = None  # a sync window's first cursor value: only its rows are in the load
    source_total: int | None = None  # with window_low: the whole table's rows (source_rows are the window's)
    source_table_checks: dict[str, object] = field(default_factory=dict)  # with window_low: the whole table's


@dataclass(frozen=True)
class LoaderSpan:
    """What one loader of a load committed: its parts, their rows, from its first part's start to its last commit."""

    loader: int
    parts: int
    rows: int
    started_at: datetime
    finished_at: datetime


@dataclass(frozen=True)
class LedgerPart:
    name: str
    rows: int
    bytes: int
    loaded_by_attempt: int
    loader: int = 1


def lock_schema_ddl(cur) -> None:
    """Serialize `CREATE … IF NOT EXISTS` of r2a's schemas and tables across concurrent transfers until the
    transaction ends (two at once can both find a name free, and one fails on the catalog's unique index)."""
    cur.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key("", "part ledger ddl"),))


def ensure_ledger(conn: psycopg2.extensions.connection) -> None:
    """r2a_meta and the two tables, created once."""
    with conn.cursor() as cur:
        lock_schema_ddl(cur)
        cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(META_SCHEMA)))
    require_own_schema(conn, META_SCHEMA)  # a squatted schema could hold a trigger on the ledger
    with conn.cursor() as cur:
        for statement in _DDL:
            cur.execute(statement)
    conn.commit()


def ledger_exists(cur) -> bool:
    cur.execute("SELECT to_regclass(%s) IS NOT NULL", (LOADS.as_string(cur),))
    return bool(cur.fetchone()[0])


_COLUMNS = sql.SQL("run_id, source, unload_attempt, target, shadow, switch, state, format, compression, null_marker, "
                   "source_rows, source_checks, manifest_url, source_high, window_low, source_total, "
                   "source_table_checks")


def _checks(value) -> dict[str, object]:
    return value if isinstance(value, dict) else json.loads(value or "{}")


def _record(row) -> LoadRecord:
    return LoadRecord(LoadKey(row[0], row[1], int(row[2])), row[3], row[4], row[5], row[6], row[7], row[8], row[9],
                      None if row[10] is None else int(row[10]), _checks(row[11]), row[12], row[13], row[14],
                      None if row[15] is None else int(row[15]), _checks(row[16]))


def loads_of(cur, run_id: str | None, source: str | None = None, target: str | None = None) -> list[LoadRecord]:
    """Loads of a run's table (`source`), or of a target in any run (`target`), newest first."""
    where = []
    params: list[object] = []
    for column, value in (("run_id", run_id), ("source", source), ("target", target)):
        if value is not None:
            where.append(sql.SQL("{} = %s").format(sql.Identifier(column)))
            params.append(value)
    cur.execute(sql.SQL("SELECT {} FROM {} WHERE {} ORDER BY created_at DESC, unload_attempt DESC").format(
        _COLUMNS, LOADS, sql.SQL(" AND ").join(where) if where else sql.SQL("true")), params)
    return [_record(row) for row in cur.fetchall()]


def start_load(cur, key: LoadKey, target: TableRef, shadow: str | None, fmt: str, compression: str,
               null_marker: str, switch: str | None = None, window_low: str | None = None) -> None:
    cur.execute(sql.SQL("INSERT INTO {} (run_id, source, unload_attempt, target, shadow, switch, state, format,"
                        " compression, null_marker, window_low) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                        ).format(LOADS),
                (*key.values, str(target), shadow, switch, UNLOADING, fmt, compression, null_marker, window_low))


def mark_unloaded(cur, key: LoadKey, source_rows: int, source_checks: dict[str, object], manifest_url: str,
                  source_high: str | None = None, source_total: int | None = None,
                  source_table_checks: dict[str, object] | None = None) -> None:
    """The UNLOAD finished: from now on a later attempt resumes this load instead of unloading again."""
    cur.execute(sql.SQL("UPDATE {} SET state = %s, source_rows = %s, source_checks = %s, manifest_url = %s, "
                        "source_high = %s, source_total = %s, source_table_checks = %s "
                        "WHERE run_id = %s AND source = %s AND unload_attempt = %s").format(LOADS),
                (UNLOADED, source_rows, json.dumps(source_checks, default=str), manifest_url, source_high,
                 source_total, json.dumps(source_table_checks or {}, default=str), *key.values))


CLAIMED, TAKEN, BUSY = "claimed", "taken", "busy"


def claim_part(cur, key: LoadKey, part: str, attempt: int, loader: int = 1) -> str:
    """Take the part for this transaction: CLAIMED; TAKEN when it is committed already (by an earlier try whose
    COMMIT's answer was lost, or by another loader); BUSY when another loader's transaction holds it now (it is
    not waited for: the caller loads other parts and comes back). The part's advisory lock, held until this
    transaction ends, makes a claim never wait on another loader's COPY; the ledger row, inserted in the same
    transaction as the rows, makes the part committed once."""
    cur.execute("SELECT pg_try_advisory_xact_lock(%s)",
                (lock_key(key.run_id, f"part\0{key.source}\0{key.unload_attempt}\0{part}"),))
    if not cur.fetchone()[0]:
        return BUSY
    cur.execute(sql.SQL("INSERT INTO {} (run_id, source, unload_attempt, part, loaded_by_attempt, loader) "
                        "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING").format(PARTS),
                (*key.values, part, attempt, loader))
    return CLAIMED if cur.rowcount == 1 else TAKEN


def publish_staged(cur, key: LoadKey, part: str, url: str, size: int) -> None:
    """The part is in GCS, checked: the table's other loaders (`--loader`) may load it from now on."""
    cur.execute(sql.SQL("INSERT INTO {} (run_id, source, unload_attempt, part, url, bytes) VALUES (%s, %s, %s, %s, %s,"
                        " %s) ON CONFLICT DO NOTHING").format(STAGED), (*key.values, part, url, size))


def staged_parts(cur, key: LoadKey) -> dict[str, tuple[str, int]]:
    """Part name -> (GCS URL, size) of the parts the load's copy phase has put in GCS."""
    cur.execute(sql.SQL("SELECT part, url, bytes FROM {} WHERE run_id = %s AND source = %s AND unload_attempt = %s"
                        ).format(STAGED), key.values)
    return {name: (url, int(size)) for name, url, size in cur.fetchall()}


def loaders_of(cur, key: LoadKey) -> dict[str, int]:
    """Part name -> the loader (1: the table's own item, else its `--loader` number) that committed it."""
    cur.execute(sql.SQL("SELECT part, loader FROM {} WHERE run_id = %s AND source = %s AND unload_attempt = %s"
                        ).format(PARTS), key.values)
    return dict(cur.fetchall())


def loader_spans(cur, key: LoadKey) -> list[LoaderSpan]:
    """Per loader, by number, what it committed of the load (`loaded_at` is its part's transaction start, `now()`;
    `committed_at` the moment its rows were in, just before COMMIT)."""
    cur.execute(sql.SQL("SELECT loader, count(*), coalesce(sum(rows), 0), min(loaded_at), "
                        "max(coalesce(committed_at, loaded_at)) FROM {} WHERE run_id = %s AND source = %s "
                        "AND unload_attempt = %s GROUP BY loader ORDER BY loader").format(PARTS), key.values)
    return [LoaderSpan(int(loader), int(parts), int(rows), began, ended)
            for loader, parts, rows, began, ended in cur.fetchall()]


def record_part(cur, key: LoadKey, part: str, rows: int, raw_bytes: int) -> None:
    """The part's rows are in (the caller commits them with this row)."""
    cur.execute(sql.SQL("UPDATE {} SET rows = %s, bytes = %s, committed_at = clock_timestamp() "
                        "WHERE run_id = %s AND source = %s "
                        "AND unload_attempt = %s AND part = %s").format(PARTS), (rows, raw_bytes, *key.values, part))


def committed_parts(cur, key: LoadKey) -> dict[str, LedgerPart]:
    cur.execute(sql.SQL("SELECT part, rows, bytes, loaded_by_attempt, loader FROM {} WHERE run_id = %s AND source = %s "
                        "AND unload_attempt = %s").format(PARTS), key.values)
    return {name: LedgerPart(name, int(rows or 0), int(size or 0), int(by), int(loader))
            for name, rows, size, by, loader in cur.fetchall()}


def load_exists(cur, key: LoadKey) -> bool:
    cur.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE run_id = %s AND source = %s AND unload_attempt = %s)"
                        ).format(LOADS), key.values)
    return bool(cur.fetchone()[0])


def forget_load(cur, key: LoadKey) -> None:
    """The load's ledger rows (its parts go with it)."""
    cur.execute(sql.SQL("DELETE FROM {} WHERE run_id = %s AND source = %s AND unload_attempt = %s").format(LOADS),
                key.values)
