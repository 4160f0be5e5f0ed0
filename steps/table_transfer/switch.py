"""After the last part: verify the whole load table, then make it the target's rows, in one transaction.

Verification counts the load table (and computes the checksums with `--verify checksum`) and compares with the
source count taken in the UNLOAD's transaction, the manifest's record count and the rows the part ledger recorded.
A load into the target itself (the target was empty) is done then: the ledger's rows are deleted in the same
transaction. A load into a shadow table is switched in (switch_in), and its ledger rows deleted, in the same
transaction, so a crash leaves either the old rows with a resumable shadow or the new rows and no ledger.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import psycopg2
from psycopg2 import sql

from shared.partledger import forget_load
from steps.table_transfer import foreign_keys
from steps.table_transfer.plan import TableSpec
from steps.table_transfer.resume import LoadPlan
from steps.table_transfer.verify import (
    Aggregate,
    VerificationError,
    check_checksums,
    check_counts,
    target_aggregates,
)


@dataclass(frozen=True)
class SourceFacts:
    rows: int  # counted in the UNLOAD's transaction
    checks: dict[str, object]
    manifest_rows: int


class ShadowRowsLost(VerificationError):
    pass


def verify_and_switch(conn, spec: TableSpec, plan: LoadPlan, facts: SourceFacts, rows_loaded: int,
                      aggregates: list[Aggregate], on_checksum: Callable[[bool], None]) -> str:
    """Verify, switch, forget the ledger rows, COMMIT; returns the switch used ("none" or "truncate-insert")."""
    table = plan.table
    try:
        with conn.cursor() as cur:
            check_counts(str(spec.source), facts.rows, facts.manifest_rows, rows_loaded)
            query, names = target_aggregates(spec, aggregates, table)
            cur.execute(query)
            values = cur.fetchone()
            check_counts(str(spec.source), facts.rows, facts.manifest_rows, int(values[0]))
            if aggregates:
                on_checksum(False)
                check_checksums(str(spec.source), facts.checks, dict(zip(names, values[1:], strict=True)))
                on_checksum(True)
            how = "none"
            if plan.record.shadow:
                switch_in(cur, spec, table, int(values[0]))
                how = "truncate-insert"
            forget_load(cur, plan.key)
        conn.commit()
        return how
    except BaseException:
        try:
            conn.rollback()
        except psycopg2.Error:
            pass
        raise


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
