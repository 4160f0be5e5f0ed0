"""Redshift users and groups, and the GRANTs that name them.

A Redshift user or group becomes a NOLOGIN role of the backend cluster with a prefix (r2a_u_ / r2a_g_), so the
backend's own ACLs hold the grants and a user and a group may share a name, as in Redshift; r2a_emulator.users and
.groups map them back (the catalog views pg_user, pg_group and every *acl column show Redshift's names).
Sessions always run as the backend role; a created user can log in with its password."""

from __future__ import annotations

from devstack.redshift import translate
from devstack.redshift.ddl import Cursor, folded, is_name, user_name
from devstack.redshift.lexer import NUMBER, PUNCT, STRING, Token, quote_ident, string_value
from devstack.redshift.state import backend_name, user_password_hash

USER_PREFIX = "r2a_u_"
GROUP_PREFIX = "r2a_g_"


def _error(sqlstate: str, message: str):
    from devstack.redshift.engine import EmulatorError
    return EmulatorError(sqlstate, message)


def _result(tag: str):
    from devstack.redshift.engine import Result
    return Result(None, [], tag)


def free_role_name(engine, prefix: str, name: str) -> str:
    """A backend role name for a new Redshift user, group or role: a renamed one keeps its backend role, so the
    plain name may be taken by an object that is now called otherwise."""
    candidate, number = backend_name(prefix + name), 1
    while engine.query("select 1 from pg_catalog.pg_roles where rolname = %s", (candidate,)):
        number += 1
        candidate = backend_name(f"{prefix}{name}_{number}")
    return candidate


def role_sql(engine, user: str) -> str:
    """The backend role of a Redshift user name (the master user is the backend's own role)."""
    if user == engine.config.master_user:
        return quote_ident(engine.query("select session_user")[0][0])
    if user.upper() == "PUBLIC":
        return "PUBLIC"
    rows = engine.query("select rolname from r2a_emulator.users where usename = %s", (user,))
    if not rows:
        raise _error("42704", f'user "{user}" does not exist')
    return quote_ident(rows[0][0])


def group_sql(engine, group: str) -> str:
    rows = engine.query("select rolname from r2a_emulator.groups where groname = %s", (group,))
    if not rows:
        raise _error("42704", f'group "{group}" does not exist')
    return quote_ident(rows[0][0])


def _names(cursor: Cursor, engine, users: bool = False) -> list[str]:
    names = []
    while not cursor.done and is_name(cursor.peek()):
        names.append((user_name if users else folded)(cursor.take(), engine))
        if cursor.at_punct(","):
            cursor.take()
        else:
            break
    return names


# ---------------------------------------------------------------- users

def create_user(engine, tokens, words):
    cursor = Cursor(words)
    cursor.expect("CREATE")
    cursor.expect("USER")
    name = user_name(cursor.take(), engine)
    if name == engine.config.master_user or engine.query("select 1 from r2a_emulator.users where usename = %s",
                                                         (name,)):
        raise _error("42710", f'user "{name}" already exists')
    options = _user_options(cursor, engine, name)
    role = free_role_name(engine, USER_PREFIX, name)
    with engine.transaction():
        engine.run(f"CREATE ROLE {quote_ident(role)} NOLOGIN")
        engine.run("insert into r2a_emulator.users (usename, rolname, usesuper, usecreatedb, password_md5, valuntil, "
                   "connection_limit) values (%s, %s, %s, %s, %s, %s, %s)",
                   (name, role, options.get("super", False), options.get("createdb", False),
                    options.get("password"), options.get("valuntil"), options.get("limit")))
        for group in options.get("groups", []):
            engine.run(f"GRANT {group_sql(engine, group)} TO {quote_ident(role)}")
    return _result("CREATE USER")


