"""Incremental sync of one table (`append` or `upsert` in the sync config, shared/syncconfig.py), exactly once.

1. AlloyDB: the table's watermark (shared/syncstate.py) and the target's columns. Schema drift is decided here (sync_drift.py): a
   column the plan has and the target lacks is added (its type from the rewrite rules, shared/redshift_types.py)
   and the whole table is read again this run (the target's older rows would hold NULL where the source has
   values), as it is when load_schema's refresh added the column already (the last sync's columns lack it); a column the target has and the plan lacks, or one whose type differs, fails the table with the
   difference spelled out. Shifted columns are never loaded.
2. Redshift, one transaction (one snapshot): the whole table's count and the cursor's largest value (the new
   watermark), the window's count, then the UNLOAD of the window through r2a's UNLOAD (unload.py) with
   `WHERE cursor >= <watermark - lag>`; the bound is a literal cast to the cursor's Redshift type.
3. The window's parts S3 → GCS (copy.py).
4. AlloyDB, one transaction: the window's parts COPYed into a temporary table (rows = manifest = the window's
   source count, and with `--verify checksum` the window's aggregates = the source's taken with the UNLOAD, else the
   table fails), then `append`: the target's rows of the window deleted (`>=` re-reads the
   rows that share the old watermark and the late rows within the lag, so neither is lost nor doubled); `upsert`:
   the target's rows whose key is in the window deleted (a key NULL or twice in the window fails the table: Redshift
   does not enforce keys); the window inserted; with `mirror_deletes`, the source's key set (UNLOADed keys only,
   in the window's snapshot, into a second temporary table) removes the target's rows whose key left the source;
   the target counted (it must equal the source's count taken with the UNLOAD, else the table fails; with
   `--verify checksum` its per-column aggregates must equal the whole source table's too, which catches a row
   changed without moving its cursor); the watermark written; COMMIT. A crash anywhere before the COMMIT leaves
   rows and watermark as they were, and the next run reads the same window again.

A sync that reads the whole table (a first sync, a changed cursor or column list, a target created anew) is not
merged: sync_table returns a WholeSync and the table is loaded as a full load is (core._transfer: part by part,
resumable, verified, switched in), its UNLOAD's transaction also taking MAX(cursor), and the switch's transaction
committing that as the watermark (WatermarkInSwitch). So a terabyte table's first sync holds no transaction longer
than a part's, and a crash before the switch leaves the target and the watermark as they were.

The statements of step 4 after the COPY (keys checked, merge, target counted) are in sync_merge.py.

The window of a table larger than --merge-in-one-mb in the plan (by_parts) is not merged in one transaction
either: sync_table returns a WindowByParts, core._transfer loads the window part by part into a shadow
(resumable), and the switch's transaction merges it (MergeInSwitch: step 4's checks, merge, count and watermark,
without the COPY). A mirror_deletes table's window is always merged in one transaction with its key set; one too
large for that (too_large_to_merge, from step 2's counts) makes the table read whole.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal

import psycopg2
from psycopg2 import sql

from shared import stepnames
from shared.connections import alloydb_connection, redshift_connection
from shared.errors import BadInputError, TransientError
from shared.log import event
from shared.redshift_types import UnknownTypeError, parse_type
from shared.results import PhaseClock, TableResult
from shared.runlock import lock_key
from shared.syncconfig import CURSOR_TYPES, UPSERT, TableSync
from shared.syncstate import SyncState, ensure_sync_state, read_state, write_state
from steps.table_transfer import foreign_keys
from steps.table_transfer.copy import copy_part, staged_url
from steps.table_transfer.load import READ_CHUNK, copy_statement, open_decompressed, target_error
from steps.table_transfer.plan import ColumnSpec, TableSpec, _quoted
from steps.table_transfer.sync_drift import drift, planned_type
from steps.table_transfer.sync_merge import DELTA, Merge, check_keys, check_target, merge
from steps.table_transfer.unload import (
    _source_error,
    authorization_clause,
    count_source,
    read_manifest,
    redshift_literal,
    unload_statement,
)
from steps.table_transfer.verify import (
    VerificationError,
    check_checksums,
    checksum_aggregates,
    target_aggregates,
)

STEP = stepnames.TABLE_TRANSFER
_KEYS = sql.Identifier("r2a_sync_keys")  # a temporary table, dropped at COMMIT

# The Redshift spelling a cursor literal is cast to, per canonical type (shared/redshift_types.py).
_CAST = {"smallint": "SMALLINT", "integer": "INTEGER", "bigint": "BIGINT", "date": "DATE",
         "timestamp without time zone": "TIMESTAMP", "timestamp with time zone": "TIMESTAMPTZ"}


@dataclass(frozen=True)
class Cursor:
    column: ColumnSpec
    canonical: str  # its Redshift type, canonical
    cast: str  # the Redshift type its literals are cast to

    def parse(self, text: str):
        """A watermark's text (as stored in sync_state) back to a value of the cursor's type."""
        if self.canonical in ("smallint", "integer", "bigint"):
            return int(text)
        if self.canonical == "numeric":
            return Decimal(text)
        if self.canonical == "date":
            return date.fromisoformat(text)
        return datetime.fromisoformat(text)

    def minus(self, value, lag: Decimal):
        if not lag:
            return value
        if isinstance(value, datetime):
            return value - timedelta(seconds=float(lag))
        if isinstance(value, date):
            return value - timedelta(days=int(-(-lag // 86400)))  # whole days, rounded up: never a smaller window
        if isinstance(value, int):
            return value - int(-(-lag // 1))
        return value - lag

    def literal(self, value) -> sql.Composable:
        """A Redshift literal of the cursor's type: CAST('<text>' AS <type>)."""
        return sql.SQL("CAST({} AS {})").format(redshift_literal(str(value)), sql.SQL(self.cast))


