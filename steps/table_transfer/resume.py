"""Which load an attempt works on: the earlier attempt's, resumed, when its UNLOAD finished; else a new one.

A load whose UNLOAD finished (state `unloaded` in the part ledger, with the source's count and checksums taken in
the UNLOAD's transaction, and its manifest in S3) is resumed when this attempt reads the same format and
compression: the attempt loads only the parts the ledger lacks, with the NULL marker that UNLOAD wrote. Otherwise
every earlier load of the target (any run) is abandoned (shared/staging.abandon_load) and a new one starts: into
the target itself when it holds no rows, else into a new shadow table that is switched in at the end. A sync
window's load always goes into a shadow, merged into the target at the end (sync_load.MergeInSwitch).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import psycopg2
from psycopg2 import sql

from shared.ddlsession import require_own_schema
from shared.errors import R2AError
from shared.identifiers import TableRef, parse_table_ref
from shared.log import event
from shared.objectstore import ObjectStore, RunLayout
from shared.partledger import (
    UNLOADED,
    LedgerPart,
    LoadKey,
    LoadRecord,
    committed_parts,
    ensure_ledger,
    loads_of,
    lock_schema_ddl,
    start_load,
)
from shared.staging import STAGING_SCHEMA, abandon_load, create_shadow, drop_staging_tables, shadow_name
from steps.table_transfer import foreign_keys
from steps.table_transfer.plan import TableSpec, TransferOptions
from steps.table_transfer.rename_switch import unsupported
from steps.table_transfer.unload import Manifest, read_manifest


@dataclass(frozen=True)
class LoadPlan:
    record: LoadRecord
    options: TransferOptions  # this attempt's, with the resumed UNLOAD's NULL marker
    committed: dict[str, LedgerPart]  # parts already in the load table
    manifest: Manifest | None  # the resumed UNLOAD's; None: this attempt UNLOADs

    @property
    def key(self) -> LoadKey:
        return self.record.key

    @property
    def table(self) -> sql.Composable:
        if self.record.shadow:
            return sql.Identifier(STAGING_SCHEMA, self.record.shadow)
        return sql.Identifier(*_target_parts(self.record.target))

    @property
    def into(self) -> str:
        return "shadow" if self.record.shadow else "target"


def _target_parts(text: str) -> tuple[str, str]:
    ref = parse_table_ref(text)
    return ref.schema, ref.table


def empty_target(cur, target: TableRef) -> None:
    """TRUNCATE, with the foreign keys that refer to the table taken off and put back around it."""
    spec = TableSpec(target, target, ())
    detached = foreign_keys.detach(cur, spec)
    cur.execute(sql.SQL("TRUNCATE {}").format(target.sql()))
    foreign_keys.reattach(cur, detached)


def plan_load(conn, store: ObjectStore, layout: RunLayout, run_id: str, spec: TableSpec, attempt: int,
              options: TransferOptions, window_low: str | None = None) -> LoadPlan:
    """Resume the table's load of this run whose UNLOAD finished, or abandon the target's loads and start one.
    `window_low`: a sync window starting there is loaded, always into a shadow that is merged into the target
    (MERGE), and only a load of the same window is resumed."""
    ensure_ledger(conn)
    try:
        with conn.cursor() as cur:
            for record in loads_of(cur, run_id, source=str(spec.source)):
                if _resumable(record, options) and record.window_low == window_low:
                    manifest = _manifest(store, layout, spec, record)
                    if manifest is not None:
                        plan = LoadPlan(record, replace(options, null_marker=record.null_marker),
                                        committed_parts(cur, record.key), manifest)
                        conn.commit()
                        return plan
                break
            for record in loads_of(cur, None, target=str(spec.target)):
                event("load.abandoned", unload_attempt=record.key.unload_attempt, run=record.key.run_id,
                      done=abandon_load(cur, record, empty_target))
            cur.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(spec.target.sql()))
            holds_rows = cur.fetchone()[0]
            shadow = switch = None
            if holds_rows or window_low is not None:
                lock_schema_ddl(cur)
                cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(STAGING_SCHEMA)))
                require_own_schema(conn, STAGING_SCHEMA)  # a schema someone else owns is not r2a's to fill
                drop_staging_tables(cur, [str(spec.target)])  # shadows no ledger row knows (a lost ledger)
                switch = MERGE if window_low is not None else choose_switch(cur, spec.target,
                                                                            options.rename_switch_mb)
                shadow = shadow_name(spec.target, run_id, attempt)
                create_shadow(cur, spec.target, shadow, whole=switch == RENAME)
            key = LoadKey(run_id, str(spec.source), attempt)
            start_load(cur, key, spec.target, shadow, options.format, options.compression, options.null_marker,
                       switch, window_low)
            record = loads_of(cur, run_id, source=str(spec.source))[0]
        conn.commit()
        return LoadPlan(record, options, {}, None)
    except BaseException:
        try:
            conn.rollback()
        except psycopg2.Error:
            pass
        raise


RENAME, TRUNCATE_INSERT, MERGE = "rename", "truncate-insert", "merge"


def choose_switch(cur, target: TableRef, rename_mb: float) -> str:
    """rename for a target of at least `rename_mb` whose shape the rename switch carries over, else truncate-insert."""
    cur.execute("SELECT pg_relation_size(%s::regclass)", (target.sql().as_string(cur),))
    if cur.fetchone()[0] < rename_mb * 1024 * 1024:
        return TRUNCATE_INSERT
    reasons = unsupported(cur, target)
    if reasons:
        event("switch.rename_refused", target=str(target), why=", ".join(reasons))
        return TRUNCATE_INSERT
    return RENAME


def _resumable(record: LoadRecord, options: TransferOptions) -> bool:
    return (record.state == UNLOADED and record.source_rows is not None and record.format == options.format
            and record.compression == options.compression)


def _manifest(store: ObjectStore, layout: RunLayout, spec: TableSpec, record: LoadRecord) -> Manifest | None:
    """The resumed UNLOAD's manifest, or None when it is gone from S3 (cleaned up): then the table UNLOADs again."""
    prefix = layout.unload_prefix(spec.source, record.key.unload_attempt)
    try:
        return read_manifest(store, prefix)
    except R2AError as exc:
        event("load.not_resumed", unload_attempt=record.key.unload_attempt, why=str(exc)[:200])
        return None
