"""Redshift statements whose objects hold no data here: external schemas and tables (Spectrum, federated),
libraries, ML models, row-level security policies and datashares. Each is checked against its AWS SQL reference
page, remembered in r2a_emulator.features and served by the system view Redshift documents for it (catalog.sql:
svv_external_schemas, svv_external_tables, pg_library, svv_ml_model_info, svv_rls_policy, svv_rls_attached_policy,
svv_rls_relation, svv_datashares, svv_datashare_objects), so a dump sees them as it would on Redshift.

Grammar followed (https://docs.aws.amazon.com/redshift/latest/dg/…): r_CREATE_EXTERNAL_SCHEMA.html,
r_CREATE_EXTERNAL_TABLE.html, r_CREATE_LIBRARY.html, r_CREATE_MODEL.html, r_CREATE_RLS_POLICY.html,
r_ATTACH_RLS_POLICY.html, r_DETACH_RLS_POLICY.html, r_DROP_RLS_POLICY.html, r_ALTER_TABLE.html (ROW LEVEL SECURITY),
r_CREATE_DATASHARE.html, r_ALTER_DATASHARE.html, r_DROP_DATASHARE.html, r_GRANT.html (USAGE ON DATASHARE),
r_CREATE_DATABASE.html (FROM DATASHARE)."""

from __future__ import annotations

import json

from devstack.redshift.ddl import (
    Cursor,
    DdlError,
    QualifiedName,
    creation_name,
    folded,
    is_name,
    qualified_name,
)
from devstack.redshift.lexer import PUNCT, STRING, Token, join, string_value

_EXTERNAL_SOURCES = {"DATA": "data catalog", "HIVE": "hive metastore", "POSTGRES": "postgres", "MYSQL": "mysql",
                     "KINESIS": "kinesis", "MSK": "msk", "KAFKA": "kafka", "REDSHIFT": "redshift"}


def _error(sqlstate: str, message: str):
    from devstack.redshift.engine import EmulatorError
    return EmulatorError(sqlstate, message)


def _result(tag: str):
    from devstack.redshift.engine import Result
    return Result(None, [], tag)


def _syntax(cursor: Cursor):
    found = cursor.peek().text if cursor.peek() else "end of input"
    return _error("42601", f'syntax error at or near "{found}"')


def _name(cursor: Cursor, engine) -> str:
    if not is_name(cursor.peek()):
        raise _syntax(cursor)
    return folded(cursor.take(), engine)


def _qualified(cursor: Cursor, engine) -> QualifiedName:
    try:
        return qualified_name(cursor, engine)
    except DdlError as exc:
        raise _error(exc.sqlstate, exc.message) from None


def _if_not_exists(cursor: Cursor) -> bool:
    if cursor.at("IF") and cursor.at("NOT", offset=1) and cursor.at("EXISTS", offset=2):
        cursor.pos += 3
        return True
    return False


def _if_exists(cursor: Cursor) -> bool:
    if cursor.at("IF") and cursor.at("EXISTS", offset=1):
        cursor.pos += 2
        return True
    return False


def _string_after(words: list[Token], *keys: str) -> str | None:
    for k, token in enumerate(words[:-1]):
        if token.is_word(*keys) and words[k + 1].kind == STRING:
            return string_value(words[k + 1])
    return None


def _text(words: list[Token]) -> str:
    """Significant tokens back to SQL text: blanks between words, none around `.`, inside parentheses, before a
    comma or between a name and its `(`."""
    out, previous = "", None
    for token in words:
        tight = token.kind == PUNCT and token.text in ".),[]" or out.endswith((".", "(", "[")) or (
            token.kind == PUNCT and token.text == "(" and previous is not None and is_name(previous))
        out += token.text if tight or not out else " " + token.text
        previous = token
    return out


def _find(engine, kind: str, schema: str | None, name: str) -> bool:
    return bool(engine.query("select 1 from r2a_emulator.features where kind = %s and schema_name is not distinct "
                             "from %s and name = %s", (kind, schema, name)))


def _record(engine, kind: str, schema: str | None, name: str, detail: dict, tokens: list[Token]) -> None:
    engine.run("insert into r2a_emulator.features (kind, schema_name, name, detail, ddl, owner) "
               "values (%s, %s, %s, %s, %s, %s)",
               (kind, schema, name, json.dumps(detail), join(tokens).strip(), engine.user))


