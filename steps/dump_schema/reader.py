"""Reads the Redshift catalog over one connection: the constant set of queries, then one SHOW per table, view
and procedure. A SHOW that fails for one object is recorded (its text stays empty) instead of stopping the dump.

Other sessions create and drop tables while this runs. Everything is read in one transaction, whose snapshot is
taken at its first SELECT (https://docs.aws.amazon.com/redshift/latest/dg/c_serial_isolation.html), and the
relations and columns are read again at the end: only a read whose start and end agree is used, else the whole
read is repeated. So the catalog is the state before or after a concurrent CREATE or DROP, never a table without
columns or a view without its base table, whether or not Redshift's catalog tables follow the snapshot (AWS has
said that they are not locked in a transaction and that DDL is visible to other transactions on commit)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import psycopg2
from psycopg2 import sql

from shared.errors import SourceError, TransientError
from shared.log import event, one_line
from steps.dump_schema import queries
from steps.dump_schema.assemble import ROW_TYPES, CatalogRows, Filters, Shows, routine_types, wanted_objects
from steps.dump_schema.footprint import Cluster
from steps.dump_schema.rows import ColumnRow, FunctionRow, RelationRow, named

MAX_READS = 3
ACTIVE_SQL_TRANSACTION = "25001"  # "cannot run inside a transaction block"
_CONNECTION_LOST = ("server closed the connection", "connection already closed", "terminating connection",
                    "could not receive data", "SSL SYSCALL error", "connection not open")


@dataclass
class ShowFailures:
    """Objects whose SHOW failed: (kind, name, error)."""

    items: list[tuple[str, str, str]] = field(default_factory=list)


def _error(what: str, exc: psycopg2.Error) -> Exception:
    text = one_line(exc, 300)
    if isinstance(exc, psycopg2.OperationalError) or any(s in text for s in _CONNECTION_LOST):
        return TransientError(f"the connection to Redshift was lost during {what}: {text}")
    return SourceError(f"Redshift refused {what}: {text}")


def _fetch(cur, what: str, query, params=None) -> list[tuple]:
    try:
        cur.execute(query, params)
        return cur.fetchall()
    except psycopg2.Error as exc:
        raise _error(f"the catalog query for {what}", exc) from None


# (CatalogRows field, what it is in an error line, query); pg_table_def and the Redshift-only views follow them
CATALOG_QUERIES = (
    ("schemas", "schemas", queries.SCHEMAS),
    ("relations", "relations", queries.RELATIONS),
    ("columns", "columns", queries.COLUMNS),
    ("table_info", "table sizes (svv_table_info)", queries.TABLE_INFO),
    ("constraints", "constraints", queries.CONSTRAINTS),
    ("views", "view definitions", queries.VIEWS),
    ("functions", "functions and procedures", queries.FUNCTIONS),
    ("types", "types", queries.TYPES),
    ("users", "users", queries.USERS),
    ("groups", "groups", queries.GROUPS),
)


def read_catalog_rows(conn, filters: Filters) -> CatalogRows:
    with conn.cursor() as cur:
        version, database = _fetch(cur, "the version", queries.VERSION)[0]
        rows = CatalogRows(version=version, database=database)
        for field, what, query in CATALOG_QUERIES:
            setattr(rows, field, named(ROW_TYPES[field], _fetch(cur, what, query)))
        schemas = sorted({r.name for r in rows.schemas if filters.schema_wanted(r.name)})
        if schemas:
            # pg_table_def shows only the schemas on the search_path
            _fetch_none(cur, "the search path", sql.SQL("SET search_path TO {}").format(
                sql.SQL(", ").join(sql.Identifier(s) for s in schemas)))
            rows.table_def = named(ROW_TYPES["table_def"], _fetch(cur, "column encodings and keys (pg_table_def)",
                                                                  queries.TABLE_DEF))
            _fetch_none(cur, "the search path", sql.SQL("RESET search_path"))
        rows.redshift_only = _redshift_only(cur)   # last: a view it cannot read ends the transaction
        rows.cluster = _cluster(cur)
    return rows


def _cluster(cur) -> Cluster | None:
    """The cluster's slices and nodes; None when STV_SLICES cannot be read or shows none (a user it hides them
    from), and then table sizes are taken as svv_table_info says."""
    try:
        cur.execute(queries.CLUSTER_SLICES)
        slices, nodes = cur.fetchone()
    except psycopg2.Error as exc:
        error = _error("the catalog query for stv_slices", exc)
        if isinstance(error, TransientError):
            raise error from None
        if not cur.connection.autocommit:
            cur.connection.rollback()
        event("catalog.unreadable", view="stv_slices", error=one_line(exc, 200))
        return None
    return Cluster(int(slices), int(nodes)) if slices and nodes else None


def _redshift_only(cur) -> list[tuple]:
    """Rows of every REDSHIFT_ONLY view, each as (kind, *row); a view this user may not read, or that an older
    cluster lacks, becomes one `unreadable` entry, so the report says what could not be checked instead of staying
    silent. The failed statement aborted the transaction (Redshift has no savepoints): it is rolled back and the
    next view is read in a new one; catalog_changes still compares the relations read first with the final state."""
    found = []
    for kind, (view, query) in queries.REDSHIFT_ONLY.items():
        try:
            cur.execute(query)
            found += [(kind, *row) for row in cur.fetchall()]
        except psycopg2.Error as exc:
            error = _error(f"the catalog query for {view}", exc)
            if isinstance(error, TransientError):
                raise error from None
            if not cur.connection.autocommit:
                cur.connection.rollback()
            text = one_line(exc, 200)
            event("catalog.unreadable", view=view, error=text)
            found.append(("unreadable", None, view, f"{kind.replace('_', ' ')}s not listed: {text}"))
    return found


def _fetch_none(cur, what: str, query) -> None:
    try:
        cur.execute(query)
    except psycopg2.Error as exc:
        raise _error(f"setting {what}", exc) from None


def _show(cur, kind: str, target: sql.Composable, label: str, failures: ShowFailures) -> str:
    try:
        cur.execute(sql.SQL("SHOW {} {}").format(sql.SQL(kind), target))
        return "\n".join(str(r[0]) for r in cur.fetchall() if r and r[0] is not None).strip()
    except psycopg2.Error as exc:
        error = _error(f"SHOW {kind} {label}", exc)
        if isinstance(error, TransientError):
            raise error from None
        conn = cur.connection
        if exc.pgcode == ACTIVE_SQL_TRANSACTION and not conn.autocommit:
            # not allowed in a transaction here: the SHOWs run on their own; the final re-read still checks
            # that the catalog did not change meanwhile
            conn.rollback()
            conn.autocommit = True
            event("show.outside_transaction", object_kind=kind.lower(), object=label)
            return _show(cur, kind, target, label, failures)
        conn.rollback()  # the failed statement ended the transaction; the next SHOW starts another
        failures.items.append((kind.lower(), label, one_line(exc, 300)))
        event("show.failed", object_kind=kind.lower(), object=label, error=failures.items[-1][2])
        return ""


def read_shows(conn, rows: CatalogRows, filters: Filters) -> tuple[Shows, ShowFailures]:
    rows = rows.named()
    tables, views, routines = wanted_objects(rows, filters)
    type_names = {int(t.oid): t.name for t in rows.types}
    shows, failures = Shows(), ShowFailures()
    with conn.cursor() as cur:
        for row in tables:
            schema, name = row.schema, row.name
            shows.tables[(schema, name)] = _show(cur, "TABLE", sql.Identifier(schema, name), f"{schema}.{name}",
                                                 failures)
        for row in views:
            schema, name = row.schema, row.name
            shows.views[(schema, name)] = _show(cur, "VIEW", sql.Identifier(schema, name), f"{schema}.{name}",
                                                failures)
        for routine in _procedures(routines):
            schema, name = routine.schema, routine.name
            types, _ = routine_types(routine, type_names)
            target = sql.SQL("{}({})").format(sql.Identifier(schema, name),
                                              sql.SQL(", ").join(sql.SQL(t) for t in _plain_types(types)))
            shows.procedures[(schema, name, tuple(types))] = _show(cur, "PROCEDURE", target,
                                                                   f"{schema}.{name}({', '.join(types)})", failures)
    return shows, failures


def _procedures(routines: Iterable[FunctionRow]) -> list[FunctionRow]:
    return [r for r in routines if r.language == "plpgsql"]


def _plain_types(types: list[str]) -> list[str]:
    """pg_type names (int4, varchar, …) are plain words; anything else is refused rather than pasted into SQL."""
    for name in types:
        if not name.replace("_", "").isalnum():
            raise SourceError(f"unexpected type name {name!r} in a procedure signature")
    return types


def read_consistent(conn, filters: Filters) -> tuple[CatalogRows, Shows, ShowFailures, int]:
    """The catalog rows and SHOW texts of one unchanged state of the catalog (see the module's docstring), and how
    many reads that took."""
    changes: list[str] = []
    for attempt in range(1, MAX_READS + 1):
        conn.autocommit = False
        try:
            rows = read_catalog_rows(conn, filters)
            shows, failures = read_shows(conn, rows, filters)
            changes = catalog_changes(conn, rows)
        finally:
            _end_transaction(conn)
        if not changes:
            return rows, shows, failures, attempt
        event("catalog.changed", attempt=attempt, changes=changes[:10])
    raise TransientError(f"the Redshift catalog changed during each of {MAX_READS} reads (last: "
                         f"{', '.join(changes[:5])})", "run dump_schema again when fewer tables are being changed")


def _end_transaction(conn) -> None:
    if conn.closed:
        return
    try:
        conn.rollback()  # nothing was written
    except psycopg2.Error:
        pass
    conn.autocommit = True


def _shape(relations: list[tuple], columns: list[tuple]) -> tuple[dict[int, str], dict[int, list[tuple]]]:
    names = {int(r.oid): f"{r.schema}.{r.name} ({r.relkind})" for r in named(RelationRow, relations)}
    by_oid: dict[int, list[tuple]] = {}
    for column in named(ColumnRow, columns):
        by_oid.setdefault(int(column.relation_oid), []).append((column.position, column.name, column.type))
    return names, by_oid


def catalog_changes(conn, rows: CatalogRows) -> list[str]:
    """What differs between the relations and columns read first and the same queries now: [] when unchanged."""
    with conn.cursor() as cur:
        relations = _fetch(cur, "relations", queries.RELATIONS)
        columns = _fetch(cur, "columns", queries.COLUMNS)
    before_names, before_columns = _shape(rows.relations, rows.columns)
    after_names, after_columns = _shape(relations, columns)
    changes = [f"created {after_names[o]}" for o in sorted(set(after_names) - set(before_names))]
    changes += [f"dropped {before_names[o]}" for o in sorted(set(before_names) - set(after_names))]
    changes += [f"altered {after_names[o]}" for o in sorted(set(before_names) & set(after_names))
                if before_names[o] != after_names[o] or before_columns.get(o) != after_columns.get(o)]
    return changes
