"""Redshift commands a warehouse's DDL or maintenance scripts hold that PostgreSQL lacks or spells differently,
each following its AWS SQL reference page (https://docs.aws.amazon.com/redshift/latest/dg/…):
- GRANT/REVOKE ASSUMEROLE (r_GRANT.html, r_REVOKE.html): remembered in r2a_emulator.features (kind 'assumerole'),
  listed by SVV_IAM_PRIVILEGES;
- GRANT/REVOKE of ALTER or DROP on tables (r_GRANT.html): PostgreSQL has neither privilege, so the grant is
  remembered in r2a_emulator.features (kind 'table_privilege'; SVV_RELATION_PRIVILEGES lists them with the ACL's),
  the rest of the list runs;
- GRANT/REVOKE of system permissions TO ROLE (r_GRANT.html, RBAC): remembered (kind 'system_privilege'),
  listed by SVV_SYSTEM_PRIVILEGES;
- GRANT/REVOKE USAGE ON LANGUAGE (r_GRANT.html): remembered (kind 'language_privilege'),
  listed by SVV_LANGUAGE_PRIVILEGES; here the Python language
  is an untrusted stand-in that PostgreSQL would refuse to grant;
- ALTER MATERIALIZED VIEW … AUTO REFRESH YES|NO (r_ALTER_MATERIALIZED_VIEW.html): remembered in the view's row,
  listed by SVV_MV_INFO.autorefresh;
- ANALYZE … PREDICATE COLUMNS | ALL COLUMNS (r_ANALYZE.html): statistics only, nothing to remember;
- CREATE DATABASE … COLLATE CASE_SENSITIVE|CASE_INSENSITIVE (r_CREATE_DATABASE.html): one database here;
- ALTER TABLE target APPEND FROM source [IGNOREEXTRA | FILLTARGET] (r_ALTER_TABLE_APPEND.html): moves the rows,
  matching columns by name, and leaves the source empty;
- ALTER TABLE external_table ADD/DROP PARTITION, SET … (r_ALTER_TABLE.html): partitions in r2a_emulator.features
  (kind 'external_partition'), listed by SVV_EXTERNAL_PARTITIONS;
- GRANT/REVOKE on an external schema, its tables or an EXTERNAL TABLE (r_GRANT.html): remembered (kind
  'external_grant'); external schemas are no backend schemas here."""

from __future__ import annotations

import json

from devstack.redshift.ddl import Cursor, DdlError, folded, is_name, qualified_name
from devstack.redshift.lexer import PUNCT, STRING, Token, join, string_value

_TABLE_ONLY_PRIVILEGES = ("ALTER", "DROP")


def _error(sqlstate: str, message: str):
    from devstack.redshift.engine import EmulatorError
    return EmulatorError(sqlstate, message)


def _result(tag: str):
    from devstack.redshift.engine import Result
    return Result(None, [], tag)


def _syntax(token: Token | None):
    return _error("42601", f'syntax error at or near "{token.text if token else "end of input"}"')


def _record(engine, kind: str, schema: str | None, name: str, detail: dict, words: list[Token]) -> None:
    engine.run("insert into r2a_emulator.features (kind, schema_name, name, detail, ddl, owner) "
               "values (%s, %s, %s, %s, %s, %s)", (kind, schema, name, json.dumps(detail), join(words), engine.user))


def _grantees(cursor: Cursor, engine) -> list[str]:
    names = []
    while not cursor.done and not cursor.at("FOR", "WITH", "CASCADE", "RESTRICT"):
        token = cursor.take()
        if token.kind == PUNCT and token.text == ",":
            continue
        if token.is_word("GROUP", "ROLE"):
            names.append(f"{token.upper.lower()} {folded(cursor.take(), engine)}")
        elif token.is_word("PUBLIC"):
            names.append("public")
        elif is_name(token):
            names.append(token.text.strip('"') if token.text.startswith('"') else token.text.lower())
        else:
            raise _syntax(token)
    return names


