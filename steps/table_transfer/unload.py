"""The Redshift side: count (and checksum) the source and UNLOAD it, in one transaction, then read the manifest.

Counting and unloading in the same transaction means both see the same snapshot (Redshift runs every
transaction serializable), so "rows in the source" and "rows unloaded" can be compared exactly.

Text format with ESCAPE and `NULL AS '\\N'` is PostgreSQL's COPY text format with `|` as delimiter: ESCAPE
backslash-escapes `\\`, newline, carriage return and `|` inside character values, so the NULL marker `\\N`,
the text `\\N` (written `\\\\N`), the text 'NULL' and '' all stay distinct.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import psycopg2
import psycopg2.errors
from psycopg2 import sql

from shared.config import Settings
from shared.errors import BadInputError, SourceError, TransientError
from shared.log import redact, register_secret
from shared.objectstore import ObjectStore, aws_credentials
from shared.retry import is_transient
from steps.table_transfer.plan import TableSpec, TransferOptions, max_file_size_clause
from steps.table_transfer.verify import Aggregate, source_aggregates

NULL_MARKER = "\\N"
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


def select_statement(spec: TableSpec) -> sql.Composed:
    expressions = [sql.SQL(column.select_expression()) for column in spec.columns]
    return sql.SQL("SELECT {} FROM {}").format(sql.SQL(", ").join(expressions), spec.source.sql())


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


def unload_statement(conn, spec: TableSpec, options: TransferOptions, prefix: str,
                     authorization: sql.Composable) -> sql.Composed:
    select_text = select_statement(spec).as_string(conn)
    clauses = [sql.SQL("UNLOAD ({}) TO {}").format(redshift_literal(select_text), redshift_literal(prefix)),
               authorization, sql.SQL("MANIFEST VERBOSE")]
    if options.format == "csv":
        clauses.append(sql.SQL("FORMAT AS CSV"))
    else:
        clauses.append(sql.SQL("DELIMITER AS {} ESCAPE").format(redshift_literal(DELIMITER)))
    clauses.append(sql.SQL("NULL AS {}").format(redshift_literal(NULL_MARKER)))
    clauses.append(sql.SQL(_COMPRESSION_KEYWORDS[options.compression]))
    clauses.append(sql.SQL("PARALLEL ON"))
    if options.max_file_size:
        number, unit = max_file_size_clause(options.max_file_size)
        clauses.append(sql.SQL("MAXFILESIZE {} {}").format(sql.SQL(number), sql.SQL(unit)))
    return sql.SQL(" ").join(clauses)


def _source_error(exc: psycopg2.Error, spec: TableSpec, what: str) -> Exception:
    if isinstance(exc, psycopg2.errors.UndefinedTable):
        return TableNotFound(f"table not found: {spec.source} does not exist in Redshift")
    # Redacted before it is cut: a key cut in half would no longer match the registered secret.
    message = redact(" ".join((exc.pgerror or str(exc)).split()))[:300]
    if is_transient(exc):
        return TransientError(f"{what} of {spec.source} failed: {message}")
    return SourceError(f"{what} of {spec.source} failed: {message}")


def run_unload(conn, spec: TableSpec, options: TransferOptions, prefix: str, authorization: sql.Composable,
               checksum_aggregates: list[Aggregate]) -> tuple[int, dict[str, object]]:
    """Count (+ checksums) and UNLOAD in one transaction; returns (source rows, source checksum values)."""
    count_query, names = source_aggregates(spec, checksum_aggregates)
    statement = unload_statement(conn, spec, options, prefix, authorization)
    try:
        with conn.cursor() as cur:
            cur.execute(count_query)
            values = cur.fetchone()
            cur.execute(statement)
        conn.commit()
    except psycopg2.Error as exc:
        with contextlib.suppress(psycopg2.Error):  # a lost connection cannot roll back; the error is `exc`
            conn.rollback()
        raise _source_error(exc, spec, "UNLOAD") from None
    return int(values[0]), dict(zip(names, values[1:], strict=True))


def read_manifest(store: ObjectStore, prefix: str) -> Manifest:
    """`<prefix>manifest`: the parts (entries[].url) and the record count (meta, else the entries' sum)."""
    url = prefix + "manifest"
    document = store.read_json(url)
    entries = document.get("entries") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise BadInputError(f"{url}: not an UNLOAD manifest (no 'entries' list)")
    parts = []
    for entry in entries:
        meta = entry.get("meta") or {}
        parts.append(Part(entry["url"], int(meta.get("content_length") or 0), meta.get("record_count")))
    meta = document.get("meta") or {}
    if meta.get("record_count") is not None:
        total = int(meta["record_count"])
    elif all(p.records is not None for p in parts):
        total = sum(p.records for p in parts)
    else:
        raise BadInputError(f"{url}: the manifest has no record_count (UNLOAD needs MANIFEST VERBOSE)")
    return Manifest(url, parts, total)