def _forget(engine, kind: str, schema: str | None, name: str) -> int:
    result = engine.run("delete from r2a_emulator.features where kind = %s and schema_name is not distinct from %s "
                        "and name = %s", (kind, schema, name))
    return int(result.tag.split()[-1]) if result.tag.startswith("DELETE") else 0


def _relation(engine, name: QualifiedName) -> tuple[str, str]:
    rows = engine.query("select r2a_emulator.rs_name(n.nspname), r2a_emulator.rs_name(c.relname) "
                        "from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace "
                        "where c.oid = to_regclass(%s)", (name.sql(engine),))
    if not rows:
        label = f"{name.schema}.{name.name}" if name.schema else name.name
        raise _error("42P01", f'relation "{label}" does not exist')
    return rows[0][0], rows[0][1]


# ---------------------------------------------------------------- external schemas and tables

def create_external_schema(engine, tokens, words):
    cursor = Cursor(words)
    cursor.pos = 3                                   # CREATE EXTERNAL SCHEMA
    quiet = _if_not_exists(cursor)
    name = _name(cursor, engine)
    if not cursor.accept("FROM"):
        raise _syntax(cursor)
    source = cursor.take().text.upper()
    if source not in _EXTERNAL_SOURCES:
        raise _error("42601", f'syntax error at or near "{source.lower()}"')
    if _find(engine, "external_schema", None, name) or engine.query(
            "select 1 from pg_catalog.pg_namespace where r2a_emulator.rs_name(nspname) = %s", (name,)):
        if quiet:
            return _result("CREATE SCHEMA")
        raise _error("42P06", f'Schema "{name}" already exists')
    database = _string_after(words, "DATABASE")
    if database is None and source not in ("KINESIS", "MSK", "KAFKA"):
        raise _error("42601", "CREATE EXTERNAL SCHEMA needs DATABASE 'name'")
    _record(engine, "external_schema", None, name, {
        "source": _EXTERNAL_SOURCES[source], "database": database, "schema": _string_after(words, "SCHEMA"),
        "iam_role": _string_after(words, "IAM_ROLE")}, tokens)
    return _result("CREATE SCHEMA")


def create_external_table(engine, tokens, words):
    cursor = Cursor(words)
    cursor.pos = 3                                   # CREATE EXTERNAL TABLE
    quiet = _if_not_exists(cursor)
    name = _qualified(cursor, engine)
    if not name.schema or not _find(engine, "external_schema", None, name.schema):
        raise _error("3F000", f'external schema "{name.schema or ""}" does not exist: an external table is named '
                              "external_schema.table")
    if _find(engine, "external_table", name.schema, name.name):
        if quiet:
            return _result("CREATE EXTERNAL TABLE")
        raise _error("42P07", f'relation "{name.schema}.{name.name}" already exists')
    columns = []
    if cursor.at_punct("("):
        for part in _split(cursor.group()):
            if part and is_name(part[0]):
                columns.append({"name": folded(part[0], engine), "type": _text(part[1:])})
    if _string_after(words, "LOCATION") is None and not any(t.is_word("AS") for t in words):
        raise _error("42601", "CREATE EXTERNAL TABLE needs LOCATION 's3://…' (or AS query)")
    stored = next((words[k + 2].text.upper() for k in range(len(words) - 2)
                   if words[k].is_word("STORED") and words[k + 1].is_word("AS")), None)
    _record(engine, "external_table", name.schema, name.name, {
        "location": _string_after(words, "LOCATION"), "stored_as": stored, "columns": columns}, tokens)
    return _result("CREATE EXTERNAL TABLE")


def _split(inner: list[Token]) -> list[list[Token]]:
    parts, current, depth = [], [], 0
    for token in inner:
        if token.kind == PUNCT and token.text == "(":
            depth += 1
        elif token.kind == PUNCT and token.text == ")":
            depth -= 1
        if depth == 0 and token.kind == PUNCT and token.text == ",":
            parts.append(current)
            current = []
        else:
            current.append(token)
    return parts + [current]


# ---------------------------------------------------------------- libraries and models