def assumerole(engine, tokens, words):
    """GRANT ASSUMEROLE ON { 'arn' [, …] | ALL } TO grantee [, …] FOR { ALL | COPY | UNLOAD | EXTERNAL FUNCTION |
    CREATE MODEL } [, …]; REVOKE … FROM …"""
    cursor = Cursor(words)
    action = cursor.take().upper
    cursor.expect("ASSUMEROLE")
    cursor.expect("ON")
    roles = []
    while not cursor.at("TO", "FROM"):
        token = cursor.take()
        if token.kind == STRING:
            roles.append(string_value(token))
        elif token.is_word("ALL"):
            roles.append("ALL")
        elif not (token.kind == PUNCT and token.text == ","):
            raise _syntax(token)
    cursor.expect("FROM" if action == "REVOKE" else "TO")
    grantees = _grantees(cursor, engine)
    cursor.expect("FOR")
    scopes, current = [], []
    for token in cursor.rest():  # ALL | COPY | UNLOAD | EXTERNAL FUNCTION | CREATE MODEL, comma-separated
        if token.kind == PUNCT and token.text == ",":
            scopes.append(" ".join(current))
            current = []
        else:
            current.append(token.text.upper())
    scopes = ", ".join([*scopes, " ".join(current)]) if current else ""
    if not roles or not grantees or not scopes:
        raise _syntax(None)
    for role in roles:
        for grantee in grantees:
            if action == "REVOKE":
                engine.run("delete from r2a_emulator.features where kind = 'assumerole' and name = %s "
                           "and detail->>'grantee' = %s", (role, grantee))
            else:
                _record(engine, "assumerole", None, role, {"grantee": grantee, "for": scopes}, words)
    return _result(action)


def table_privileges(engine, tokens, words):
    """GRANT/REVOKE lists naming ALTER or DROP on tables: those two are remembered, the others run as written."""
    cursor = Cursor(words)
    action = cursor.take().upper
    grant_option = action == "REVOKE" and cursor.at("GRANT") and cursor.at("OPTION", offset=1)
    if grant_option:
        cursor.pos += 3  # GRANT OPTION FOR
    privileges, others = [], []
    while not cursor.at("ON"):
        token = cursor.take()
        if token.is_word(*_TABLE_ONLY_PRIVILEGES):
            privileges.append(token.upper)
        elif not (token.kind == PUNCT and token.text == ","):
            others.append(token)
    cursor.expect("ON")
    cursor.accept("TABLE")
    head = cursor.pos
    try:
        tables = [qualified_name(cursor, engine)]
        while cursor.at_punct(","):
            cursor.take()
            tables.append(qualified_name(cursor, engine))
    except DdlError as exc:
        raise _error(exc.sqlstate, exc.message) from None
    on_text = join(words[head:cursor.pos])
    rest = words[cursor.pos:]
    cursor.expect("FROM" if action == "REVOKE" else "TO")
    grantees = _grantees(cursor, engine)
    for table in tables:
        if not engine.query("select to_regclass(%s)", (table.sql(engine),))[0][0]:
            raise _error("42P01", f'relation "{table.name}" does not exist')
        for grantee in grantees:
            engine.run("delete from r2a_emulator.features where kind = 'table_privilege' and schema_name is not "
                       "distinct from %s and name = %s and detail->>'grantee' = %s and detail->>'privilege' = ANY(%s)",
                       (table.schema, table.name, grantee, privileges))
            if action == "GRANT":
                for privilege in privileges:
                    _record(engine, "table_privilege", table.schema, table.name,
                            {"grantee": grantee, "privilege": privilege}, words)
    if others:
        from devstack.redshift import users
        names = ", ".join(join([t]) for t in others)
        head_text = f"{action} {'GRANT OPTION FOR ' if grant_option else ''}{names} ON TABLE {on_text} "
        from devstack.redshift.lexer import significant, tokenize
        statement = head_text + " ".join(t.text for t in rest)
        return users.grant(engine, tokenize(statement), significant(tokenize(statement)))
    return _result(action)


def language_usage(engine, tokens, words):
    """GRANT/REVOKE USAGE ON LANGUAGE name [, …] TO/FROM grantee [, …]."""
    cursor = Cursor(words)
    action = cursor.take().upper
    cursor.expect("USAGE")
    cursor.expect("ON")
    cursor.expect("LANGUAGE")
    languages = []
    while not cursor.at("TO", "FROM"):
        token = cursor.take()
        if is_name(token):
            languages.append(token.text.lower())
        elif not (token.kind == PUNCT and token.text == ","):
            raise _syntax(token)
    for language in languages:
        if language not in ("plpythonu", "sql", "plpgsql", "exfunc", "mlfunc"):
            raise _error("42704", f'language "{language}" does not exist')
    cursor.expect("FROM" if action == "REVOKE" else "TO")
    grantees = _grantees(cursor, engine)
    for language in languages:
        for grantee in grantees:
            engine.run("delete from r2a_emulator.features where kind = 'language_privilege' and name = %s "
                       "and detail->>'grantee' = %s", (language, grantee))
            if action == "GRANT":
                _record(engine, "language_privilege", None, language, {"grantee": grantee}, words)
    return _result(action)