class SyncNotUsable(BadInputError):
    """The table's sync config names a cursor or key the table cannot follow: found before anything is read or
    written, so the table is loaded in full instead and its result says why."""


def cursor_of(spec: TableSpec, name: str) -> Cursor:
    column = next((c for c in spec.columns if c.source == name), None)
    if column is None:
        raise SyncNotUsable(f"sync config: cursor {name[:100]!r} is not a column of {spec.source}")
    try:
        canonical = parse_type(column.source_type or "").canonical
    except UnknownTypeError:
        canonical = ""
    if canonical not in CURSOR_TYPES or column.unload_expression != _quoted(column.source):
        raise SyncNotUsable(f"sync config: cursor {name[:100]!r} of {spec.source} has type "
                            f"{(column.source_type or 'unknown')[:60]}; a cursor must be one of {', '.join(CURSOR_TYPES)}")
    if canonical == "numeric":
        params = parse_type(column.source_type or "").params
        cast = f"NUMERIC({params[0]},{params[1] if len(params) > 1 else 0})" if params else "NUMERIC"
    else:
        cast = _CAST[canonical]
    return Cursor(column, canonical, cast)


@dataclass
class Window:
    low: object | None  # the window starts at this cursor value (inclusive); None: the whole table
    why_whole: str | None = None


@dataclass
class SourceSide:
    total: int  # the whole table's rows
    high: object | None  # the cursor's largest value (None: empty table)
    window_rows: int
    manifest: object | None  # None when the window is empty (nothing unloaded)
    checks: dict[str, object]  # --verify checksum: the window's aggregates, taken with the UNLOAD
    table_checks: dict[str, object]  # --verify checksum: the whole table's, in the same snapshot
    key_manifest: object | None = None  # mirror_deletes: the whole table's key set (None: not asked, or empty)
    read_whole: str | None = None  # mirror_deletes: why the table is read whole instead (nothing was unloaded)


def by_parts(table_mb: float, merge_in_one_mb: float) -> str | None:
    """Why the window of a table of `table_mb` in the plan (this run's svv_table_info) is loaded part by part
    (--merge-in-one-mb; 0: every table); None: merged in one transaction. A table no larger than the bound cannot
    have a larger window, and a larger table's window loads as its full load does: decided before Redshift is
    asked anything, so no count is taken twice."""
    if merge_in_one_mb and table_mb <= merge_in_one_mb:
        return None
    return f"the table is about {table_mb:,.0f} MB in the plan, more than --merge-in-one-mb {merge_in_one_mb:g}"


def window_by_parts(spec: TableSpec, sync: TableSync, merge_in_one_mb: float) -> str | None:
    """Why the table's sync window loads part by part through the part ledger (by_parts); None: its own item merges
    it in one transaction. A mirror_deletes table always merges with its key set in one transaction."""
    return None if sync.mirror_deletes else by_parts(spec.size_mb, merge_in_one_mb)