def create_library(engine, tokens, words):
    cursor = Cursor(words)
    cursor.expect("CREATE")
    replace = cursor.accept("OR") and bool(cursor.expect("REPLACE"))
    cursor.expect("LIBRARY")
    name = _name(cursor, engine)
    cursor.expect("LANGUAGE")
    language = cursor.take().text.lower()
    if language != "plpythonu":
        raise _error("42704", f'language "{language}" does not exist (CREATE LIBRARY takes plpythonu)')
    location = _string_after(words, "FROM")
    if location is None:
        raise _error("42601", "CREATE LIBRARY needs FROM 's3://…' or 'https://…'")
    if _find(engine, "library", None, name):
        if not replace:
            raise _error("42710", f'library "{name}" already exists')
        _forget(engine, "library", None, name)
    _record(engine, "library", None, name, {"language": language, "location": location}, tokens)
    return _result("CREATE LIBRARY")


def create_model(engine, tokens, words):
    cursor = Cursor(words)
    cursor.pos = 2                                   # CREATE MODEL
    name = creation_name(_qualified(cursor, engine), engine)
    if not cursor.at("FROM"):
        raise _syntax(cursor)
    function = next((words[k + 1].text for k in range(len(words) - 1)
                     if words[k].is_word("FUNCTION") and is_name(words[k + 1])), None)
    if function is None:
        raise _error("42601", "CREATE MODEL needs FUNCTION name")
    if _find(engine, "model", name.schema, name.name):
        raise _error("42710", f'model "{name.schema}.{name.name}" already exists')
    target = next((words[k + 1].text for k in range(len(words) - 1)
                   if words[k].is_word("TARGET") and is_name(words[k + 1])), None)
    _record(engine, "model", name.schema, name.name, {"function": function.lower(), "target": target}, tokens)
    return _result("CREATE MODEL")


# ---------------------------------------------------------------- row-level security

def create_rls_policy(engine, tokens, words):
    cursor = Cursor(words)
    cursor.pos = 3                                   # CREATE RLS POLICY
    name = _name(cursor, engine)
    attributes, alias = [], None
    if cursor.accept("WITH"):
        for part in _split(cursor.group()):
            if part and is_name(part[0]):
                attributes.append({"name": folded(part[0], engine), "type": _text(part[1:])})
        if cursor.accept("AS"):
            alias = _name(cursor, engine)
        elif is_name(cursor.peek()) and not cursor.at("USING"):
            alias = _name(cursor, engine)
    if not cursor.accept("USING") or not cursor.at_punct("("):
        raise _syntax(cursor)
    predicate = _text(cursor.group())
    if not cursor.done:
        raise _syntax(cursor)
    if _find(engine, "rls_policy", None, name):
        raise _error("42710", f'policy "{name}" already exists')
    _record(engine, "rls_policy", None, name, {"attributes": attributes, "alias": alias, "using": predicate},
            tokens)
    return _result("CREATE RLS POLICY")


def _grantees(cursor: Cursor, engine) -> list[tuple[str, str]]:
    from devstack.redshift.ddl import user_name
    out = []
    while not cursor.done:
        if cursor.accept("ROLE"):
            from devstack.redshift.roles import role_sql
            name = folded(cursor.take(), engine)
            role_sql(engine, name)
            out.append(("role", name))
        elif cursor.accept("PUBLIC"):
            out.append(("public", "public"))
        elif is_name(cursor.peek()):
            out.append(("user", user_name(cursor.take(), engine)))
        else:
            raise _syntax(cursor)
        if not cursor.at_punct(","):
            break
        cursor.take()
    return out


def attach_rls_policy(engine, tokens, words):
    cursor = Cursor(words)
    attach = cursor.take().upper == "ATTACH"
    cursor.pos = 3                                   # ATTACH|DETACH RLS POLICY
    policy = _name(cursor, engine)
    if not _find(engine, "rls_policy", None, policy):
        raise _error("42704", f'policy "{policy}" does not exist')
    cursor.expect("ON")
    cursor.accept("TABLE")
    tables = [_relation(engine, _qualified(cursor, engine))]
    while cursor.at_punct(","):
        cursor.take()
        tables.append(_relation(engine, _qualified(cursor, engine)))
    cursor.expect("TO" if attach else "FROM")
    grantees = _grantees(cursor, engine)
    if not grantees or not cursor.done:
        raise _syntax(cursor)
    for schema, table in tables:
        for kind, grantee in grantees:
            key = f"{policy} {kind}:{grantee}"
            _forget(engine, "rls_attachment", f"{schema}.{table}", key)
            if attach:
                _record(engine, "rls_attachment", f"{schema}.{table}", key, {
                    "policy": policy, "schema": schema, "table": table, "grantee": grantee,
                    "grantee_kind": kind}, tokens)
    return _result("ATTACH RLS POLICY" if attach else "DETACH RLS POLICY")


