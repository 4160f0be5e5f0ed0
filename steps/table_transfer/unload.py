"""The Redshift side: count (and checksum) the source and UNLOAD it, in one transaction, then read the manifest.

Counting and unloading in the same transaction means both see the same snapshot (Redshift runs every
transaction serializable), so "rows in the source" and "rows unloaded" can be compared exactly.

Text format with ESCAPE is PostgreSQL's COPY text format with `|` as delimiter: ESCAPE backslash-escapes `\\`,
newline, carriage return and `|` inside character values. NULL AS is the run's random marker
(plan.new_null_marker), which holds none of those characters, so it reads the same whether or not Redshift
escapes it, and no value (`\\N`, 'NULL', '', a look-alike of the marker) can be taken for it.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import psycopg2
import psycopg2.errors
from psycopg2 import sql

from shared.config import Settings
from shared.errors import BadInputError, SourceError, TransientError
from shared.log import one_line, register_secret
from shared.objectstore import ObjectStore, aws_credentials
from shared.retry import is_transient
from steps.table_transfer.plan import TableSpec, TransferOptions, max_file_size_clause
from steps.table_transfer.verify import Aggregate, source_aggregates

DELIMITER = "|"
_COMPRESSION_KEYWORDS = {"gzip": "GZIP", "zstd": "ZSTD"}


class TableNotFound(SourceError):
    """The source table is gone (dropped since the schema was read)."""


@dataclass(frozen=True)
class Part:
    url: str
    size: int  # compressed bytes, from the manifest
    records: int | None


@dataclass
class Manifest:
    url: str
    parts: list[Part]
    record_count: int

    @property
    def bytes_compressed(self) -> int:
        return sum(p.size for p in self.parts)


def redshift_literal(value: str) -> sql.SQL:
    """A Redshift string literal. Redshift reads backslash escapes in plain literals and has no E'' strings
    (psycopg2's Literal would write E'..' against a server without standard_conforming_strings)."""
    return sql.SQL("'" + value.replace("\\", "\\\\").replace("'", "''") + "'")


def select_statement(spec: TableSpec, where: sql.Composable | None = None) -> sql.Composed:
    """The plan's select list; `where` (an incremental sync's cursor window, steps/table_transfer/sync_load.py)
    restricts the rows."""
    expressions = [sql.SQL(column.select_expression()) for column in spec.columns]
    statement = sql.SQL("SELECT {} FROM {}").format(sql.SQL(", ").join(expressions), spec.source.sql())
    return statement if where is None else sql.SQL("{} WHERE {}").format(statement, where)


def authorization_clause(settings: Settings) -> sql.Composed:
    """IAM_ROLE when R2A_UNLOAD_IAM_ROLE is set, else the resolved AWS keys (registered as secrets)."""
    if settings.s3.unload_iam_role:
        return sql.SQL("IAM_ROLE {}").format(redshift_literal(settings.s3.unload_iam_role))
    credentials = aws_credentials(settings.s3)
    for value in (credentials.access_key, credentials.secret_key, credentials.token):
        register_secret(value)
    clause = sql.SQL("ACCESS_KEY_ID {} SECRET_ACCESS_KEY {}").format(
        redshift_literal(credentials.access_key), redshift_literal(credentials.secret_key))
    if credentials.token:
        clause = sql.SQL("{} SESSION_TOKEN {}").format(clause, redshift_literal(credentials.token))
    return clause


# Up to this many rows (svv_table_info's estimate in tables.json) a table is unloaded serially: PARALLEL ON writes
# at least one file per slice (https://docs.aws.amazon.com/redshift/latest/dg/t_Unloading_tables.html), so a table of
# 50 rows became a part per slice, each copied, listed, loaded by its own COPY and deleted; PARALLEL OFF writes one
# file (more at MAXFILESIZE). 100,000 rows is about 20 MB of text: one or two parts. A staged load (several COPY
# sessions) wants the parts, so it keeps PARALLEL ON.
SERIAL_UNLOAD_MAX_ROWS = 100_000


def serial_unload(spec: TableSpec, options: TransferOptions) -> bool:
    return options.load_sessions == 1 and spec.estimated_rows <= SERIAL_UNLOAD_MAX_ROWS


def unload_statement(conn, spec: TableSpec, options: TransferOptions, prefix: str,
                     authorization: sql.Composable, where: sql.Composable | None = None) -> sql.Composed:
    select_text = select_statement(spec, where).as_string(conn)
    clauses = [sql.SQL("UNLOAD ({}) TO {}").format(redshift_literal(select_text), redshift_literal(prefix)),
               authorization, sql.SQL("MANIFEST VERBOSE")]
    if options.format == "csv":
        clauses.append(sql.SQL("FORMAT AS CSV"))
    else:
        clauses.append(sql.SQL("DELIMITER AS {} ESCAPE").format(redshift_literal(DELIMITER)))
    clauses.append(sql.SQL("NULL AS {}").format(redshift_literal(options.null_marker)))
    clauses.append(sql.SQL(_COMPRESSION_KEYWORDS[options.compression]))
    clauses.append(sql.SQL("PARALLEL OFF" if serial_unload(spec, options) else "PARALLEL ON"))
    if options.max_file_size:
        number, unit = max_file_size_clause(options.max_file_size)
        clauses.append(sql.SQL("MAXFILESIZE {} {}").format(sql.SQL(number), sql.SQL(unit)))
    return sql.SQL(" ").join(clauses)


def _source_error(exc: psycopg2.Error, spec: TableSpec, what: str) -> Exception:
    if isinstance(exc, psycopg2.errors.UndefinedTable):
        return TableNotFound(f"table not found: {spec.source} does not exist in Redshift")
    message = one_line(exc.pgerror or exc, 300)
    if is_transient(exc):
        return TransientError(f"{what} of {spec.source} failed: {message}")
    return SourceError(f"{what} of {spec.source} failed: {message}")


@dataclass
class SourceCount:
    """What the UNLOAD's transaction counted: the rows it unloads (a sync window's, or the whole table's), their
    checksums, MAX of a sync's cursor, and the whole table's count and checksums (the same as the first two
    unless a window is unloaded)."""

    rows: int
    checks: dict[str, object]
    high: object | None = None
    total: int = 0
    table_checks: dict[str, object] = field(default_factory=dict)


def count_source(cur, spec: TableSpec, aggregates: list[Aggregate], high_of: str | None = None,
                 window: sql.Composable | None = None) -> SourceCount:
    """Count (+ checksums, + MAX of the source column `high_of`) the table, and the rows of `window` (a condition
    on the cursor) too when one is given. Without checksums that is one scan: the window's count is a SUM beside
    the table's count."""
    also = (sql.SQL("MAX({})").format(sql.Identifier(high_of)),) if high_of else ()
    if window is not None and not aggregates:
        also += (sql.SQL("SUM(CASE WHEN {} THEN 1 ELSE 0 END)").format(window),)
    query, names = source_aggregates(spec, aggregates, also)
    cur.execute(query)
    values = cur.fetchone()
    total, table_checks = int(values[0]), dict(zip(names, values[1:1 + len(names)], strict=True))
    high = values[1 + len(names)] if high_of else None
    if window is None:
        return SourceCount(total, table_checks, high, total, table_checks)
    if not aggregates:
        return SourceCount(int(values[-1] or 0), {}, high, total, {})
    cur.execute(sql.SQL("{} WHERE {}").format(source_aggregates(spec, aggregates)[0], window))
    values = cur.fetchone()
    return SourceCount(int(values[0]), dict(zip(names, values[1:], strict=True)), high, total, table_checks)


def run_unload(conn, spec: TableSpec, options: TransferOptions, prefix: str, authorization: sql.Composable,
               checksum_aggregates: list[Aggregate], high_of: str | None = None,
               window: sql.Composable | None = None) -> SourceCount:
    """Count (count_source) and UNLOAD the table, or only the rows of `window`, in one transaction. When the count
    is 0 no UNLOAD runs: in the same snapshot it would write no row, and whether Redshift then writes empty parts or
    a manifest at all is not documented; the caller takes an empty manifest instead."""
    statement = unload_statement(conn, spec, options, prefix, authorization, window)
    try:
        with conn.cursor() as cur:
            counted = count_source(cur, spec, checksum_aggregates, high_of, window)
            if counted.rows:
                cur.execute(statement)
        conn.commit()
    except psycopg2.Error as exc:
        with contextlib.suppress(psycopg2.Error):  # a lost connection cannot roll back; the error is `exc`
            conn.rollback()
        raise _source_error(exc, spec, "UNLOAD") from None
    return counted


def _own_part(url: str, prefix: str) -> bool:
    name = url[len(prefix):] if url.startswith(prefix) else ""
    return bool(name) and "/" not in name and name != "manifest"


def read_manifest(store: ObjectStore, prefix: str) -> Manifest:
    """`<prefix>manifest`: the parts (entries[].url) and the record count (meta, else the entries' sum)."""
    url = prefix + "manifest"
    document = store.read_json(url)
    entries = document.get("entries") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise BadInputError(f"{url}: not an UNLOAD manifest (no 'entries' list)")
    parts = []
    for number, entry in enumerate(entries):
        part_url = entry.get("url") if isinstance(entry, dict) else None
        if not isinstance(part_url, str) or not _own_part(part_url, prefix):
            # Whoever can write the S3 prefix could point r2a (and its keys) at any other object.
            raise BadInputError(f"{url}: entries[{number}].url {str(part_url)[:200]!r} is not a part of this "
                                f"attempt (it must lie directly under {prefix})")
        meta = entry.get("meta") or {}
        parts.append(Part(part_url, int(meta.get("content_length") or 0), meta.get("record_count")))
    meta = document.get("meta") or {}
    if meta.get("record_count") is not None:
        total = int(meta["record_count"])
    elif all(p.records is not None for p in parts):
        total = sum(p.records for p in parts)
    else:
        raise BadInputError(f"{url}: the manifest has no record_count (UNLOAD needs MANIFEST VERBOSE)")
    return Manifest(url, parts, total)