def too_large_to_merge(window_rows: int, total: int, table_mb: float, merge_in_one_mb: float) -> str | None:
    """mirror_deletes (whose key set is UNLOADed and compared in the merge's transaction): why a window of
    `window_rows` of a table of `total` rows is not merged but the table read whole; None: merged."""
    if not total or not window_rows:
        return None
    window_mb = table_mb * window_rows / total
    if merge_in_one_mb and window_mb <= merge_in_one_mb:
        return None
    return (f"the window ({window_rows} of {total} rows) is about {window_mb:,.0f} MB, more than "
            f"--merge-in-one-mb {merge_in_one_mb:g} to merge with the key set in one transaction")


# ------------------------------------------------------------------------------------------ AlloyDB: before


def _target_oid(cur, spec: TableSpec) -> int:
    cur.execute("SELECT %s::regclass::oid", (spec.target.sql().as_string(cur),))
    return int(cur.fetchone()[0])


def window_for(state: SyncState | None, oid: int, sync: TableSync, cursor: Cursor, added: list[ColumnSpec],
               columns: tuple[str, ...]) -> Window:
    """Where the window starts: the whole table unless the last sync's watermark describes the target's rows."""
    if state is None:
        return Window(None, "first sync")
    if state.target_oid != oid:
        return Window(None, "target created anew since the last sync")
    if state.cursor_column != cursor.column.source or state.cursor_type != cursor.canonical:
        return Window(None, "cursor changed since the last sync")
    if added:
        return Window(None, f"columns added: {', '.join(c.target for c in added)}")
    new = [name for name in columns if name not in state.columns]
    if new:  # added by load_schema's pre-data (a refresh follows an added column): older rows hold NULL in it
        return Window(None, f"columns added since the last sync: {', '.join(new)}")
    if state.watermark is None:
        return Window(None, "the source was empty at the last sync")
    return Window(cursor.minus(cursor.parse(state.watermark), sync.lag))


# ------------------------------------------------------------------------------------------ Redshift


def key_set_spec(spec: TableSpec, keys: list[str]) -> TableSpec:
    """The table with only its key columns: what mirror_deletes UNLOADs and compares."""
    by_target = {c.target: c for c in spec.columns}
    return replace(spec, columns=tuple(by_target[k] for k in keys))


def window_condition(cursor: Cursor, low: object | None) -> sql.Composable | None:
    """The Redshift condition on the cursor for a window starting at `low` (None: the whole table). Every cursor
    value of the UNLOAD's snapshot is at most the MAX(cursor) taken in it, so no upper bound is needed."""
    if low is None:
        return None
    return sql.SQL("{} >= {}").format(sql.Identifier(cursor.column.source), cursor.literal(low))


def unload_window(ctx, spec: TableSpec, cursor: Cursor, window: Window, prefix: str,
                  key_set: TableSpec | None = None, key_prefix: str = "") -> SourceSide:
    """Count, max, the window's count (and checksums), the window's UNLOAD and, for mirror_deletes, the key set's:
    one transaction, one snapshot. With mirror_deletes a window too large to merge in one transaction
    (too_large_to_merge) is not unloaded."""
    aggregates = checksum_aggregates(spec) if ctx.options.verify == "checksum" else []
    in_window = window_condition(cursor, window.low)
    with redshift_connection(ctx.settings, STEP) as conn:
        try:
            with conn.cursor() as cur:
                counted = count_source(cur, spec, aggregates, cursor.column.source, in_window)
                whole = None if key_set is None or window.low is None else too_large_to_merge(
                    counted.rows, counted.total, spec.size_mb, ctx.options.merge_in_one_mb)
                if whole:
                    conn.rollback()
                    return SourceSide(counted.total, counted.high, counted.rows, None, {}, {}, read_whole=whole)
                if counted.rows:
                    cur.execute(unload_statement(conn, spec, ctx.options, prefix, authorization_clause(ctx.settings),
                                                 in_window))
                if key_set is not None and counted.total:
                    cur.execute(unload_statement(conn, key_set, ctx.options, key_prefix,
                                                 authorization_clause(ctx.settings)))
            conn.commit()
        except psycopg2.Error as exc:
            with contextlib.suppress(psycopg2.Error):
                conn.rollback()
            raise _source_error(exc, spec, "UNLOAD of the sync window") from None
    manifest = read_manifest(ctx.store, prefix) if counted.rows else None
    keys = read_manifest(ctx.store, key_prefix) if key_set is not None and counted.total else None
    return SourceSide(counted.total, counted.high, counted.rows, manifest, counted.checks, counted.table_checks, keys)