def drop_rls_policy(engine, tokens, words):
    cursor = Cursor(words)
    cursor.pos = 3                                   # DROP RLS POLICY
    quiet = _if_exists(cursor)
    name = _name(cursor, engine)
    cascade = cursor.accept("CASCADE")
    attached = engine.query("select count(*) from r2a_emulator.features where kind = 'rls_attachment' "
                            "and detail->>'policy' = %s", (name,))[0][0]
    if int(attached) and not cascade:
        raise _error("2BP01", f'cannot drop policy "{name}": it is attached to a table (use CASCADE)')
    if not _forget(engine, "rls_policy", None, name) and not quiet:
        raise _error("42704", f'policy "{name}" does not exist')
    engine.run("delete from r2a_emulator.features where kind = 'rls_attachment' and detail->>'policy' = %s", (name,))
    return _result("DROP RLS POLICY")


def alter_table_rls(engine, tokens, words):
    cursor = Cursor(words)
    cursor.pos = 2                                   # ALTER TABLE
    schema, table = _relation(engine, _qualified(cursor, engine))
    for word in ("ROW", "LEVEL", "SECURITY"):
        cursor.expect(word)
    on = cursor.expect("ON", "OFF").upper == "ON"
    conjunction = "and"
    if cursor.accept("CONJUNCTION"):
        cursor.expect("TYPE")
        conjunction = cursor.expect("AND", "OR").text.lower()
    datashares = cursor.accept("FOR") and bool(cursor.expect("DATASHARES"))
    if not cursor.done:
        raise _syntax(cursor)
    _forget(engine, "rls_relation", schema, table)
    _record(engine, "rls_relation", schema, table, {"on": on, "conjunction": conjunction,
                                                    "for_datashares": datashares}, tokens)
    return _result("ALTER TABLE")


# ---------------------------------------------------------------- datashares

def create_datashare(engine, tokens, words):
    cursor = Cursor(words)
    cursor.pos = 2                                   # CREATE DATASHARE
    name = _name(cursor, engine)
    public = False
    if cursor.accept("SET") or cursor.at("PUBLICACCESSIBLE"):
        cursor.expect("PUBLICACCESSIBLE")
        if cursor.at_punct("=") or (cursor.peek() is not None and cursor.peek().text == "="):
            cursor.take()
        public = cursor.expect("TRUE", "FALSE").upper == "TRUE"
    if not cursor.done:
        raise _syntax(cursor)
    if _find(engine, "datashare", None, name):
        raise _error("42710", f'datashare "{name}" already exists')
    _record(engine, "datashare", None, name, {"publicly_accessible": public}, tokens)
    return _result("CREATE DATASHARE")


def alter_datashare(engine, tokens, words):
    cursor = Cursor(words)
    cursor.pos = 2                                   # ALTER DATASHARE
    share = _name(cursor, engine)
    if not _find(engine, "datashare", None, share):
        raise _error("42704", f'datashare "{share}" does not exist')
    if cursor.accept("SET"):
        return _result("ALTER DATASHARE")
    adding = cursor.expect("ADD", "REMOVE").upper == "ADD"
    if cursor.accept("ALL"):
        kind = cursor.expect("TABLES", "FUNCTIONS").text.lower()[:-1]
        cursor.expect("IN")
        cursor.expect("SCHEMA")
        objects = [(f"all {kind}s in schema", _name(cursor, engine))]
    else:
        kind = cursor.expect("TABLE", "SCHEMA", "FUNCTION").text.lower()
        objects = []
        while True:
            if kind == "schema":
                objects.append((kind, _name(cursor, engine)))
            else:
                name = _qualified(cursor, engine)
                if kind == "function" and cursor.at_punct("("):
                    cursor.group()
                objects.append((kind, ".".join(_relation(engine, name)) if kind == "table" else
                                f"{name.schema or 'public'}.{name.name}"))
            if not cursor.at_punct(","):
                break
            cursor.take()
    for kind, name in objects:
        _forget(engine, "datashare_object", share, f"{kind} {name}")
        if adding:
            _record(engine, "datashare_object", share, f"{kind} {name}", {"object_type": kind, "object_name": name},
                    tokens)
    return _result("ALTER DATASHARE")