def system_privileges(engine, tokens, words):
    """GRANT/REVOKE { CREATE USER | ALTER USER | DROP USER | CREATE SCHEMA | … } [, …] TO/FROM ROLE r (r_GRANT.html,
    role-based access control: system permissions, granted to roles only): remembered (kind 'system_privilege')."""
    cursor = Cursor(words)
    action = cursor.take().upper
    privileges, current = [], []
    while not cursor.at("TO", "FROM"):
        token = cursor.take()
        if token.kind == PUNCT and token.text == ",":
            privileges.append(" ".join(current))
            current = []
        else:
            current.append(token.text.upper())
    privileges.append(" ".join(current))
    cursor.expect("FROM" if action == "REVOKE" else "TO")
    grantees = _grantees(cursor, engine)
    if not all(g.startswith("role ") for g in grantees):
        raise _error("42601", "system permissions are granted to roles only: TO ROLE name")
    from devstack.redshift import roles
    for grantee in grantees:
        roles.role_sql(engine, grantee[len("role "):])  # the role must exist
        for privilege in privileges:
            engine.run("delete from r2a_emulator.features where kind = 'system_privilege' and name = %s "
                       "and detail->>'grantee' = %s", (privilege, grantee))
            if action == "GRANT":
                _record(engine, "system_privilege", None, privilege, {"grantee": grantee}, words)
    return _result(action)


_SYSTEM_PRIVILEGE_VERBS = ("CREATE", "ALTER", "DROP", "ACCESS", "TRUNCATE", "IGNORE", "EXPLAIN", "ANALYZE",
                           "CANCEL", "VACUUM")


def alter_materialized_view(engine, tokens, words):
    """ALTER MATERIALIZED VIEW mv AUTO REFRESH { YES | NO } | ROW LEVEL SECURITY … | RENAME/OWNER (run as is)."""
    cursor = Cursor(words)
    cursor.pos = 3
    try:
        name = qualified_name(cursor, engine)
    except DdlError as exc:
        raise _error(exc.sqlstate, exc.message) from None
    if not (cursor.at("AUTO") and cursor.at("REFRESH", offset=1)):
        return None
    cursor.pos += 2
    value = cursor.expect("YES", "NO").upper == "YES"
    if not cursor.done:
        raise _syntax(cursor.peek())
    rows = engine.query("select c.oid from pg_catalog.pg_class c where c.oid = to_regclass(%s) and c.relkind = 'm'",
                        (name.sql(engine),))
    if not rows:
        raise _error("42P01", f'materialized view "{name.name}" does not exist')
    engine.run("update r2a_emulator.views set auto_refresh = %s where relid = %s", (value, rows[0][0]))
    return _result("ALTER MATERIALIZED VIEW")


def analyze(engine, tokens, words):
    """ANALYZE [VERBOSE] [table [(columns)]] [PREDICATE COLUMNS | ALL COLUMNS]: PostgreSQL has no column choice."""
    kept = list(words)
    if len(kept) >= 3 and kept[-1].is_word("COLUMNS") and kept[-2].is_word("PREDICATE", "ALL"):
        kept = kept[:-2]
    from devstack.redshift import translate
    return engine.run(translate.statement([t for w in kept for t in (w, Token("ws", " "))], engine))


def create_database(engine, tokens, words):
    """CREATE DATABASE … COLLATE CASE_SENSITIVE | CASE_INSENSITIVE (the collation is dropped: one backend) and
    CONNECTION LIMIT UNLIMITED (PostgreSQL's default, which it spells -1)."""
    kept, k = [], 0
    while k < len(words):
        if words[k].is_word("COLLATE") and k + 1 < len(words) and words[k + 1].is_word("CASE_SENSITIVE",
                                                                                         "CASE_INSENSITIVE"):
            k += 2
            continue
        if words[k].is_word("CONNECTION") and words[k + 1:k + 3] and words[k + 1].is_word("LIMIT") and \
                k + 2 < len(words) and words[k + 2].is_word("UNLIMITED"):  # PostgreSQL's default, no keyword
            k += 3
            continue
        kept.append(words[k])
        k += 1
    from devstack.redshift import translate
    return engine.run(translate.statement([t for w in kept for t in (w, Token("ws", " "))], engine))


