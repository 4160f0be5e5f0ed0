"""Verification: rows loaded = manifest record_count = source count, and optional per-column checksums.

Checksums are aggregates that Redshift and PostgreSQL compute identically: a non-null count for every column,
and beyond it what the column's row of shared/redshift_types lists (`CHECKSUMS`: min/max, sums, true counts, total
length, an order-independent MD5 sum). A column whose plan expression transforms the value gets the non-null count
only.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg2 import sql

from shared.errors import TargetError
from shared.redshift_types import CHECKSUMS, checksum_kinds
from steps.table_transfer.plan import ColumnSpec, TableSpec, _quoted


class VerificationError(TargetError):
    """What arrived differs from what left: the load is rolled back."""


@dataclass(frozen=True)
class Aggregate:
    column: ColumnSpec
    kind: str  # a key of shared.redshift_types.CHECKSUMS

    @property
    def name(self) -> str:
        return f"{self.column.target}:{self.kind}"


def checksum_aggregates(spec: TableSpec) -> list[Aggregate]:
    aggregates = []
    for column in spec.columns:
        aggregates.append(Aggregate(column, "nonnull"))
        if column.unload_expression != _quoted(column.source):
            continue
        aggregates.extend(Aggregate(column, kind) for kind in checksum_kinds(column.source_type, column.target_type))
    return aggregates


def _select(table: sql.Composable, parts: list[sql.Composable]) -> sql.Composed:
    return sql.SQL("SELECT {} FROM {}").format(sql.SQL(", ").join([sql.SQL("COUNT(*)"), *parts]), table)


def source_aggregates(spec: TableSpec, aggregates: list[Aggregate],
                      also: tuple[sql.Composable, ...] = ()) -> tuple[sql.Composed, list[str]]:
    """COUNT(*), the aggregates, then `also` (selected after them, not named)."""
    parts = [sql.SQL(CHECKSUMS[a.kind].redshift).format(c=sql.Identifier(a.column.source)) for a in aggregates]
    return _select(spec.source.sql(), [*parts, *also]), [a.name for a in aggregates]


def target_aggregates(spec: TableSpec, aggregates: list[Aggregate],
                      table: sql.Composable | None = None) -> tuple[sql.Composed, list[str]]:
    parts = [sql.SQL(CHECKSUMS[a.kind].postgres).format(c=sql.Identifier(a.column.target)) for a in aggregates]
    return _select(table or spec.target.sql(), parts), [a.name for a in aggregates]


def _same(left: object, right: object) -> bool:
    if left is None or right is None:
        return left is right
    try:
        if left == right:
            return True
    except TypeError:
        pass
    # a resumed load's source values come back from the part ledger's JSON as text (a Decimal, a date)
    return type(left) is not type(right) and str(left) == str(right)


def check_counts(table: str, source_rows: int, manifest_rows: int, loaded_rows: int) -> None:
    if not source_rows == manifest_rows == loaded_rows:
        raise VerificationError(f"row counts differ for {table}: source {source_rows}, unloaded {manifest_rows}, "
                                f"loaded {loaded_rows}")


def check_checksums(table: str, source: dict[str, object], target: dict[str, object]) -> None:
    differing = [name for name in source if not _same(source[name], target.get(name))]
    if differing:
        shown = ", ".join(f"{n} (source {source[n]!r}, target {target.get(n)!r})" for n in differing[:5])
        more = f" and {len(differing) - 5} more" if len(differing) > 5 else ""
        raise VerificationError(f"checksums differ for {table}: {shown}{more}")