def drop_datashare(engine, tokens, words):
    cursor = Cursor(words)
    cursor.pos = 2                                   # DROP DATASHARE
    quiet = _if_exists(cursor)
    name = _name(cursor, engine)
    if not _forget(engine, "datashare", None, name) and not quiet:
        raise _error("42704", f'datashare "{name}" does not exist')
    engine.run("delete from r2a_emulator.features where kind = 'datashare_object' and schema_name = %s", (name,))
    return _result("DROP DATASHARE")


def grant_datashare(engine, tokens, words):
    """GRANT|REVOKE USAGE ON DATASHARE name TO|FROM NAMESPACE 'guid' | ACCOUNT 'id' [VIA DATA CATALOG]."""
    cursor = Cursor(words)
    cursor.pos = 4                                   # GRANT USAGE ON DATASHARE
    share = _name(cursor, engine)
    if not _find(engine, "datashare", None, share):
        raise _error("42704", f'datashare "{share}" does not exist')
    cursor.expect("TO", "FROM")
    cursor.expect("NAMESPACE", "ACCOUNT")
    if cursor.peek() is None or cursor.peek().kind != STRING:
        raise _syntax(cursor)
    return _result(words[0].upper)


def create_database_from_datashare(engine, tokens, words):
    """CREATE DATABASE db FROM DATASHARE share OF [ACCOUNT 'id'] NAMESPACE 'guid': a consumer database."""
    cursor = Cursor(words)
    cursor.pos = 2
    name = _name(cursor, engine)
    cursor.expect("FROM")
    cursor.expect("DATASHARE")
    share = _name(cursor, engine)
    cursor.expect("OF")
    namespace = _string_after(words, "NAMESPACE")
    if namespace is None:
        raise _error("42601", "CREATE DATABASE … FROM DATASHARE needs OF NAMESPACE 'guid'")
    _record(engine, "datashare_database", None, name, {"share": share, "namespace": namespace,
                                                       "account": _string_after(words, "ACCOUNT")}, tokens)
    return _result("CREATE DATABASE")


def drop_object(engine, tokens, words):
    """DROP LIBRARY name (r_DROP_LIBRARY.html), DROP MODEL [IF EXISTS] name (r_DROP_MODEL.html), DROP SCHEMA of
    an external schema (r_DROP_SCHEMA.html; its external tables go with it). Any other DROP SCHEMA runs as is."""
    cursor = Cursor(words)
    cursor.take()
    kind = cursor.take().upper
    quiet = _if_exists(cursor)
    if kind == "SCHEMA":
        name = _name(cursor, engine)
        if cursor.done is False and not cursor.at("CASCADE", "RESTRICT", "DROP"):
            return None
        if not _forget(engine, "external_schema", None, name):
            return None
        engine.run("delete from r2a_emulator.features where kind in ('external_table', 'external_partition') "
                   "and schema_name = %s", (name,))
        return _result("DROP SCHEMA")
    if kind == "LIBRARY":
        name = _name(cursor, engine)
        if not _forget(engine, "library", None, name) and not quiet:
            raise _error("42704", f'library "{name}" does not exist')
        return _result("DROP LIBRARY")
    name = creation_name(_qualified(cursor, engine), engine)
    if not _forget(engine, "model", name.schema, name.name) and not quiet:
        raise _error("42704", f'model "{name.schema}.{name.name}" does not exist')
    return _result("DROP MODEL")


