"""views.sql: SQL functions, then views and materialized views in dependency order, then procedures.

View and function bodies are translated with `expressions.translate`; procedure bodies (PL/pgSQL) are carried
as written under a generated header. Anything that cannot move still gets a block (a comment carrying the
reason, marked unsupported) so validate_restore and the report account for it.
"""

from __future__ import annotations

import re

from shared.documents.catalog import Argument, Function, Procedure, View
from shared.errors import BadInputError
from shared.identifiers import TableRef, canonical_name, read_quoted
from shared.ordering import dependency_order
from shared.redshift_types import UnknownTypeError, map_type
from steps.rewrite_ddl.expressions import COMPAT_SCHEMA, ColumnLookup, translate
from steps.rewrite_ddl.names import NamePlan
from steps.rewrite_ddl.output import ObjectEntry, RewriteOutput, status_for
from steps.rewrite_ddl.overrides import Overrides
from steps.rewrite_ddl.queries import RelationColumns, no_relation_columns, output_names, select_list_names
from steps.rewrite_ddl.sqltext import dollar_quoted, ident, literal, qualified

_CREATE_VIEW = re.compile(r"^\s*create\s+(?:or\s+replace\s+)?(?:materialized\s+)?view\s+", re.I)
_NO_SCHEMA_BINDING = re.compile(r"\s+with\s+no\s+schema\s+binding\s*;?\s*$", re.I)
_AS = re.compile(r"\bas\b", re.I)
PYTHON_LANGUAGES = ("plpythonu", "plpython", "plpython3u")


def _skip_name(text: str, i: int) -> int:
    """Index after a (possibly qualified, possibly quoted) name starting at text[i]."""
    n = len(text)
    while i < n:
        if text[i] == '"':
            try:
                _, i = read_quoted(text, i)
            except BadInputError:           # an unterminated quote runs to the end of the text
                return n
        else:
            while i < n and (text[i].isalnum() or text[i] in "_$#"):
                i += 1
        if i < n and text[i] == ".":
            i += 1
            continue
        return i
    return i


def _balanced(text: str, i: int) -> int:
    """Index after the parenthesized group opening at text[i]."""
    depth = 0
    for j in range(i, len(text)):
        if text[j] == "(":
            depth += 1
        elif text[j] == ")":
            depth -= 1
            if depth == 0:
                return j + 1
    return len(text)


def split_view_definition(definition: str) -> tuple[str, list[str] | None]:
    """The SELECT of a `CREATE [MATERIALIZED] VIEW … AS …` text (or of a bare SELECT) and its column list."""
    text = _NO_SCHEMA_BINDING.sub("", definition.strip()).rstrip().rstrip(";").rstrip()
    head = _CREATE_VIEW.match(text)
    if not head:
        return text, None
    i = _skip_name(text, head.end())
    while i < len(text) and text[i].isspace():
        i += 1
    columns = None
    if i < len(text) and text[i] == "(":
        end = _balanced(text, i)
        columns = [c.strip() for c in text[i + 1:end - 1].split(",") if c.strip()]
        i = end
    # Redshift options (BACKUP, DISTSTYLE, DISTKEY(c), SORTKEY(c), AUTO REFRESH) come before AS; skip groups.
    while i < len(text):
        if text[i] == "(":
            i = _balanced(text, i)
            continue
        match = _AS.match(text, i)
        if match and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            return text[match.end():].strip(), columns
        i += 1
    return text, columns


def _column_name(raw: str) -> str:
    if raw.startswith('"') and raw.endswith('"'):
        return raw[1:-1].replace('""', '"')
    return raw.lower()


def _view_order(views: list[View], deps: dict[TableRef, set[TableRef]]) -> list[View]:
    """Dependencies first; among the ready ones, by name (deterministic); a cycle ends in name order."""
    by_ref = {TableRef(v.schema, v.name): v for v in views}
    return [by_ref[ref] for ref in dependency_order(by_ref, deps)]


