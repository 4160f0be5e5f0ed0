"""SHOW TABLE / SHOW VIEW / SHOW PROCEDURE, in the layout of AWS's SHOW TABLE reference:

    CREATE TABLE public.sales (
        salesid integer NOT NULL ENCODE az64,
        listid integer NOT NULL ENCODE az64 distkey,
        dateid smallint NOT NULL ENCODE raw,
        ...
    )
    DISTSTYLE KEY
    SORTKEY ( dateid );

Every column prints its ENCODE, `ENCODE raw` too (as current clusters print it; AWS's older examples leave it out),
and every CHAR/VARCHAR column its COLLATE (case_sensitive unless declared), as AWS's `public.category` example
shows (https://docs.aws.amazon.com/redshift/latest/dg/r_SHOW_TABLE.html). SHOW PROCEDURE quotes the body with
`$_$`, as https://docs.aws.amazon.com/redshift/latest/dg/r_SHOW_PROCEDURE.html shows."""

from __future__ import annotations

import re

from devstack.redshift.ddl import Cursor, DdlError, QualifiedName, qualified_name
from devstack.redshift.lexer import PUNCT, WS, Token, quote_ident, tokenize


def _error(sqlstate: str, message: str):
    from devstack.redshift.engine import EmulatorError
    return EmulatorError(sqlstate, message)


def show(engine, kind: str, words: list[Token]) -> str:
    cursor = Cursor(words)
    try:
        name = qualified_name(cursor, engine)
    except DdlError as exc:
        raise _error(exc.sqlstate, exc.message) from None
    if kind == "PROCEDURE":
        return _procedure(engine, name, cursor)
    if not cursor.done:
        raise _error("42601", f'syntax error at or near "{cursor.peek().text}"')
    relid, relkind = _relation(engine, name)
    if kind == "TABLE":
        if relkind != "r":
            raise _error("42809", f'"{_label(name)}" is not a table')
        return show_table(engine, relid)
    if relkind not in ("v", "m"):
        raise _error("42809", f'"{_label(name)}" is not a view')
    return show_view(engine, relid)


def _label(name: QualifiedName) -> str:
    return f"{name.schema}.{name.name}" if name.schema else name.name


def _relation(engine, name: QualifiedName) -> tuple[int, str]:
    rows = engine.query("select c.oid, c.relkind from pg_catalog.pg_class c where c.oid = to_regclass(%s)",
                        (name.sql(engine),))
    if not rows:
        raise _error("42P01", f'relation "{_label(name)}" does not exist')
    return rows[0][0], rows[0][1]


def _ident(name: str) -> str:
    return quote_ident(name)


def show_table(engine, relid) -> str:
    schema, table, diststyle, sortkey_kind, backup = engine.query(
        "select r2a_emulator.rs_name(n.nspname), r2a_emulator.rs_name(c.relname), coalesce(t.diststyle, 'AUTO'), "
        "t.sortkey_kind, coalesce(t.backup, true) "
        "from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace "
        "left join r2a_emulator.tables t on t.relid = c.oid where c.oid = %s", (relid,))[0]
    columns = engine.query(
        "select r2a_emulator.rs_name(a.attname), r2a_emulator.column_type(a.attrelid, a.attnum, a.atttypid, "
        "a.atttypmod), a.attnotnull, pg_catalog.pg_get_expr(d.adbin, d.adrelid), col.identity_seed, "
        "col.identity_step, r2a_emulator.column_encoding(a.attrelid, a.attnum, a.atttypid), "
        "coalesce(col.distkey, false), coalesce(col.sortkey, 0), col.collate_name "
        "from pg_catalog.pg_attribute a "
        "left join pg_catalog.pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum "
        "left join r2a_emulator.columns col on col.relid = a.attrelid and col.attnum = a.attnum "
        "where a.attrelid = %s and a.attnum > 0 and not a.attisdropped order by a.attnum", (relid,))
    lines = []
    sortkey: list[tuple[int, str]] = []
    for name, type_, not_null, default, seed, step, encoding, distkey, sort_position, collate in columns:
        parts = [_ident(name), type_]
        if _true(not_null):
            parts.append("NOT NULL")
        if seed is not None:
            parts.append(f"identity({seed}, {step})")
        elif default is not None:
            parts.append(f"DEFAULT {default}")
        if encoding:
            parts.append(f"ENCODE {encoding}")
        if collate or type_.startswith(("character", "char")):
            parts.append(f"COLLATE {_COLLATIONS.get(collate or 'case_sensitive', collate or 'case_sensitive')}")
        if _true(distkey):
            parts.append("distkey")
        if int(sort_position):
            sortkey.append((int(sort_position), name))
        lines.append("    " + " ".join(parts))
    for definition, in engine.query(
            "select r2a_catalog.pg_get_constraintdef(k.oid) from r2a_emulator.constraints k where k.relid = %s "
            "order by case k.contype when 'p' then 0 when 'u' then 1 else 2 end, k.oid", (relid,)):
        lines.append(f"    {definition}")
    text = f"CREATE TABLE {_ident(schema)}.{_ident(table)} (\n" + ",\n".join(lines) + "\n)\n"
    if not _true(backup):
        text += "BACKUP NO\n"
    text += f"DISTSTYLE {diststyle}"
    if sortkey and sortkey_kind in ("COMPOUND", "INTERLEAVED"):
        prefix = "INTERLEAVED " if sortkey_kind == "INTERLEAVED" else ""
        text += f"\n{prefix}SORTKEY ( {', '.join(_ident(n) for _, n in sorted(sortkey))} )"
    return text + ";"