# ------------------------------------------------------------------------------------------ AlloyDB: the merge


def _copy_parts(cur, ctx, spec: TableSpec, table: sql.Identifier, staged: list[str]) -> int:
    statement = copy_statement(spec, ctx.options, table=table)
    rows = 0
    for url in staged:
        raw, stream = open_decompressed(ctx.store, url, ctx.options.compression)
        try:
            cur.copy_expert(statement, stream, size=READ_CHUNK)
            rows += cur.rowcount
        finally:
            stream.close()
            raw.close()
    return rows


def declared_key(ctx, spec: TableSpec) -> tuple[str, ...]:
    """The primary key the source declares (the run's catalog.json); () when there is none or no catalog."""
    if not ctx.store.exists(ctx.layout.catalog_json):
        return ()
    catalog = ctx.store.read_json(ctx.layout.catalog_json)
    for table in (catalog.get("tables") or []) if isinstance(catalog, dict) else []:
        if isinstance(table, dict) and (table.get("schema"), table.get("name")) == (spec.source.schema,
                                                                                   spec.source.table):
            for constraint in table.get("constraints") or []:
                if constraint.get("kind") == "primary_key" and constraint.get("columns"):
                    return tuple(str(c) for c in constraint["columns"])
    return ()


def upsert_keys(cur, spec: TableSpec, sync: TableSync, declared: tuple[str, ...]) -> list[str]:
    """The merge key as target column names: the config's, else the target's primary key, else the one the source
    declares (post-data creates the target's keys only after the first night's transfers)."""
    by_source = {c.source: c.target for c in spec.columns}
    if sync.key or (declared and not _target_primary_key(cur, spec)):
        named = sync.key or declared
        missing = [k for k in named if k not in by_source]
        if missing:
            raise SyncNotUsable(f"sync config: key column(s) {', '.join(m[:100] for m in missing)} are not columns "
                                f"of {spec.source}")
        return [by_source[k] for k in named]
    keys = _target_primary_key(cur, spec)
    if not keys:
        raise SyncNotUsable(f"sync config: {spec.source} is upsert but names no key, and neither {spec.target} nor "
                            "the source declares a primary key", "Add \"key\": [columns] to its entry")
    return keys


def _target_primary_key(cur, spec: TableSpec) -> list[str]:
    cur.execute("SELECT a.attname FROM pg_catalog.pg_index i JOIN pg_catalog.pg_attribute a "
                "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s::regclass "
                "AND i.indisprimary ORDER BY array_position(i.indkey::int2[], a.attnum)",
                (spec.target.sql().as_string(cur),))
    return [row[0] for row in cur.fetchall()]


# ------------------------------------------------------------------------------------------ the table


@dataclass
class WholeSync:
    """A sync that reads the whole table: loaded as a full load, its watermark committed by the switch."""

    spec: TableSpec
    sync: TableSync
    cursor: Cursor
    state: SyncState | None  # as read when the run began: the switch refuses to commit over another run's
    run_id: str
    why: str
    high: str | None = None

    window_low = None  # the load holds the whole table

    @property
    def cursor_column(self) -> str:
        return self.cursor.column.source

    def window(self) -> sql.Composable | None:
        return None

    def in_switch(self, facts, shadow: sql.Composable) -> WatermarkInSwitch:
        return WatermarkInSwitch(self, facts.high)

    def record(self, result: TableResult) -> None:
        """The result's sync fields once the table is switched in. Into an empty target (switch "none") every row
        is inserted; a target that had rows is replaced whole, and how many of them changed is not counted."""
        result.watermark_to = self.high
        result.rows_inserted = result.rows_loaded
        replaced = result.attempts[-1].switch not in (None, "none")
        result.rows_updated = result.rows_deleted = None if replaced else 0
        event("sync.committed", mode=self.sync.mode, watermark_to=self.high, inserted=result.rows_inserted,
              whole=self.why)


