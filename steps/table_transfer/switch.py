"""After the last part: verify the whole load table, then make it the target's rows in one short transaction.

Verification counts the load table and compares the count with the source count taken in the UNLOAD's transaction,
the manifest's record count and the rows the part ledger recorded. The count reads the load table in page ranges of
`COUNT_CHUNK_PAGES`, one short read transaction each, so no transaction of the verification grows with the table;
with `--verify checksum` the count and the per-column aggregates are one read transaction over the load table. None of
these lock the target. Then one transaction locks the load table against writers, checks that the ledger still
records the rows that were counted (every part's rows commit with its ledger row, so an unchanged ledger is an
unchanged table), and switches: a load into the target itself (the target was empty) is done then and its ledger rows
are deleted; a load into a shadow table is switched in (switch_in or the rename switch) and its ledger rows deleted,
so a crash leaves either the old rows with a resumable shadow or the new rows and no ledger.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import psycopg2
from psycopg2 import sql

from shared.log import event, one_line
from shared.partledger import committed_parts, forget_load, load_exists
from shared.retry import is_transient
from steps.table_transfer import foreign_keys
from steps.table_transfer.plan import TableSpec
from steps.table_transfer.rename_switch import rename_switch, validate
from steps.table_transfer.resume import MERGE, RENAME, TRUNCATE_INSERT, LoadPlan
from steps.table_transfer.verify import (
    Aggregate,
    VerificationError,
    check_checksums,
    check_counts,
    target_aggregates,
)

# 256 MB of 8 kB pages: counted in well under a second, less than one part's load takes (steps/table_transfer/README.md)
COUNT_CHUNK_PAGES = 32_768


@dataclass(frozen=True)
class SourceFacts:
    rows: int  # counted in the UNLOAD's transaction
    checks: dict[str, object]
    manifest_rows: int
    high: str | None = None  # MAX(cursor) in that transaction, when a sync reads the whole table or a window
    total: int | None = None  # when a sync window is loaded: the whole table's rows (`rows` are the window's)
    table_checks: dict[str, object] = field(default_factory=dict)  # and the whole table's checksums


class SwitchJoiner(Protocol):
    """Work done in the switch's transaction: `begin` before the switch takes its locks, `end` after it."""

    def begin(self, cur) -> None: ...

    def end(self, cur) -> None: ...


class ShadowRowsLost(VerificationError):
    pass


def verify_and_switch(conn, spec: TableSpec, plan: LoadPlan, facts: SourceFacts, rows_loaded: int,
                      aggregates: list[Aggregate], on_checksum: Callable[[bool], None],
                      joined: SwitchJoiner | None = None) -> str:
    """Verify, then switch and forget the ledger rows in one transaction; returns the switch used ("none",
    "rename", "truncate-insert" or "merge"). `joined` takes part in that transaction: `begin(cursor)` first, `end(cursor)`
    last (a sync's watermark goes with the rows it covers). Foreign keys the rename switch added NOT VALID are
    VALIDATEd after the COMMIT."""
    table = plan.table
    try:
        if not _load_exists(conn, plan):  # an earlier try committed, and its answer was lost
            return plan.record.switch or "none"
        check_counts(str(spec.source), facts.rows, facts.manifest_rows, rows_loaded)
        counted = _verify(conn, spec, table, facts, aggregates, on_checksum)
        with conn.cursor() as cur:
            if not load_exists(cur, plan.key):
                conn.rollback()
                return plan.record.switch or "none"
            if joined is not None:
                joined.begin(cur)
            check_unchanged_since_counted(cur, spec, plan, counted)
            how, switched = "none", None
            if plan.record.switch == MERGE:  # `joined` merges the shadow into the target (a sync window)
                how = MERGE
            elif plan.record.shadow and plan.record.switch == RENAME:
                switched, how = _rename_or_fall_back(conn, cur, spec, table, counted)
            elif plan.record.shadow:
                switch_in(cur, spec, table, counted)
                how = TRUNCATE_INSERT
            if joined is not None:
                joined.end(cur)
            forget_load(cur, plan.key)
        conn.commit()
    except BaseException:
        _rollback(conn)
        raise
    if switched is not None and switched.to_validate:
        _validate_after(conn, spec, switched)
    return how


def _load_exists(conn, plan: LoadPlan) -> bool:
    with conn.cursor() as cur:
        exists = load_exists(cur, plan.key)
    conn.rollback()
    return exists


def _verify(conn, spec: TableSpec, table: sql.Composable, facts: SourceFacts, aggregates: list[Aggregate],
            on_checksum: Callable[[bool], None]) -> int:
    """The load table's rows counted (and its aggregates checked) against the source's; returns the count."""
    if not aggregates:
        counted = count_in_chunks(conn, table)
        check_counts(str(spec.source), facts.rows, facts.manifest_rows, counted)
        return counted
    with conn.cursor() as cur:
        query, names = target_aggregates(spec, aggregates, table)
        cur.execute(query)
        values = cur.fetchone()
    conn.rollback()
    check_counts(str(spec.source), facts.rows, facts.manifest_rows, int(values[0]))
    on_checksum(False)
    check_checksums(str(spec.source), facts.checks, dict(zip(names, values[1:], strict=True)))
    on_checksum(True)
    return int(values[0])


