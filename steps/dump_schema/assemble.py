"""Catalog rows (as the queries in `queries.py` return them) → the catalog.json document. Pure functions."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from shared.identifiers import canonical_name, canonical_part, read_quoted
from steps.dump_schema import footprint
from steps.dump_schema.footprint import Cluster
from steps.dump_schema.queries import is_system_schema
from steps.dump_schema.rows import (
    ColumnRow,
    ConstraintRow,
    FunctionRow,
    GroupRow,
    RelationRow,
    SchemaRow,
    TableDefRow,
    TableInfoRow,
    TypeRow,
    UserRow,
    ViewTextRow,
    named,
)
from steps.dump_schema.showtext import read_show_table

DISTSTYLES = {0: "EVEN", 1: "KEY", 8: "ALL", 9: "AUTO", 10: "AUTO(ALL)", 11: "AUTO(EVEN)", 12: "AUTO(KEY)"}
VOLATILITY = {"i": "immutable", "s": "stable", "v": "volatile"}
# aclitem privilege letters (PostgreSQL's, which Redshift shares for these)
ACL_PRIVILEGES = {"r": "SELECT", "a": "INSERT", "w": "UPDATE", "d": "DELETE", "D": "TRUNCATE", "x": "REFERENCES",
                  "t": "TRIGGER", "X": "EXECUTE", "U": "USAGE", "C": "CREATE", "T": "TEMPORARY", "R": "RULE"}
_IDENTITY = re.compile(r"""^\s*"?identity"?\s*\(\s*\d+\s*,\s*\d+\s*,\s*'(-?\d+)\s*,\s*(-?\d+)'""", re.I)
_MATERIALIZED = re.compile(r"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?MATERIALIZED\s+VIEW\b", re.I)
_LATE_BINDING = re.compile(r"\bWITH\s+NO\s+SCHEMA\s+BINDING\b", re.I)


@dataclass
class Filters:
    schemas: tuple[str, ...] = ()
    exclude_schemas: tuple[str, ...] = ()
    tables: re.Pattern | None = None

    def schema_wanted(self, schema: str) -> bool:
        if is_system_schema(schema) or schema in self.exclude_schemas:
            return False
        return not self.schemas or schema in self.schemas

    def relation_wanted(self, schema: str, name: str) -> bool:
        return self.schema_wanted(schema) and (self.tables is None or bool(self.tables.search(f"{schema}.{name}")))


@dataclass
class CatalogRows:
    """Everything the constant set of catalog queries returned, each row named by its query's row type (rows.py)."""

    version: str
    database: str
    schemas: list[SchemaRow] = field(default_factory=list)
    relations: list[RelationRow] = field(default_factory=list)
    columns: list[ColumnRow] = field(default_factory=list)
    table_def: list[TableDefRow] = field(default_factory=list)
    table_info: list[TableInfoRow] = field(default_factory=list)
    constraints: list[ConstraintRow] = field(default_factory=list)
    functions: list[FunctionRow] = field(default_factory=list)
    types: list[TypeRow] = field(default_factory=list)
    views: list[ViewTextRow] = field(default_factory=list)
    users: list[UserRow] = field(default_factory=list)
    groups: list[GroupRow] = field(default_factory=list)
    redshift_only: list[tuple] = field(default_factory=list)     # (kind, *row): each kind's shape is its own
    cluster: Cluster | None = None  # stv_slices; None: unreadable

    def named(self) -> CatalogRows:
        """The same rows, each as its query's row type (rows given as plain tuples, as tests write them, too)."""
        return replace(self, **{name: named(row_type, getattr(self, name)) for name, row_type in ROW_TYPES.items()})


ROW_TYPES = {"schemas": SchemaRow, "relations": RelationRow, "columns": ColumnRow, "table_def": TableDefRow,
             "table_info": TableInfoRow, "constraints": ConstraintRow, "functions": FunctionRow, "types": TypeRow,
             "views": ViewTextRow, "users": UserRow, "groups": GroupRow}


def split_identifiers(text: str) -> list[str]:
    """`a, "B c", d` → ["a", "B c", "d"] (unquoted names fold to lower case, as Redshift does)."""
    names, i, n = [], 0, len(text)
    while i < n:
        if text[i] in " ,\t\n":
            i += 1
            continue
        if text[i] == '"':
            name, i = read_quoted(text, i)
            names.append(name)
        else:
            j = i
            while j < n and text[j] not in ",":
                j += 1
            names.append(text[i:j].strip().lower())
            i = j
    return names


def _parenthesized(text: str, start: int) -> tuple[str, int]:
    open_at = text.index("(", start)
    depth, quoted = 0, False
    for i in range(open_at, len(text)):
        ch = text[i]
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
            if depth == 0:
                return text[open_at + 1:i], i + 1
    raise ValueError(f"unbalanced parentheses in {text!r}")


def parse_constraint(name: str, contype: str, definition: str, ref_schema: str | None,
                     ref_table: str | None) -> dict[str, Any]:
    """A pg_get_constraintdef text (PRIMARY KEY (a, b) / UNIQUE (a) / FOREIGN KEY (a) REFERENCES t(b))."""
    kind = {"p": "primary_key", "u": "unique", "f": "foreign_key"}[contype]
    columns_text, end = _parenthesized(definition, 0)
    constraint: dict[str, Any] = {"name": name, "kind": kind, "columns": split_identifiers(columns_text)}
    if kind == "foreign_key":
        rest = definition[end:]
        ref_columns: list[str] = []
        if "(" in rest:
            ref_columns = split_identifiers(_parenthesized(rest, 0)[0])
        constraint["references"] = {"schema": ref_schema or "public", "table": ref_table or "",
                                    "columns": ref_columns}
    return constraint


def parse_acl(acl: Any) -> list[tuple[str, str, list[str]]]:
    """aclitem[] (a list or its text form) → [(grantee_kind, grantee, privileges)] (grant options dropped)."""
    if acl is None:
        return []
    items = acl if isinstance(acl, list) else _acl_items(str(acl))
    grants = []
    for item in items:
        grantee, _, rest = item.rpartition("=")
        privileges_text = rest.split("/", 1)[0].replace("*", "")
        privileges = sorted({ACL_PRIVILEGES[c] for c in privileges_text if c in ACL_PRIVILEGES})
        if not privileges:
            continue
        grantee = grantee.strip('"').replace('""', '"')
        if grantee == "":
            grants.append(("public", "public", privileges))
        elif grantee.startswith("group "):
            grants.append(("group", grantee[len("group "):], privileges))
        else:
            grants.append(("user", grantee, privileges))
    return grants


def _acl_items(text: str) -> list[str]:
    text = text.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    items, current, quoted, i = [], [], False, 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            current.append(text[i + 1])
            i += 2
            continue
        if ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            items.append("".join(current))
            current = []
            i += 1
            continue
        current.append(ch)
        i += 1
    if current:
        items.append("".join(current))
    return [item for item in items if item]


def _oids(value: Any) -> list[int]:
    if value is None:
        return []
    if isinstance(value, list):
        return [int(v) for v in value]
    return [int(v) for v in str(value).replace(",", " ").strip("{}").split()]


def _text_array(value: Any) -> list[str]:
    """A text[] as psycopg2 returns it (a list) or as its literal ('{a,b}'); NULL → []."""
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) if v is not None else "" for v in value]
    return [item.strip('"') for item in _acl_items(str(value))]