def _view_columns(views: list[View], table_columns: RelationColumns) -> RelationColumns:
    """Columns of tables (with types) and of views (names only: their column list, else their select list, with
    `SELECT *` expanded through the tables and views it reads)."""
    bodies = {TableRef(v.schema, v.name): split_view_definition(v.definition) for v in views}
    names: dict[TableRef, list[str] | None] = {}
    resolving: set[TableRef] = set()

    def view_names(ref: TableRef) -> list[str] | None:
        if ref not in names:
            body, columns = bodies[ref]
            if columns:
                names[ref] = [_column_name(c) for c in columns]
            elif ref in resolving:  # a view reading itself through others: no names rather than a loop
                return None
            else:
                resolving.add(ref)
                names[ref] = select_list_names(body) or output_names(body, lookup)
                resolving.discard(ref)
        return names[ref]

    def lookup(ref: TableRef) -> dict[str, str] | None:
        if ref in bodies:
            listed = view_names(ref)
            return None if listed is None else dict.fromkeys(listed, "")
        return table_columns(ref)
    return lookup


# Redshift's system tables and views (stl_*, stv_*, svl_*, svv_*, svcs_*, sys_*, pg_table_def): AlloyDB has none
_SYSTEM_RELATION = re.compile(r"^(stl|stv|svl|svv|svcs|sys)_|^pg_table_def$")


def _missing_reason(view: View, missing: set[TableRef]) -> str:
    system = sorted(ref.table for ref in missing if ref.schema == "public" and _SYSTEM_RELATION.match(ref.table))
    if system:
        return f"reads Redshift system view(s) {', '.join(system)}, which AlloyDB does not have"
    listed = ", ".join(str(ref) for ref in sorted(missing))
    if view.late_binding:
        return f"late-binding view references {listed}, which the catalog does not have"
    return f"view references {listed}, which is not migrated"


def rewrite_views(views: list[View], plan: NamePlan, overrides: Overrides, renamed_columns: ColumnLookup,
                  out: RewriteOutput, table_columns: RelationColumns = no_relation_columns) -> None:
    translated = {}
    deps: dict[TableRef, set[TableRef]] = {}
    relation_columns = _view_columns(views, table_columns)
    for view in views:
        ref = TableRef(view.schema, view.name)
        body, columns = split_view_definition(view.definition)
        translation = translate(body, plan.relation, columns=renamed_columns, postgis=overrides.postgis,
                                relation_columns=relation_columns)
        translated[ref] = (body, columns, translation)
        deps[ref] = set(translation.relations)
    for view in _view_order(views, deps):
        ref = TableRef(view.schema, view.name)
        body, columns, translation = translated[ref]
        target = plan.relation(ref)
        assert target is not None
        changes = list(translation.changes)
        if view.late_binding:
            changes.append("late-binding view (WITH NO SCHEMA BINDING) -> ordinary view")
        if target.table != view.name or target.schema != plan.schemas.get(view.schema, view.schema):
            changes.append(f"renamed to {target}")
        depends = sorted({canonical_name(view.schema), *(str(r) for r in translation.relations if r != ref),
                          *(f"{COMPAT_SCHEMA}.{f}" for f in translation.compat)})
        name = str(ref)
        if translation.sql is None or translation.unsupported or translation.missing:
            reason = (_missing_reason(view, translation.missing) if translation.missing
                      else f"view definition: {translation.unsupported}")
            out.add(out.views, ObjectEntry(view.kind, name, str(target), "unsupported", reason, changes, depends),
                    f"-- {name}: {reason}")
            continue
        out.compat_used |= translation.compat
        column_list = ""
        if columns:
            column_list = " (" + ", ".join(ident(_column_name(c)) for c in columns) + ")"
        if view.kind == "materialized_view":
            changes.append("created WITH NO DATA; load_schema refreshes it after the load")
            sql = f"CREATE MATERIALIZED VIEW {qualified(target)}{column_list} AS\n{translation.sql}\nWITH NO DATA;"
            what = "MATERIALIZED VIEW"
        else:
            sql = f"CREATE VIEW {qualified(target)}{column_list} AS\n{translation.sql};"
            what = "VIEW"
        if view.comment:
            sql += f"\nCOMMENT ON {what} {qualified(target)} IS {literal(view.comment)};"
        out.add(out.views, ObjectEntry(view.kind, name, str(target), status_for(changes), None, changes, depends),
                sql)


def _signature(schema: str, name: str, arguments: list[Argument]) -> str:
    return f"{canonical_name(schema, name)}({', '.join(a.type for a in arguments)})"