def _user_options(cursor: Cursor, engine, name: str) -> dict:
    options: dict = {}
    cursor.accept("WITH")
    while not cursor.done:
        if cursor.accept("PASSWORD"):
            if cursor.accept("DISABLE"):
                options["password"] = None
            else:
                token = cursor.take()
                if token.kind != STRING:
                    raise _error("42601", "PASSWORD needs a quoted string")
                options["password"] = user_password_hash(string_value(token), name)
        elif cursor.accept("CREATEDB"):
            options["createdb"] = True
        elif cursor.accept("NOCREATEDB"):
            options["createdb"] = False
        elif cursor.accept("CREATEUSER"):
            options["super"] = True
        elif cursor.accept("NOCREATEUSER"):
            options["super"] = False
        elif cursor.accept("SYSLOG"):
            cursor.expect("ACCESS")
            cursor.expect("RESTRICTED", "UNRESTRICTED")
        elif cursor.accept("IN"):
            cursor.expect("GROUP")
            options["groups"] = _names(cursor, engine)
        elif cursor.accept("VALID"):
            cursor.expect("UNTIL")
            options["valuntil"] = string_value(cursor.take())
        elif cursor.accept("CONNECTION"):
            cursor.expect("LIMIT")
            token = cursor.take()
            options["limit"] = int(token.text) if token.kind == NUMBER else None
        elif cursor.accept("SESSION"):
            cursor.expect("TIMEOUT")
            cursor.take()
        elif cursor.accept("EXTERNALID"):
            cursor.take()
        elif cursor.at("RENAME"):
            break
        else:
            raise _error("42601", f'syntax error at or near "{cursor.peek().text}"')
    return options


def alter_user(engine, tokens, words):
    cursor = Cursor(words)
    cursor.expect("ALTER")
    cursor.expect("USER")
    name = user_name(cursor.take(), engine)
    if name == engine.config.master_user:
        return _result("ALTER USER")
    role_sql(engine, name)
    if cursor.accept("RENAME"):
        cursor.expect("TO")
        new = user_name(cursor.take(), engine)
        engine.run("update r2a_emulator.users set usename = %s where usename = %s", (new, name))
        return _result("ALTER USER")
    if cursor.at("SET", "RESET"):
        return _result("ALTER USER")
    options = _user_options(cursor, engine, name)
    updates = {"password": "password_md5", "super": "usesuper", "createdb": "usecreatedb", "valuntil": "valuntil",
               "limit": "connection_limit"}
    with engine.transaction():
        for key, column in updates.items():
            if key in options:
                engine.run(f"update r2a_emulator.users set {column} = %s where usename = %s", (options[key], name))  # nosec B608  # column comes from the fixed option-to-column table above; values are bound
    return _result("ALTER USER")


def drop_user(engine, tokens, words):
    cursor = Cursor(words)
    cursor.expect("DROP")
    cursor.expect("USER")
    if_exists = cursor.at("IF") and cursor.at("EXISTS", offset=1)
    if if_exists:
        cursor.pos += 2
    with engine.transaction():
        for name in _names(cursor, engine, users=True):
            rows = engine.query("select rolname from r2a_emulator.users where usename = %s", (name,))
            if not rows:
                if if_exists:
                    continue
                raise _error("42704", f'user "{name}" does not exist')
            engine.run(f"DROP ROLE {quote_ident(rows[0][0])}")
            engine.run("delete from r2a_emulator.users where usename = %s", (name,))
    return _result("DROP USER")


# ---------------------------------------------------------------- groups

def create_group(engine, tokens, words):
    cursor = Cursor(words)
    cursor.expect("CREATE")
    cursor.expect("GROUP")
    name = folded(cursor.take(), engine)
    if engine.query("select 1 from r2a_emulator.groups where groname = %s", (name,)):
        raise _error("42710", f'group "{name}" already exists')
    members = []
    cursor.accept("WITH")
    if cursor.accept("USER"):
        members = _names(cursor, engine, users=True)
    role = free_role_name(engine, GROUP_PREFIX, name)
    with engine.transaction():
        engine.run(f"CREATE ROLE {quote_ident(role)} NOLOGIN")
        engine.run("insert into r2a_emulator.groups (groname, rolname) values (%s, %s)", (name, role))
        for member in members:
            engine.run(f"GRANT {quote_ident(role)} TO {role_sql(engine, member)}")
    return _result("CREATE GROUP")


def alter_group(engine, tokens, words):
    cursor = Cursor(words)
    cursor.expect("ALTER")
    cursor.expect("GROUP")
    name = folded(cursor.take(), engine)
    group = group_sql(engine, name)
    if cursor.accept("RENAME"):
        cursor.expect("TO")
        engine.run("update r2a_emulator.groups set groname = %s where groname = %s",
                   (folded(cursor.take(), engine), name))
        return _result("ALTER GROUP")
    action = cursor.expect("ADD", "DROP").text.upper()
    cursor.expect("USER")
    with engine.transaction():
        for member in _names(cursor, engine, users=True):
            verb = "GRANT {} TO {}" if action == "ADD" else "REVOKE {} FROM {}"
            engine.run(verb.format(group, role_sql(engine, member)))
    return _result("ALTER GROUP")