def _group_members(value: Any, users: dict[int, str]) -> list[str]:
    return sorted(users[o] for o in _oids(value) if o in users)


@dataclass
class Shows:
    """SHOW TABLE / SHOW VIEW / SHOW PROCEDURE texts by (schema, name) (procedures by (schema, name, types))."""

    tables: dict[tuple[str, str], str] = field(default_factory=dict)
    views: dict[tuple[str, str], str] = field(default_factory=dict)
    procedures: dict[tuple[str, str, tuple[str, ...]], str] = field(default_factory=dict)


def wanted_objects(rows: CatalogRows, filters: Filters) -> tuple[list[RelationRow], list[RelationRow],
                                                                  list[FunctionRow]]:
    """(tables, views, functions-and-procedures) rows to dump, sorted."""
    tables = [r for r in rows.relations if r.relkind == "r" and filters.relation_wanted(r.schema, r.name)]
    views = [r for r in rows.relations if r.relkind == "v" and filters.relation_wanted(r.schema, r.name)]
    routines = [r for r in rows.functions if filters.schema_wanted(r.schema)]
    return tables, views, routines


def routine_types(routine: FunctionRow, type_names: dict[int, str]) -> tuple[list[str], str]:
    return ([type_names.get(o, str(o)) for o in _oids(routine.argument_types)],
            type_names.get(int(routine.return_type), str(routine.return_type)))