def _arguments(arguments: list[Argument], postgis: bool, named: bool) -> tuple[str | None, str | None]:
    """The PostgreSQL argument list, or (None, reason)."""
    parts = []
    for argument in arguments:
        try:
            mapped = map_type(argument.type, postgis=postgis)
        except UnknownTypeError as exc:
            return None, str(exc)
        if mapped.unsupported:
            return None, f"argument type: {mapped.unsupported}"
        mode = f"{argument.mode.upper()} " if argument.mode != "in" else ""
        label = f"{ident(argument.name)} " if named and argument.name else ""
        parts.append(f"{mode}{label}{mapped.target}")
    return ", ".join(parts), None


def rewrite_functions(functions: list[Function], plan: NamePlan, overrides: Overrides, columns: ColumnLookup,
                      out: RewriteOutput, table_columns: RelationColumns = no_relation_columns) -> None:
    for function in sorted(functions, key=lambda f: (f.schema, f.name, [a.type for a in f.arguments])):
        name = _signature(function.schema, function.name, function.arguments)
        target_schema = plan.schemas[function.schema]
        target_name = canonical_name(target_schema, function.name)
        depends = [canonical_name(function.schema)]
        language = function.language.lower()
        reason = None
        if language in PYTHON_LANGUAGES:
            reason = f"Python UDF ({language}) has no PostgreSQL equivalent in AlloyDB"
        elif language != "sql":
            reason = f"functions in language {language} are not carried"
        arguments, why = _arguments(function.arguments, overrides.postgis, named=False)
        returns = None
        if reason is None and arguments is None:
            reason = why
        if reason is None:
            try:
                returns = map_type(function.returns, postgis=overrides.postgis).target
            except UnknownTypeError as exc:
                reason = f"return type: {exc}"
            if reason is None and returns is None:
                reason = f"return type {function.returns} has no PostgreSQL equivalent"
        translation = translate(function.body, plan.relation, columns=columns, postgis=overrides.postgis,
                                relation_columns=table_columns) if reason is None else None
        if translation is not None and (translation.sql is None or translation.unsupported):
            reason = f"function body: {translation.unsupported}"
        if reason is not None:
            out.add(out.views, ObjectEntry("function", name, None, "unsupported", reason, [], depends),
                    f"-- {name}: {reason}")
            continue
        assert translation is not None and translation.sql is not None
        out.compat_used |= translation.compat
        depends += sorted({*(str(r) for r in translation.relations),
                           *(f"{COMPAT_SCHEMA}.{f}" for f in translation.compat)})
        volatility = function.volatility.upper()
        sql = (f"CREATE FUNCTION {ident(target_schema)}.{ident(function.name)}({arguments}) RETURNS {returns}\n"
               f"    LANGUAGE sql {volatility} AS {dollar_quoted(' ' + translation.sql + ' ')};")
        if function.comment:
            sql += (f"\nCOMMENT ON FUNCTION {ident(target_schema)}.{ident(function.name)}({arguments}) IS "
                    f"{literal(function.comment)};")
        out.add(out.views, ObjectEntry("function", name, target_name, status_for(translation.changes), None,
                                       list(translation.changes), depends), sql)


_DOLLAR_BODY = re.compile(r"(\$[A-Za-z0-9_]*\$)(.*)\1", re.S)


def rewrite_procedures(procedures: list[Procedure], plan: NamePlan, overrides: Overrides,
                       out: RewriteOutput) -> None:
    for procedure in sorted(procedures, key=lambda p: (p.schema, p.name, [a.type for a in p.arguments])):
        name = _signature(procedure.schema, procedure.name, procedure.arguments)
        target_schema = plan.schemas[procedure.schema]
        depends = [canonical_name(procedure.schema)]
        language = procedure.language.lower()
        arguments, why = _arguments(procedure.arguments, overrides.postgis, named=True)
        reason = why if arguments is None else None
        if language != "plpgsql":
            reason = f"procedures in language {language} are not carried"
        if reason is not None:
            out.add(out.views, ObjectEntry("procedure", name, None, "unsupported", reason, [], depends),
                    f"-- {name}: {reason}")
            continue
        match = _DOLLAR_BODY.search(procedure.definition)
        body = match.group(2) if match else procedure.definition
        changes = ["PL/pgSQL body carried as written: Redshift-only functions inside it are not translated"]
        sql = (f"CREATE PROCEDURE {ident(target_schema)}.{ident(procedure.name)}({arguments})\n"
               f"    LANGUAGE plpgsql AS {dollar_quoted(body)};")
        out.add(out.views, ObjectEntry("procedure", name, canonical_name(target_schema, procedure.name),
                                       "converted_with_changes", None, changes, depends), sql)