def append(engine, tokens, words):
    """ALTER TABLE target APPEND FROM source [IGNOREEXTRA | FILLTARGET]: "moves data … the source table is empty"
    (r_ALTER_TABLE_APPEND.html); columns match by name, every target column must be in the source unless
    FILLTARGET (defaults fill it), every source column in the target unless IGNOREEXTRA."""
    cursor = Cursor(words)
    cursor.pos = 2
    try:
        target = qualified_name(cursor, engine)
        cursor.expect("APPEND")
        cursor.expect("FROM")
        source = qualified_name(cursor, engine)
    except DdlError as exc:
        raise _error(exc.sqlstate, exc.message) from None
    option = cursor.take().upper if not cursor.done else None
    if option not in (None, "IGNOREEXTRA", "FILLTARGET") or not cursor.done:
        raise _error("42601", f'syntax error at or near "{option}"')

    def columns(name) -> list[str]:
        rows = engine.query("select a.attname from pg_catalog.pg_attribute a where a.attrelid = to_regclass(%s) "
                            "and a.attnum > 0 and not a.attisdropped order by a.attnum", (name.sql(engine),))
        if not rows:
            raise _error("42P01", f'relation "{name.name}" does not exist')
        return [r[0] for r in rows]
    into, out = columns(target), columns(source)
    if set(into) - set(out) and option != "FILLTARGET":
        raise _error("0A000", "Target table has columns that are not in the source table; use FILLTARGET")
    if set(out) - set(into) and option != "IGNOREEXTRA":
        raise _error("0A000", "Source table has columns that are not in the target table; use IGNOREEXTRA")
    shared = [c for c in into if c in out]
    from psycopg2 import sql
    listed = sql.SQL(", ").join(sql.Identifier(c) for c in shared).as_string(engine.conn)
    with engine.transaction():
        engine.run(f"INSERT INTO {target.sql(engine)} ({listed}) SELECT {listed} FROM {source.sql(engine)}")  # nosec B608  # identifiers quoted by psycopg2.sql and the emulator's qualified names
        engine.run(f"DELETE FROM {source.sql(engine)}")  # nosec B608  # an emulator-quoted table name
    return _result("ALTER TABLE APPEND")


def _external(engine, kind: str, schema: str | None, name: str) -> bool:
    return bool(engine.query("select 1 from r2a_emulator.features where kind = %s and schema_name is not distinct "
                             "from %s and name = %s", (kind, schema, name)))


def alter_external_table(engine, tokens, words):
    """ALTER TABLE external_table ADD [IF NOT EXISTS] PARTITION (col=value [, …]) LOCATION 's3://…' [PARTITION …] |
    DROP PARTITION (…) | SET LOCATION / TABLE PROPERTIES / FILE FORMAT (r_ALTER_TABLE.html, "external table"
    clauses); partitions are listed by SVV_EXTERNAL_PARTITIONS (r_SVV_EXTERNAL_PARTITIONS.html)."""
    cursor = Cursor(words)
    cursor.pos = 2
    try:
        name = qualified_name(cursor, engine)
    except DdlError as exc:
        raise _error(exc.sqlstate, exc.message) from None
    label = f"{name.schema}.{name.name}"
    if cursor.accept("SET"):
        return _result("ALTER TABLE")
    adding = cursor.expect("ADD", "DROP").upper == "ADD"
    quiet = False
    if adding and cursor.at("IF") and cursor.at("NOT", offset=1) and cursor.at("EXISTS", offset=2):
        cursor.pos, quiet = cursor.pos + 3, True
    while not cursor.done:
        cursor.expect("PARTITION")
        values = []
        for token in cursor.group():
            if token.kind == STRING:
                values.append(string_value(token))
            elif token.kind not in (PUNCT,) and not is_name(token) and not token.text == "=":
                values.append(token.text)
        location = None
        if cursor.accept("LOCATION"):
            token = cursor.take()
            if token.kind != STRING:
                raise _syntax(token)
            location = string_value(token)
        key = f"{label}{json.dumps(values)}"
        exists = _external(engine, "external_partition", name.schema, key)
        if adding:
            if location is None:
                raise _error("42601", "ADD PARTITION needs LOCATION 's3://…'")
            if exists and not quiet:
                raise _error("42P07", f"partition {values} of {label} already exists")
            if not exists:
                _record(engine, "external_partition", name.schema, key,
                        {"table": name.name, "values": values, "location": location}, words)
        else:
            engine.run("delete from r2a_emulator.features where kind = 'external_partition' and schema_name = %s "
                       "and name = %s", (name.schema, key))
        if cursor.at_punct(","):
            cursor.take()
    return _result("ALTER TABLE")