def create_external_function(engine, tokens, words):
    """CREATE [OR REPLACE] EXTERNAL FUNCTION name ([type, …]) RETURNS type {VOLATILE | STABLE | IMMUTABLE}
    {LAMBDA 'fn' | SAGEMAKER 'endpoint'} IAM_ROLE {default | 'arn'} [RETRY_TIMEOUT n] [MAX_BATCH_ROWS n]
    [MAX_BATCH_SIZE n [KB|MB]] (r_CREATE_EXTERNAL_FUNCTION.html). Stored as a function in the language `exfunc`,
    which cannot run here; pg_proc lists it like any other function."""
    from devstack.redshift import translate
    from devstack.redshift.ddl import spaced
    cursor = Cursor(words)
    cursor.expect("CREATE")
    replace = cursor.accept("OR") and bool(cursor.expect("REPLACE"))
    cursor.expect("EXTERNAL")
    cursor.expect("FUNCTION")
    name = creation_name(_qualified(cursor, engine), engine)
    arguments = [translate.expression(spaced(part), engine) for part in _split(cursor.group()) if part]
    cursor.expect("RETURNS")
    start = cursor.pos
    while not cursor.done and not cursor.at("VOLATILE", "STABLE", "IMMUTABLE"):
        cursor.take()
    returns = translate.expression(spaced(words[start:cursor.pos]), engine)
    volatility = cursor.expect("VOLATILE", "STABLE", "IMMUTABLE").upper
    target = _string_after(words, "LAMBDA", "SAGEMAKER")
    if target is None:
        raise _error("42601", "CREATE EXTERNAL FUNCTION needs LAMBDA 'function' or SAGEMAKER 'endpoint'")
    if not any(t.is_word("IAM_ROLE") for t in words):
        raise _error("42601", "CREATE EXTERNAL FUNCTION needs IAM_ROLE")
    from devstack.redshift.lexer import quote_literal
    return engine.run(f"CREATE {'OR REPLACE ' if replace else ''}FUNCTION {name.sql(engine)}({', '.join(arguments)}) "
                      f"RETURNS {returns} {volatility} LANGUAGE exfunc AS {quote_literal(target)}")


def alter_schema_quota(engine, tokens, words):
    """ALTER SCHEMA name QUOTA {n [MB|GB|TB] | UNLIMITED} (r_ALTER_SCHEMA.html): storage quotas have no meaning
    here; the schema must exist."""
    cursor = Cursor(words)
    cursor.pos = 2
    name = _name(cursor, engine)
    cursor.expect("QUOTA")
    if not cursor.accept("UNLIMITED"):
        amount = cursor.take()
        if not amount.text.replace(".", "", 1).isdigit():
            raise _error("42601", f'syntax error at or near "{amount.text}"')
        cursor.accept("MB", "GB", "TB")
    if not cursor.done:
        raise _syntax(cursor)
    if not engine.query("select 1 from pg_catalog.pg_namespace where r2a_emulator.rs_name(nspname) = %s", (name,)):
        raise _error("3F000", f'schema "{name}" does not exist')
    return _result("ALTER SCHEMA")


# ---------------------------------------------------------------- dispatch

def handler_for(words: list[Token]):
    upper = [t.upper for t in words[:5]]
    if upper[:3] == ["CREATE", "EXTERNAL", "SCHEMA"]:
        return create_external_schema
    if upper[:3] == ["CREATE", "EXTERNAL", "TABLE"]:
        return create_external_table
    if upper[:3] == ["CREATE", "EXTERNAL", "FUNCTION"] or upper[:5] == ["CREATE", "OR", "REPLACE", "EXTERNAL",
                                                                         "FUNCTION"]:
        return create_external_function
    if upper[:2] == ["CREATE", "LIBRARY"] or upper[:4] == ["CREATE", "OR", "REPLACE", "LIBRARY"]:
        return create_library
    if upper[:2] == ["CREATE", "MODEL"]:
        return create_model
    if upper[:2] in (["DROP", "LIBRARY"], ["DROP", "MODEL"]) or (upper[:2] == ["DROP", "SCHEMA"] and len(words) > 2):
        return drop_object
    if upper[:3] == ["CREATE", "RLS", "POLICY"]:
        return create_rls_policy
    if upper[:3] in (["ATTACH", "RLS", "POLICY"], ["DETACH", "RLS", "POLICY"]):
        return attach_rls_policy
    if upper[:3] == ["DROP", "RLS", "POLICY"]:
        return drop_rls_policy
    if upper[:2] == ["ALTER", "TABLE"] and any(a.is_word("ROW") and b.is_word("LEVEL")
                                               for a, b in zip(words, words[1:], strict=False)):
        return alter_table_rls
    if upper[:2] == ["ALTER", "SCHEMA"] and len(words) > 3 and words[3].is_word("QUOTA"):
        return alter_schema_quota
    if upper[:2] == ["CREATE", "DATASHARE"]:
        return create_datashare
    if upper[:2] == ["ALTER", "DATASHARE"]:
        return alter_datashare
    if upper[:2] == ["DROP", "DATASHARE"]:
        return drop_datashare
    if upper[:1] in (["GRANT"], ["REVOKE"]) and upper[1:4] == ["USAGE", "ON", "DATASHARE"]:
        return grant_datashare
    if upper[:2] == ["CREATE", "DATABASE"] and any(t.is_word("DATASHARE") for t in words):
        return create_database_from_datashare
    return None
