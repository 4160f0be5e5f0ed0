"""Verification: rows loaded = manifest record_count = source count, and optional per-column checksums.

Checksums are aggregates that Redshift and PostgreSQL compute identically: non-null counts everywhere;
min/max for numbers, dates and times; the number of true booleans; for character columns the total length
and a sum of the first 32 bits of each value's MD5 (order-independent, so no sort is needed on either side).
Floats, JSON, bytes and intervals get the non-null count only (their text forms or orderings differ).
A column whose plan expression transforms the value gets the non-null count only too.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg2 import sql

from shared.errors import TargetError
from shared.redshift_types import checksum_kinds
from steps.table_transfer.plan import ColumnSpec, TableSpec, _quoted


class VerificationError(TargetError):
    """What arrived differs from what left: the load is rolled back."""


@dataclass(frozen=True)
class Aggregate:
    column: ColumnSpec
    kind: str  # a key of _TEMPLATES

    @property
    def name(self) -> str:
        return f"{self.column.target}:{self.kind}"


# kind -> (Redshift template, PostgreSQL template); {c} is the quoted column.
_TEMPLATES: dict[str, tuple[str, str]] = {
    "nonnull": ("COUNT({c})", "COUNT({c})"),
    "min": ("MIN({c})", "MIN({c})"),
    "max": ("MAX({c})", "MAX({c})"),
    "sum": ("SUM(CAST({c} AS BIGINT))", "SUM(CAST({c} AS BIGINT))"),
    "true": ("SUM(CASE WHEN {c} THEN 1 ELSE 0 END)", "SUM(CASE WHEN {c} THEN 1 ELSE 0 END)"),
    "length": ("SUM(LENGTH({c}))", "SUM(LENGTH({c}))"),
    "md5": ("SUM(STRTOL(LEFT(MD5({c}), 8), 16))", "SUM(CAST(CAST('x' || LEFT(MD5({c}), 8) AS BIT(32)) AS BIGINT))"),
}

def checksum_aggregates(spec: TableSpec) -> list[Aggregate]:
    aggregates = []
    for column in spec.columns:
        aggregates.append(Aggregate(column, "nonnull"))
        if column.unload_expression != _quoted(column.source):
            continue
        aggregates.extend(Aggregate(column, kind) for kind in checksum_kinds(column.target_type))
    return aggregates


def _select(table: sql.Composable, parts: list[sql.Composable]) -> sql.Composed:
    return sql.SQL("SELECT {} FROM {}").format(sql.SQL(", ").join([sql.SQL("COUNT(*)"), *parts]), table)


def source_aggregates(spec: TableSpec, aggregates: list[Aggregate]) -> tuple[sql.Composed, list[str]]:
    parts = [sql.SQL(_TEMPLATES[a.kind][0]).format(c=sql.Identifier(a.column.source)) for a in aggregates]
    return _select(spec.source.sql(), parts), [a.name for a in aggregates]


def target_aggregates(spec: TableSpec, aggregates: list[Aggregate],
                      table: sql.Composable | None = None) -> tuple[sql.Composed, list[str]]:
    parts = [sql.SQL(_TEMPLATES[a.kind][1]).format(c=sql.Identifier(a.column.target)) for a in aggregates]
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