_COLLATIONS = {"cs": "case_sensitive", "ci": "case_insensitive"}


def _true(value) -> bool:
    return value is True or value in ("t", "true", "True")


def show_view(engine, relid) -> str:
    rows = engine.query("select late_binding, materialized, ddl from r2a_emulator.views where relid = %s", (relid,))
    if rows and (_true(rows[0][0]) or _true(rows[0][1])):
        ddl = rows[0][2].strip().rstrip(";").strip()
        return ddl + ";"
    definition = engine.query("select pg_catalog.pg_get_viewdef(%s::oid)", (relid,))[0][0]
    # One line, as Redshift prints it; whitespace inside string literals and quoted names is data and stays.
    text = "".join(" " if t.kind == WS else t.text for t in tokenize(definition)).strip().rstrip(";")
    return _long_names(engine, text) + ";"


def _long_names(engine, text: str) -> str:
    known = dict(engine.state.long_names.by_short)
    for short, long in known.items():
        text = re.sub(rf'"?\b{re.escape(short)}\b"?', quote_ident(long), text)
    return text


def _procedure(engine, name: QualifiedName, cursor: Cursor) -> str:
    args = ""
    if cursor.at_punct("("):
        inner = cursor.group()
        args = " ".join(t.text for t in inner if t.kind != PUNCT or t.text in (",", "(", ")"))
        args = re.sub(r"\s*,\s*", ", ", args)
    rows = engine.query(
        "select p.oid from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace "
        "where p.prokind = 'p' and r2a_emulator.rs_name(p.proname) = %s "
        "and (%s::text is null or r2a_emulator.rs_name(n.nspname) = %s) "
        "and (%s = '' or p.oid = to_regprocedure(%s)) "
        "and (%s::text is not null or pg_catalog.pg_function_is_visible(p.oid)) order by p.oid",
        (name.name, name.schema, name.schema, args, f"{name.sql(engine)}({args})", name.schema))
    if not rows:
        raise _error("42883", f"procedure {_label(name)}({args}) does not exist")
    if len(rows) > 1:
        raise _error("42725", f"procedure {_label(name)} is not unique: name its argument types")
    schema, proc, arguments, body = engine.query(
        "select r2a_emulator.rs_name(n.nspname), r2a_emulator.rs_name(p.proname), "
        "pg_catalog.pg_get_function_arguments(p.oid), p.prosrc from pg_catalog.pg_proc p "
        "join pg_catalog.pg_namespace n on n.oid = p.pronamespace where p.oid = %s", (rows[0][0],))[0]
    return (f"CREATE OR REPLACE PROCEDURE {_ident(schema)}.{_ident(proc)}({arguments})\n"
            f"LANGUAGE plpgsql\nAS $_$\n{body.strip(chr(10))}\n$_$")