@dataclass
class WindowByParts:
    """The sync window of a table too large to merge in one transaction (--merge-in-one-mb): UNLOADed with the whole table's
    count, MAX(cursor) and (--verify checksum) both the window's and the table's aggregates, copied and loaded part
    by part into a shadow through the part ledger (resumable, as a full load), verified against the window's
    count, then merged into the target in the switch's transaction with the watermark (MergeInSwitch)."""

    spec: TableSpec
    sync: TableSync
    cursor: Cursor
    state: SyncState | None  # as read when the run began: the merge refuses to commit over another run's
    run_id: str
    keys: list[str]
    low: object
    why: str
    high: str | None = None
    merged: Merge | None = None  # None when an earlier try's COMMIT went through and its answer was lost

    @property
    def cursor_column(self) -> str:
        return self.cursor.column.source

    @property
    def window_low(self) -> str:
        return str(self.low)

    def window(self) -> sql.Composable:
        return window_condition(self.cursor, self.low)

    def in_switch(self, facts, shadow: sql.Composable) -> MergeInSwitch:
        return MergeInSwitch(self, facts, shadow)

    def record(self, result: TableResult) -> None:
        result.watermark_to = self.high
        done = self.merged
        result.rows_inserted, result.rows_updated, result.rows_deleted = \
            (done.inserted, done.updated, done.deleted) if done else (None, None, None)
        event("sync.committed", mode=self.sync.mode, watermark_to=self.high, inserted=result.rows_inserted,
              updated=result.rows_updated, deleted=result.rows_deleted, by_parts=self.why)


@dataclass
class MergeInSwitch:
    """The switch of a window loaded by parts: the sync lock and the unmoved watermark first; then, with the shadow
    counted and locked against writers by the switch, the keys checked, the window merged, the target counted (and
    checksummed) against the whole source, the watermark written and the shadow dropped: one transaction."""

    window: WindowByParts
    facts: object  # switch.SourceFacts: rows of the window, total and table_checks of the whole table
    shadow: sql.Composable

    def begin(self, cur) -> None:
        _check_watermark_unmoved(cur, self.window.spec, self.window.state)

    def end(self, cur) -> None:
        window, spec, facts = self.window, self.window.spec, self.facts
        if window.keys:
            check_keys(cur, spec, window.keys, self.shadow)
        done = merge(cur, spec, window.sync.mode, window.cursor.column.target, window.low, window.keys, facts.rows,
                     self.shadow)
        check_target(cur, spec, facts.total, facts.table_checks)
        write_state(cur, _new_state(spec, window.sync, window.cursor, facts.high, _target_oid(cur, spec),
                                    window.run_id))
        cur.execute(sql.SQL("DROP TABLE {}").format(self.shadow))
        window.merged, window.high = done, facts.high


def _new_state(spec: TableSpec, sync: TableSync, cursor: Cursor, watermark: str | None, oid: int,
               run_id: str) -> SyncState:
    """The sync state a committed sync leaves: its watermark, the target's OID and the columns it loaded."""
    return SyncState(str(spec.target), str(spec.source), sync.mode, cursor.column.source, cursor.canonical, watermark,
                     oid, tuple(c.target for c in spec.columns), run_id, "")


def _take_sync_lock(cur, spec: TableSpec) -> None:
    """One sync of a table writes at a time, until the transaction ends."""
    cur.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key("", f"sync {spec.target}"),))


def _check_watermark_unmoved(cur, spec: TableSpec, state: SyncState | None) -> None:
    """Takes the table's sync lock, then checks the watermark is still the one this run started from (FOR UPDATE
    holds it to the COMMIT)."""
    _take_sync_lock(cur, spec)
    now = read_state(cur, str(spec.target), for_update=True)
    if (now and now.watermark, now and now.target_oid) != (state and state.watermark, state and state.target_oid):
        raise TransientError(f"the watermark of {spec.target} moved while this run read the source "
                             "(another run synced it)")


@contextlib.contextmanager
def _target_transaction(ctx, spec: TableSpec):
    """A cursor in one AlloyDB transaction, committed when the block ends; a PostgreSQL error is the table's
    target error."""
    conn = alloydb_connection(ctx.settings, STEP)
    try:
        with conn.cursor() as cur:
            yield cur
        conn.commit()
    except psycopg2.Error as exc:
        with contextlib.suppress(psycopg2.Error):
            conn.rollback()
        raise target_error(exc, spec) from None
    finally:
        conn.close()