def build_catalog(rows: CatalogRows, shows: Shows, filters: Filters, run_id: str, dumped_at: str) -> dict:
    rows = rows.named()
    tables_rows, views_rows, routines = wanted_objects(rows, filters)
    columns_by_oid: dict[int, list[ColumnRow]] = {}
    for column in rows.columns:
        columns_by_oid.setdefault(int(column.relation_oid), []).append(column)
    table_def = {(r.schema, r.table, r.column): r for r in rows.table_def}
    info = {(r.schema, r.table): r for r in rows.table_info}
    constraints_by_oid: dict[int, list[ConstraintRow]] = {}
    for constraint in rows.constraints:
        constraints_by_oid.setdefault(int(constraint.relation_oid), []).append(constraint)
    type_names = {int(t.oid): t.name for t in rows.types}
    users = {int(u.oid): u.name for u in rows.users}
    view_texts = {(v.schema, v.name): v.definition for v in rows.views if v.definition}
    grants: list[dict] = []

    schema_names = set()
    tables = []
    for relation in tables_rows:
        schema, name, owner = relation.schema, relation.name, relation.owner
        schema_names.add(schema)
        tables.append(_table(relation, columns_by_oid, table_def, info, constraints_by_oid,
                             shows.tables.get((schema, name), ""), rows.cluster))
        grants += _grants("table", schema, name, owner, relation.acl)
    views = []
    for relation in views_rows:
        schema, name = relation.schema, relation.name
        schema_names.add(schema)
        text = shows.views.get((schema, name)) or view_texts.get((schema, name), "")
        kind = "materialized_view" if _MATERIALIZED.match(text) else "view"
        views.append({"schema": schema, "name": name, "owner": relation.owner, "comment": relation.comment,
                      "kind": kind, "late_binding": bool(_LATE_BINDING.search(text)), "definition": text,
                      "columns": [{"name": c.name, "type": c.type} for c in columns_by_oid.get(int(relation.oid), [])],
                      "depends_on": []})
        grants += _grants(kind, schema, name, relation.owner, relation.acl)
    functions, procedures = [], []
    for routine in routines:
        schema, name, language, source = routine.schema, routine.name, routine.language, routine.source
        owner, comment = routine.owner, routine.comment
        schema_names.add(schema)
        argument_types, returns = routine_types(routine, type_names)
        names = _text_array(routine.argument_names)
        arguments = [{"type": t, **({"name": names[i]} if i < len(names) and names[i] else {})}
                     for i, t in enumerate(argument_types)]
        if language == "plpgsql":  # Redshift's stored procedures; its UDFs are SQL or Python
            definition = shows.procedures.get((schema, name, tuple(argument_types)), "")
            procedures.append({"schema": schema, "name": name, "owner": owner, "comment": comment,
                               "language": language, "arguments": arguments, "definition": definition or source})
        else:
            functions.append({"schema": schema, "name": name, "owner": owner, "comment": comment,
                              "language": language, "arguments": arguments, "returns": returns,
                              "volatility": VOLATILITY.get(routine.volatility, "volatile"), "body": source or ""})
    external = {row[2] for row in rows.redshift_only if row[0] == "external_schema"}  # (kind, None, schema, detail)
    schemas = []
    for namespace in rows.schemas:
        name = namespace.name
        if name in external:       # Redshift lists external schemas in pg_namespace too: reported below instead
            continue
        if filters.schema_wanted(name) and (name in schema_names or not filters.tables):
            schemas.append({"name": name, "owner": namespace.owner, "comment": namespace.comment})
            grants += _grants("schema", name, name, namespace.owner, namespace.acl)
    return {
        "format_version": 1, "run_id": run_id,
        "source": {"database": rows.database, "version": rows.version, "dumped_at": dumped_at},
        "schemas": schemas, "tables": tables, "views": views, "functions": functions, "procedures": procedures,
        "users": [{"name": u.name, "superuser": bool(u.superuser), "create_database": bool(u.create_database)}
                  for u in rows.users],
        "groups": [{"name": g.name, "members": _group_members(g.members, users)} for g in rows.groups],
        "grants": grants,
        "redshift_only": redshift_only(rows.redshift_only, filters),
    }