def drop_group(engine, tokens, words):
    cursor = Cursor(words)
    cursor.expect("DROP")
    cursor.expect("GROUP")
    name = folded(cursor.take(), engine)
    group = group_sql(engine, name)
    with engine.transaction():
        engine.run(f"DROP ROLE {group}")
        engine.run("delete from r2a_emulator.groups where groname = %s", (name,))
    return _result("DROP GROUP")


# ---------------------------------------------------------------- grants and owners

def grant(engine, tokens, words):
    """GRANT/REVOKE/ALTER DEFAULT PRIVILEGES: grantees become backend roles, ON DATABASE names the backend's."""
    out: list[str] = []
    cursor = Cursor(words)
    in_grantees = False
    while not cursor.done:
        token = cursor.peek()
        if token.is_word("TO", "FROM") and not in_grantees:
            out.append(cursor.take().text)
            in_grantees = True
            continue
        if token.is_word("ON") and cursor.at("DATABASE", offset=1):
            out.append("ON DATABASE")
            cursor.pos += 2
            names = _names(cursor, engine)
            for name in names:
                if name != engine.config.database:
                    raise _error("3D000", f'database "{name}" does not exist')
            out.append(quote_ident(engine.query("select pg_catalog.current_database()")[0][0]))
            continue
        if token.is_word("PROCEDURES") and words[0].is_word("ALTER"):
            # ALTER DEFAULT PRIVILEGES … ON PROCEDURES (r_ALTER_DEFAULT_PRIVILEGES.html); PostgreSQL's ROUTINES
            # also covers functions, which is the closest the backend has
            cursor.take()
            out.append("ROUTINES")
            continue
        if token.is_word("FOR") and cursor.at("USER", offset=1):
            cursor.pos += 2
            out.append("FOR ROLE " + ", ".join(role_sql(engine, n) for n in _names(cursor, engine, users=True)))
            continue
        if in_grantees:
            if token.is_word("GROUP"):
                cursor.take()
                out.append(group_sql(engine, folded(cursor.take(), engine)))
                continue
            if token.is_word("ROLE"):
                from devstack.redshift import roles
                cursor.take()
                out.append(roles.role_sql(engine, folded(cursor.take(), engine)))
                continue
            if token.is_word("WITH", "CASCADE", "RESTRICT", "GRANTED"):
                in_grantees = False
                out.append(cursor.take().text)
                continue
            if is_name(token):
                cursor.take()
                out.append(role_sql(engine, user_name(token, engine)))
                continue
            if token.kind == PUNCT and token.text == ",":
                out.append(cursor.take().text)
                continue
        out.append(translate.statement([cursor.take()], engine))
    return engine.run(" ".join(out))


def owner_to(engine, tokens: list[Token], words: list[Token]):
    """ALTER SCHEMA/VIEW/FUNCTION/PROCEDURE … OWNER TO user."""
    head = words[:-3]
    owner = role_sql(engine, user_name(words[-1], engine))
    body = translate.statement([t for w in head for t in (w, Token("ws", " "))], engine)
    return engine.run(f"{body} OWNER TO {owner}")


def handler_for(words: list[Token]):
    upper = [t.upper for t in words[:3]]
    if upper[:2] == ["CREATE", "USER"]:
        return create_user
    if upper[:2] == ["ALTER", "USER"]:
        return alter_user
    if upper[:2] == ["DROP", "USER"]:
        return drop_user
    if upper[:2] == ["CREATE", "GROUP"]:
        return create_group
    if upper[:2] == ["ALTER", "GROUP"]:
        return alter_group
    if upper[:2] == ["DROP", "GROUP"]:
        return drop_group
    if upper[:1] in (["GRANT"], ["REVOKE"]) or upper[:3] == ["ALTER", "DEFAULT", "PRIVILEGES"]:
        return grant
    if (upper[:1] == ["ALTER"] and len(words) >= 4 and words[-3].is_word("OWNER") and words[-2].is_word("TO")
            and is_name(words[-1])):
        return owner_to
    return None
