"""Role-based access control: CREATE / ALTER / DROP ROLE and GRANT / REVOKE ROLE
(https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_ROLE.html, r_ALTER_ROLE.html, r_DROP_ROLE.html,
r_GRANT.html "GRANT ROLE"). A role is a backend role `r2a_r_<name>` (NOLOGIN) remembered in r2a_emulator.roles;
granting it to a user or a role is backend membership, so svv_roles, svv_user_grants and svv_role_grants
(catalog.sql) read it back. GRANT … TO ROLE r (users.grant) names the same backend role."""

from __future__ import annotations

from devstack.redshift.ddl import Cursor, folded, is_name, user_name
from devstack.redshift.lexer import STRING, quote_ident, string_value

ROLE_PREFIX = "r2a_r_"


def _error(sqlstate: str, message: str):
    from devstack.redshift.engine import EmulatorError
    return EmulatorError(sqlstate, message)


def _result(tag: str):
    from devstack.redshift.engine import Result
    return Result(None, [], tag)


def role_sql(engine, name: str) -> str:
    rows = engine.query("select rolname from r2a_emulator.roles where rolename = %s", (name,))
    if not rows:
        raise _error("42704", f'role "{name}" does not exist')
    return quote_ident(rows[0][0])


def _name(cursor: Cursor, engine) -> str:
    if not is_name(cursor.peek()):
        found = cursor.peek().text if cursor.peek() else "end of input"
        raise _error("42601", f'syntax error at or near "{found}"')
    return folded(cursor.take(), engine)


def create_role(engine, tokens, words):
    cursor = Cursor(words)
    cursor.pos = 2
    name = _name(cursor, engine)
    external = None
    if cursor.accept("EXTERNALID"):
        token = cursor.take()
        external = string_value(token) if token.kind == STRING else token.text
    if not cursor.done:
        raise _error("42601", f'syntax error at or near "{cursor.peek().text}"')
    if engine.query("select 1 from r2a_emulator.roles where rolename = %s", (name,)):
        raise _error("42710", f'role "{name}" already exists')
    from devstack.redshift.users import free_role_name
    backend = free_role_name(engine, ROLE_PREFIX, name)
    with engine.transaction():
        engine.run(f"CREATE ROLE {quote_ident(backend)} NOLOGIN")
        engine.run("insert into r2a_emulator.roles (rolename, rolname, owner, external_id) values (%s, %s, %s, %s)",
                   (name, backend, engine.user, external))
    return _result("CREATE ROLE")


def alter_role(engine, tokens, words):
    cursor = Cursor(words)
    cursor.pos = 2
    name = _name(cursor, engine)
    role_sql(engine, name)
    cursor.accept("WITH")
    if cursor.accept("RENAME"):
        cursor.expect("TO")
        engine.run("update r2a_emulator.roles set rolename = %s where rolename = %s", (_name(cursor, engine), name))
    elif cursor.accept("EXTERNALID"):
        cursor.expect("TO")
        token = cursor.take()
        engine.run("update r2a_emulator.roles set external_id = %s where rolename = %s",
                   (string_value(token) if token.kind == STRING else token.text, name))
    else:
        found = cursor.peek().text if cursor.peek() else "end of input"
        raise _error("42601", f'syntax error at or near "{found}"')
    return _result("ALTER ROLE")


def drop_role(engine, tokens, words):
    """DROP ROLE name [FORCE | RESTRICT]: RESTRICT (the default) refuses a role still granted to someone."""
    cursor = Cursor(words)
    cursor.pos = 2
    name = _name(cursor, engine)
    force = cursor.accept("FORCE")
    cursor.accept("RESTRICT")
    backend = role_sql(engine, name)
    members = engine.query("select count(*) from pg_catalog.pg_auth_members m join pg_catalog.pg_roles r "
                           "on r.oid = m.roleid where r.rolname = %s", (backend.strip('"'),))[0][0]
    if int(members) and not force:
        raise _error("2BP01", f'cannot drop role "{name}": it is granted to users or roles (use FORCE)')
    with engine.transaction():
        engine.run(f"DROP OWNED BY {backend}")
        engine.run(f"DROP ROLE {backend}")
        engine.run("delete from r2a_emulator.roles where rolename = %s", (name,))
    return _result("DROP ROLE")


def grant_role(engine, tokens, words):
    """GRANT ROLE r [, ROLE r2] TO {user [WITH ADMIN OPTION] | ROLE r3} [, …];
    REVOKE [ADMIN OPTION FOR] ROLE r [, …] FROM {user | ROLE r3} [, …]."""
    cursor = Cursor(words)
    granting = cursor.take().upper == "GRANT"
    admin_for = False
    if not granting and cursor.at("ADMIN"):
        cursor.pos += 3                              # ADMIN OPTION FOR
        admin_for = True
    roles = []
    while cursor.accept("ROLE"):
        roles.append(role_sql(engine, _name(cursor, engine)))
        if not cursor.at_punct(","):
            break
        cursor.take()
    cursor.expect("TO" if granting else "FROM")
    members, admin = [], False
    while not cursor.done:
        if cursor.accept("ROLE"):
            members.append(role_sql(engine, _name(cursor, engine)))
        elif is_name(cursor.peek()):
            from devstack.redshift.users import role_sql as user_sql
            members.append(user_sql(engine, user_name(cursor.take(), engine)))
        if cursor.at("WITH") and cursor.at("ADMIN", offset=1):
            cursor.pos += 3
            admin = True
        if not cursor.at_punct(","):
            break
        cursor.take()
    if not roles or not members or not cursor.done:
        found = cursor.peek().text if cursor.peek() else "end of input"
        raise _error("42601", f'syntax error at or near "{found}"')
    if granting:
        sql = f"GRANT {', '.join(roles)} TO {', '.join(members)}{' WITH ADMIN OPTION' if admin else ''}"
    else:
        sql = f"REVOKE {'ADMIN OPTION FOR ' if admin_for else ''}{', '.join(roles)} FROM {', '.join(members)}"
    engine.run(sql)
    return _result("GRANT" if granting else "REVOKE")


def handler_for(words):
    upper = [t.upper for t in words[:3]]
    if upper[:2] == ["CREATE", "ROLE"]:
        return create_role
    if upper[:2] == ["ALTER", "ROLE"]:
        return alter_role
    if upper[:2] == ["DROP", "ROLE"]:
        return drop_role
    if upper[:2] in (["GRANT", "ROLE"], ["REVOKE", "ROLE"]) or upper[:3] == ["REVOKE", "ADMIN", "OPTION"]:
        return grant_role
    return None