def count_in_chunks(conn, table: sql.Composable, chunk_pages: int = COUNT_CHUNK_PAGES) -> int:
    """count(*) of the table as the sum of counts over page ranges (TID range scans), each in its own transaction.
    Exact while nothing writes the table, which the switch then checks; the last range is open-ended, so pages
    added after the size was read are counted too."""
    with conn.cursor() as cur:
        cur.execute("SELECT pg_relation_size(%s::regclass) / current_setting('block_size')::bigint",
                    (table.as_string(conn),))
        pages = int(cur.fetchone()[0])
        conn.rollback()
        total, start = 0, 0
        while True:
            end = start + chunk_pages
            if end >= pages:
                cur.execute(sql.SQL("SELECT count(*) FROM {} WHERE ctid >= %s::tid").format(table), (f"({start},0)",))
            else:
                cur.execute(sql.SQL("SELECT count(*) FROM {} WHERE ctid >= %s::tid AND ctid < %s::tid").format(table),
                            (f"({start},0)", f"({end},0)"))
            total += int(cur.fetchone()[0])
            conn.rollback()
            if end >= pages:
                return total
            start = end


def check_unchanged_since_counted(cur, spec: TableSpec, plan: LoadPlan, counted: int) -> None:
    """Writers of the load table wait from here to the COMMIT; the ledger then still records the counted rows, or
    something loaded between the count and now."""
    cur.execute(sql.SQL("LOCK TABLE {} IN SHARE MODE").format(plan.table))
    recorded = sum(part.rows for part in committed_parts(cur, plan.key).values())
    if recorded != counted:
        raise VerificationError(f"the load table of {spec.target} changed after it was counted: {counted} rows "
                                f"counted, {recorded} in the part ledger now")


def _rollback(conn) -> None:
    try:
        conn.rollback()
    except psycopg2.Error:
        pass


def _rename_or_fall_back(conn, cur, spec: TableSpec, shadow: sql.Composable, rows: int):
    """The rename switch, in a savepoint: something bound to the target that the check before the load did not see
    (created since) makes it fail, and then the truncate-insert switch runs instead."""
    cur.execute("SAVEPOINT r2a_rename_switch")
    started = time.monotonic()
    try:
        switched = rename_switch(cur, spec.target, shadow)
    except psycopg2.Error as exc:
        if is_transient(exc):
            raise
        cur.execute("ROLLBACK TO SAVEPOINT r2a_rename_switch")
        event("switch.fell_back", target=str(spec.target), error=one_line(exc.pgerror or exc, 200))
        switch_in(cur, spec, shadow, rows)
        return None, TRUNCATE_INSERT
    cur.execute("RELEASE SAVEPOINT r2a_rename_switch")
    event("switch.renamed", target=str(spec.target), seconds=round(time.monotonic() - started, 3),
          foreign_keys_to_validate=len(switched.to_validate))
    return switched, RENAME


def _validate_after(conn, spec: TableSpec, switched) -> None:
    """After the COMMIT: the scan does not block readers of the target. A key the new rows violate stays NOT VALID;
    one not validated because the connection broke stays NOT VALID too, and is said so."""
    try:
        with conn.cursor() as cur:
            violated = validate(cur, switched.to_validate)
        conn.commit()
    except psycopg2.Error as exc:
        _rollback(conn)
        event("switch.validate_failed", target=str(spec.target), error=one_line(exc, 200))
        return
    if violated:
        event("switch.foreign_keys_violated", target=str(spec.target), keys=violated)


def switch_in(cur, spec: TableSpec, shadow: sql.Composable, rows: int) -> None:
    """The target's rows replaced by the shadow's in this transaction (readers see old or new, never half)."""
    columns = sql.SQL(", ").join(sql.Identifier(c.target) for c in spec.columns)
    detached = foreign_keys.detach(cur, spec)
    cur.execute(sql.SQL("TRUNCATE {}").format(spec.target.sql()))
    cur.execute(sql.SQL("INSERT INTO {} ({}) OVERRIDING SYSTEM VALUE SELECT {} FROM {}").format(
        spec.target.sql(), columns, columns, shadow))
    if cur.rowcount != rows:
        raise ShadowRowsLost(f"the shadow table of {spec.target} gave {cur.rowcount} rows to the switch, its count "
                             f"said {rows}")
    foreign_keys.reattach(cur, detached)
    cur.execute(sql.SQL("DROP TABLE {}").format(shadow))