def redshift_only(rows: list[tuple], filters: Filters) -> list[dict]:
    """External schemas and tables, libraries, models, RLS policies, datashares, materialized views' AUTO REFRESH
    and the grants AlloyDB has no privilege for: listed so that the report names them. An object in a schema the
    filters leave out is left out with it. Names are Redshift's text: written in canonical_name's one spelling."""
    out: dict[tuple[str, str], dict] = {}
    for row in rows:
        shaped = _shape_redshift_only(row)
        if shaped is None:
            continue
        kind, schema, name, detail, home = shaped
        if home is not None and kind != "unreadable" and not filters.schema_wanted(str(home)):
            continue
        key = (kind, canonical_name(str(schema), str(name)) if schema else str(name))
        entry = out.setdefault(key, {"kind": kind, "name": key[1], "detail": None})
        if detail is not None:   # a grant's privileges come one row each: one entry lists them all
            listed = [] if entry["detail"] is None else entry["detail"].split(", ")
            entry["detail"] = ", ".join(sorted({*listed, str(detail)}))
    return sorted(out.values(), key=lambda o: (o["kind"], o["name"]))


_TRUE = ("t", "1", "true", "y", "yes")
# USAGE on these is PUBLIC's by default in PostgreSQL and AlloyDB as well: nothing lost
_DEFAULT_LANGUAGES = ("sql", "plpgsql")


def _grantee(identity_type: Any, identity_name: Any) -> str:
    kind = str(identity_type or "").strip().lower()
    name = str(identity_name or "").strip()
    return "public" if kind == "public" else f"{kind} {canonical_part(name)}".strip()


def _shape_redshift_only(row: tuple) -> tuple[str, str | None, str, str | None, str | None] | None:
    """(kind, schema, name, detail, home schema) of one row of queries.REDSHIFT_ONLY; None for a row that is no
    object to report (a materialized view without AUTO REFRESH, the default USAGE on SQL). The home schema is the
    one the schema filters judge (None: always listed)."""
    kind = row[0]
    if kind == "auto_refresh":
        _, schema, name, flag = row
        return (kind, schema, name, None, schema) if str(flag).strip().lower() in _TRUE or flag is True else None
    if kind == "assumerole":
        _, arn, command, identity_type, identity_name = row
        return kind, None, f"{arn} to {_grantee(identity_type, identity_name)}", command, None
    if kind == "system_privilege":
        _, privilege, identity_type, identity_name = row
        return kind, None, f"{privilege} to {_grantee(identity_type, identity_name)}", None, None
    if kind == "table_privilege":
        _, schema, table, privilege, identity_type, identity_name = row
        return kind, None, f"{canonical_name(str(schema), str(table))} to {_grantee(identity_type, identity_name)}", \
            privilege, schema
    if kind == "language_privilege":
        _, language, privilege, identity_type, identity_name = row
        if str(language).lower() in _DEFAULT_LANGUAGES and str(identity_type).lower() == "public":
            return None
        return kind, None, f"{canonical_part(str(language))} to {_grantee(identity_type, identity_name)}", privilege, \
            None
    if kind == "rls_table":
        _, schema, table, conjunction = row
        return kind, schema, table, f"policies combined with {str(conjunction or 'and').strip().upper()}", schema
    if kind == "rls_attachment":
        _, schema, table, policy, grantee_kind, grantee = row
        return kind, None, (f"{canonical_part(str(policy))} on {canonical_name(str(schema), str(table))} "
                            f"to {_grantee(grantee_kind, grantee)}"), None, schema
    _, schema, name, detail = row
    return kind, schema, name, detail, name if kind == "external_schema" else schema