@dataclass
class WatermarkInSwitch:
    """The watermark the UNLOAD's snapshot reached, written in the switch's transaction (switch.SwitchJoiner): the
    table's sync lock and the check that no other run moved the watermark come first, as in a merge, before the
    switch locks the target; the write comes after the switch, with the OID of the table it put in place."""

    whole: WholeSync
    high: str | None

    def begin(self, cur) -> None:
        _check_watermark_unmoved(cur, self.whole.spec, self.whole.state)

    def end(self, cur) -> None:
        whole, spec = self.whole, self.whole.spec
        write_state(cur, _new_state(spec, whole.sync, whole.cursor, self.high, _target_oid(cur, spec), whole.run_id))
        whole.high = self.high


def _add_columns(ctx, spec: TableSpec, added: list[ColumnSpec]) -> None:
    """Columns the source gained, added to the target before a whole-table read loads them."""
    with _target_transaction(ctx, spec) as cur:
        _take_sync_lock(cur, spec)
        for column in added:
            cur.execute(sql.SQL("ALTER TABLE {} ADD COLUMN {} {}").format(
                spec.target.sql(), sql.Identifier(column.target), sql.SQL(planned_type(column))))
            event("sync.column_added", column=column.target, type=planned_type(column))


def sync_table(ctx, spec: TableSpec, sync: TableSync, attempt: int, result: TableResult
               ) -> WholeSync | WindowByParts | None:
    """Bring the target up to date by the sync window; fills the result's rows, sync fields and phases. Returns a
    WholeSync, having done nothing but add the source's new columns, when the whole table must be read, and a
    WindowByParts when the table is larger than --merge-in-one-mb: core loads either part by part."""
    cursor = cursor_of(spec, sync.cursor or "")
    result.sync_mode = sync.mode
    conn = alloydb_connection(ctx.settings, STEP)
    try:
        ensure_sync_state(conn)
        with conn.cursor() as cur:
            state = read_state(cur, str(spec.target))
            result.synced_before = state.synced_at if state else None  # also when drift fails the table below
            oid = _target_oid(cur, spec)
            added = drift(cur, spec)
            keys = upsert_keys(cur, spec, sync, declared_key(ctx, spec)) if sync.mode == UPSERT else []
        conn.rollback()
    except psycopg2.Error as exc:
        raise target_error(exc, spec) from None
    finally:
        conn.close()
    window = window_for(state, oid, sync, cursor, added, tuple(c.target for c in spec.columns))
    result.watermark_from = state.watermark if state and window.low is not None else None
    event("sync.window", mode=sync.mode, low=None if window.low is None else str(window.low),
          whole=window.why_whole, added=[c.target for c in added])
    if window.low is None:
        if added:
            _add_columns(ctx, spec, added)
        return WholeSync(spec, sync, cursor, state, ctx.run_id, window.why_whole or "")

    parts = window_by_parts(spec, sync, ctx.options.merge_in_one_mb)
    if parts:
        event("sync.window_by_parts", why=parts)
        return WindowByParts(spec, sync, cursor, state, ctx.run_id, keys, window.low, parts)
    clock = PhaseClock(result.phases)
    result.attempts[-1].unload_attempt = attempt
    with clock.phase("unload"):
        prefix = ctx.layout.unload_prefix(spec.source, attempt)
        key_set = key_set_spec(spec, keys) if sync.mirror_deletes else None
        source = unload_window(ctx, spec, cursor, window, prefix, key_set,
                               ctx.layout.key_set_prefix(spec.source, attempt))
    if source.read_whole:
        result.phases[-1].name = "window"  # the counts that decided it; the whole read times its own unload
        result.watermark_from = None
        event("sync.window_read_whole", why=source.read_whole)
        return WholeSync(spec, sync, cursor, state, ctx.run_id, source.read_whole)
    result.rows_source = source.total
    result.rows_unloaded = source.manifest.record_count if source.manifest else 0
    result.parts = len(source.manifest.parts) if source.manifest else 0
    result.bytes_compressed = source.manifest.bytes_compressed if source.manifest else 0

    with clock.phase("copy"):
        staging_prefix = ctx.layout.staging_prefix(spec.source, attempt)
        staged = [copy_part(ctx.settings.s3, ctx.settings.gcs, part, staged_url(staging_prefix, part)).url
                  for part in (source.manifest.parts if source.manifest else [])]
        key_staging = ctx.layout.key_set_staging_prefix(spec.source, attempt)
        staged_keys = [copy_part(ctx.settings.s3, ctx.settings.gcs, part, staged_url(key_staging, part)).url
                       for part in (source.key_manifest.parts if source.key_manifest else [])]

    with clock.phase("load"):  # the merge, its verification and the watermark: one transaction
        done = _merge_transaction(ctx, spec, sync, cursor, window, keys, source, staged, state, oid,
                                  staged_keys)
    result.rows_loaded = done.loaded
    result.rows_inserted, result.rows_updated, result.rows_deleted = done.inserted, done.updated, done.deleted
    result.watermark_to = None if source.high is None else str(source.high)
    result.checksum_match = True if source.checks else None  # a mismatch has failed the table by now
    result.attempts[-1].switch = "none"
    if ctx.options.cleanup:  # only after the COMMIT: a failed sync keeps its files for a look
        with clock.phase("cleanup"):
            if "s3" in ctx.options.cleanup:
                ctx.store.delete_prefix(ctx.layout.unload_table_prefix(spec.source))
            if "gcs" in ctx.options.cleanup:
                ctx.store.delete_prefix(ctx.layout.staging_table_prefix(spec.source))
    event("sync.committed", mode=sync.mode, watermark_to=result.watermark_to, inserted=done.inserted,
          updated=done.updated, deleted=done.deleted)
    return None