def external_schema_grant(engine, tokens, words):
    """GRANT/REVOKE … ON SCHEMA external_schema | ON ALL TABLES IN SCHEMA external_schma | ON EXTERNAL TABLE t
    (r_GRANT.html, "Usage notes for granting external table permissions"): remembered (kind 'external_grant')."""
    on = next(k for k, w in enumerate(words) if w.is_word("ON"))
    cursor = Cursor(words)
    cursor.pos = on + 1
    if cursor.accept("EXTERNAL"):
        cursor.expect("TABLE")
    elif cursor.accept("ALL"):
        cursor.expect("TABLES")
        cursor.expect("IN")
        cursor.expect("SCHEMA")
    else:
        cursor.expect("SCHEMA")
    target = join(words[cursor.pos:next(k for k, w in enumerate(words) if w.is_word("TO", "FROM"))])
    cursor.pos = next(k for k, w in enumerate(words) if w.is_word("TO", "FROM")) + 1
    grantees = _grantees(cursor, engine)
    action = words[0].upper
    privileges = join(words[1:on])
    for grantee in grantees:
        engine.run("delete from r2a_emulator.features where kind = 'external_grant' and name = %s "
                   "and detail->>'grantee' = %s and detail->>'privileges' = %s", (target, grantee, privileges))
        if action == "GRANT":
            _record(engine, "external_grant", None, target, {"grantee": grantee, "privileges": privileges}, words)
    return _result(action)


def _external_grant_target(engine, words: list[Token]) -> bool:
    on = next((k for k, w in enumerate(words) if w.is_word("ON")), None)
    if on is None or on + 2 >= len(words):
        return False
    rest = words[on + 1:]
    if rest[0].is_word("EXTERNAL"):
        return True
    schema_at = 1 if rest[0].is_word("SCHEMA") else 4 if [w.upper for w in rest[:4]] == ["ALL", "TABLES", "IN",
                                                                                          "SCHEMA"] else None
    if schema_at is None or schema_at >= len(rest) or not is_name(rest[schema_at]):
        return False
    return _external(engine, "external_schema", None, folded(rest[schema_at], engine))


def handler_for(words: list[Token], engine=None):
    upper = [t.upper for t in words[:4]]
    if engine is not None and upper[:1] in (["GRANT"], ["REVOKE"]) and _external_grant_target(engine, words):
        return external_schema_grant
    if engine is not None and upper[:2] == ["ALTER", "TABLE"] and any(
            w.is_word("PARTITION", "LOCATION", "PROPERTIES") for w in words[3:]):
        cursor = Cursor(words)
        cursor.pos = 2
        try:
            name = qualified_name(cursor, engine)
        except DdlError:
            name = None
        if name is not None and name.schema and _external(engine, "external_table", name.schema, name.name):
            return alter_external_table
    if upper[:1] in (["GRANT"], ["REVOKE"]):
        if upper[1:2] == ["ASSUMEROLE"]:
            return assumerole
        if upper[1:2] and upper[1] in _SYSTEM_PRIVILEGE_VERBS and not any(w.is_word("ON") for w in words):
            return system_privileges
        if upper[1:4] == ["USAGE", "ON", "LANGUAGE"]:
            return language_usage
        on = next((k for k, w in enumerate(words) if w.is_word("ON")), None)
        if on is not None and any(w.is_word(*_TABLE_ONLY_PRIVILEGES) for w in words[1:on]) and not (
                len(words) > on + 1 and words[on + 1].is_word("SCHEMA", "DATABASE", "FUNCTION", "PROCEDURE",
                                                              "LANGUAGE", "ALL", "DATASHARE")):
            return table_privileges
    if upper[:3] == ["ALTER", "MATERIALIZED", "VIEW"]:
        return alter_materialized_view
    if upper[:1] == ["ANALYZE"] and len(words) >= 3 and words[-1].is_word("COLUMNS"):
        return analyze
    if upper[:2] == ["CREATE", "DATABASE"] and any(w.is_word("COLLATE", "UNLIMITED") for w in words):
        return create_database
    if upper[:2] == ["ALTER", "TABLE"] and any(a.is_word("APPEND") and b.is_word("FROM")
                                               for a, b in zip(words, words[1:], strict=False)):
        return append
    return None