def _grants(kind: str, schema: str, name: str, owner: str | None, acl: Any) -> list[dict]:
    return [{"object_kind": kind, "schema": schema, "name": name, "grantee": grantee, "grantee_kind": grantee_kind,
             "privileges": privileges}
            for grantee_kind, grantee, privileges in parse_acl(acl)
            if not (grantee_kind == "user" and grantee == owner)]


def _table(relation: RelationRow, columns_by_oid: dict[int, list[ColumnRow]],
           table_def: dict[tuple[str, str, str], TableDefRow], info: dict[tuple[str, str], TableInfoRow],
           constraints_by_oid: dict[int, list[ConstraintRow]], show: str, cluster: Cluster | None = None) -> dict:
    oid, schema, name, diststyle = int(relation.oid), relation.schema, relation.name, relation.diststyle
    columns = []
    interleaved = False
    shown = read_show_table(show)
    for column in columns_by_oid.get(oid, []):
        attname, default = column.name, column.default
        definition = table_def.get((schema, name, attname))
        # pg_table_def.encoding is char(32) on Redshift: blank-padded
        encoding, distkey, sortkey = ((definition.encoding or "").strip(), bool(definition.distkey),
                                      int(definition.sortkey or 0)) if definition else (None, False, 0)
        interleaved = interleaved or sortkey < 0
        identity = None
        match = _IDENTITY.match(default or "")
        if match:
            identity, default = {"seed": int(match.group(1)), "step": int(match.group(2))}, None
        columns.append({"name": attname, "position": int(column.position), "type": column.type,
                        "nullable": not column.not_null, "default": default, "identity": identity,
                        "encoding": encoding if encoding not in (None, "") else None, "distkey": distkey,
                        "sortkey_position": abs(sortkey) or None, "comment": column.comment,
                        "collation": shown.collations.get(attname)})
    stats = info.get((schema, name))
    style = DISTSTYLES.get(int(diststyle)) if diststyle is not None and str(diststyle).lstrip("-").isdigit() \
        else None
    if style is None and stats is not None and stats.diststyle:
        style = str(stats.diststyle).split("(")[0].upper()
    has_sortkey = any(c["sortkey_position"] for c in columns)
    estimated_rows = max(0, int(stats.estimated_visible_rows if stats.estimated_visible_rows is not None
                                else stats.rows or 0)) if stats else 0
    redshift_size = float(stats.size_mb or 0) if stats else 0.0
    minimum = None if cluster is None or not stats else footprint.minimum_mb(
        cluster, len(columns), stats.diststyle, has_sortkey, int(stats.rows or estimated_rows))
    return {
        "schema": schema, "name": name, "owner": relation.owner, "comment": relation.comment, "diststyle": style,
        "sortkey_style": ("interleaved" if interleaved else "compound") if has_sortkey else None,
        "backup": shown.backup,
        "estimated_rows": estimated_rows,
        "size_mb": footprint.data_mb(redshift_size, minimum),  # the data: what the plan sizes the table by
        "redshift_size_mb": redshift_size,
        "columns": columns,
        "constraints": [parse_constraint(c.name, c.contype, c.definition, c.referenced_schema, c.referenced_table)
                        for c in constraints_by_oid.get(oid, [])],
    }