def _mirror_deletes(cur, ctx, spec: TableSpec, keys: list[str], source: SourceSide, staged_keys: list[str]) -> int:
    """Delete the target's rows whose key is not in the source's key set (UNLOADed in the window's snapshot)."""
    names = sql.SQL(", ").join(sql.Identifier(k) for k in keys)
    cur.execute(sql.SQL("CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA").format(
        _KEYS, names, spec.target.sql()))
    loaded = _copy_parts(cur, ctx, key_set_spec(spec, keys), _KEYS, staged_keys)
    unloaded = source.key_manifest.record_count if source.key_manifest else 0
    if not source.total == unloaded == loaded:
        raise VerificationError(f"row counts of the key set differ for {spec.source}: source {source.total}, "
                                f"unloaded {unloaded}, loaded {loaded}")
    match = sql.SQL(" AND ").join(sql.SQL("k.{c} = t.{c}").format(c=sql.Identifier(k)) for k in keys)
    detached = foreign_keys.detach(cur, spec)  # rows other tables refer to may have left the source too
    cur.execute(sql.SQL("DELETE FROM {} t WHERE NOT EXISTS (SELECT 1 FROM {} k WHERE {})").format(
        spec.target.sql(), _KEYS, match))
    removed = cur.rowcount
    foreign_keys.reattach(cur, detached)
    return removed


def _merge_transaction(ctx, spec: TableSpec, sync: TableSync, cursor: Cursor, window: Window, keys: list[str],
                       source: SourceSide, staged: list[str], state: SyncState | None, oid: int,
                       staged_keys: list[str]) -> Merge:
    with _target_transaction(ctx, spec) as cur:
        _check_watermark_unmoved(cur, spec, state)
        names = sql.SQL(", ").join(sql.Identifier(c.target) for c in spec.columns)
        cur.execute(sql.SQL("CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA").format(
            DELTA, names, spec.target.sql()))
        loaded = _copy_parts(cur, ctx, spec, DELTA, staged)
        unloaded = source.manifest.record_count if source.manifest else 0
        if not source.window_rows == unloaded == loaded:
            raise VerificationError(f"row counts of the sync window differ for {spec.source}: source "
                                    f"{source.window_rows}, unloaded {unloaded}, loaded {loaded}")
        if source.checks:
            query, names = target_aggregates(spec, checksum_aggregates(spec), DELTA)
            cur.execute(query)
            check_checksums(f"the sync window of {spec.target}", source.checks,
                            dict(zip(names, cur.fetchone()[1:], strict=True)))
        if keys:
            check_keys(cur, spec, keys)
        done = merge(cur, spec, sync.mode, cursor.column.target, window.low, keys, loaded)
        if sync.mirror_deletes:
            done.deleted += _mirror_deletes(cur, ctx, spec, keys, source, staged_keys)
        check_target(cur, spec, source.total, source.table_checks)
        write_state(cur, _new_state(spec, sync, cursor, None if source.high is None else str(source.high), oid,
                                    ctx.run_id))
    return done
