"""A throw-away database inside the scratch PostgreSQL server, one per validation, dropped afterwards.

The scratch DSN names a server (and a database to connect to for administration); every run creates its own
`r2a_validate_<run hash>_<random>` database from template0, so runs never see each other's objects and a
leftover of a crashed attempt of the same run is dropped before the next attempt starts.

The rewritten DDL holds text from Redshift, so it never runs as the DSN's user (a superuser on the sidecar, who
could `COPY … TO PROGRAM`, use `lo_*` files or `ALTER SYSTEM`). That user only creates a login role of the same
name as the database, with a random password, no SUPERUSER/CREATEDB/REPLICATION/BYPASSRLS, which owns the
database; the DDL and pg_dump run as that role. On PostgreSQL 16 and later it also gets CREATEROLE, so post-data
written with --grants can create Redshift's users and groups: since 16 a CREATEROLE role can grant only roles it
holds ADMIN OPTION on (the ones it created), not pg_execute_server_program or other predefined roles
(https://www.postgresql.org/docs/16/sql-createrole.html, "CREATEROLE"). Before 16 CREATEROLE could grant any
non-superuser role, so there the role objects fail on scratch and are reported as not migrated.

Roles are not per database: post-data written with --grants creates Redshift's users and groups as roles, and
they would outlive the scratch database, on the server where (on devstack, or a scratch instance beside the
target) AlloyDB's own roles live. So the roles the run's SQL may create (its user and group objects) that did
not exist before the validation are dropped with the database, then the owner role; no other role is touched,
even one that another session created meanwhile.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg2
import psycopg2.extensions
from psycopg2 import sql

from shared import stepnames
from shared.connections import dsn_connection
from shared.errors import ConfigError, TransientError
from shared.log import event, one_line, register_secret

STEP = stepnames.VALIDATE_RESTORE
DATABASE_PREFIX = "r2a_validate_"
CREATEROLE_SAFE_FROM = 160000  # see the module docstring


@dataclass(frozen=True)
class ScratchDatabase:
    name: str
    dsn: str  # libpq DSN of the new database as its owner role (carries the password: never log it)
    server_version_num: int

    @property
    def server_major(self) -> int:
        return self.server_version_num // 10000


def run_prefix(run_id: str) -> str:
    return f"{DATABASE_PREFIX}{hashlib.sha256(run_id.encode()).hexdigest()[:12]}_"


def database_dsn(dsn: str, database: str, user: str | None = None, password: str | None = None) -> str:
    """`dsn` pointed at `database`; with `user`, as that user (and its password, or none: a server that trusts
    loopback connections asks for none)."""
    params = psycopg2.extensions.parse_dsn(dsn)
    params["dbname"] = database
    if user is not None:
        params["user"] = user
        params.pop("password", None)
        if password is not None:
            params["password"] = password
    return psycopg2.extensions.make_dsn(**params)


def _admin(conn: psycopg2.extensions.connection, statement: sql.Composable, what: str) -> None:
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
    except psycopg2.errors.InsufficientPrivilege:
        raise ConfigError(f"the scratch PostgreSQL user may not {what}",
                          "The user of R2A_SCRATCH_DSN must be able to create roles and databases "
                          "(the scratch server's superuser)") from None
    except psycopg2.Error as exc:
        raise TransientError(f"scratch PostgreSQL could not {what}: {one_line(exc, 200)}") from None


def role_names(conn: psycopg2.extensions.connection) -> set[str]:
    with conn.cursor() as cur:
        cur.execute("select rolname from pg_roles")
        return {row[0] for row in cur.fetchall()}


def drop_new_roles(admin: psycopg2.extensions.connection, candidates: Collection[str], before: set[str]
                   ) -> list[str]:
    """Drop the candidate roles that exist now but not `before`; one that cannot go (used elsewhere meanwhile)
    stays, with a warning, because the validation itself succeeded. Returns the dropped names."""
    dropped = []
    for role in sorted((role_names(admin) - before) & set(candidates)):
        try:
            with admin.cursor() as cur:
                cur.execute(sql.SQL("drop role {}").format(sql.Identifier(role)))
            dropped.append(role)
        except psycopg2.Error as exc:
            event("scratch.role_kept", level=logging.WARNING, role=role,
                  reason=one_line(exc, 200))
    return dropped


def _drop_leftovers(admin: psycopg2.extensions.connection, prefix: str) -> None:
    """Databases and owner roles of this run's killed attempts (a role goes only once its database has)."""
    with admin.cursor() as cur:
        cur.execute("select datname from pg_database where starts_with(datname, %s)", (prefix,))
        databases = [row[0] for row in cur.fetchall()]
        cur.execute("select rolname from pg_roles where starts_with(rolname, %s)", (prefix,))
        roles = [row[0] for row in cur.fetchall()]
    for leftover in databases:
        _admin(admin, sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(leftover)),
               f"drop the leftover database {leftover}")
    drop_new_roles(admin, roles, set())  # one still in use stays, with a warning: it blocks nothing


def _create_owner(admin: psycopg2.extensions.connection, name: str, version_num: int) -> str:
    """The login role that owns the database and runs its DDL; returns its password."""
    password = secrets.token_urlsafe(24)
    register_secret(password)
    createrole = sql.SQL(" CREATEROLE") if version_num >= CREATEROLE_SAFE_FROM else sql.SQL("")
    _admin(admin, sql.SQL("create role {} login password {} nosuperuser nocreatedb noreplication nobypassrls"
                          "{}").format(sql.Identifier(name), sql.Literal(password), createrole),
           "create a role")
    return password


@contextmanager
def scratch_database(admin_dsn: str, run_id: str, roles: Collection[str] = ()) -> Iterator[ScratchDatabase]:
    """Create a fresh empty database for this run, owned by a new unprivileged role; drop both, and those of
    `roles` that the validation created, whatever happened."""
    admin = dsn_connection(admin_dsn, STEP, system="scratch PostgreSQL")
    admin.autocommit = True
    prefix = run_prefix(run_id)
    name = prefix + secrets.token_hex(3)
    try:
        with admin.cursor() as cur:
            cur.execute("select current_setting('server_version_num')::int")
            version_num = cur.fetchone()[0]
        _drop_leftovers(admin, prefix)
        roles_before = role_names(admin)
        password = _create_owner(admin, name, version_num)
        try:
            _admin(admin, sql.SQL("create database {} owner {} template template0 encoding 'UTF8'").format(
                sql.Identifier(name), sql.Identifier(name)), "create a database")
            yield ScratchDatabase(name, database_dsn(admin_dsn, name, name, password), version_num)
        except BaseException:
            try:
                _cleanup(admin, name, roles, roles_before)
            except Exception:  # the original failure matters more than the cleanup's
                pass
            raise
        dropped = _cleanup(admin, name, roles, roles_before)
        if dropped:
            event("scratch.roles_dropped", roles=len(dropped))
    finally:
        admin.close()


def _cleanup(admin: psycopg2.extensions.connection, owner: str, roles: Collection[str],
             roles_before: set[str]) -> list[str]:
    """Drop the database (named like its owner), the roles its DDL created, then the owner role."""
    _admin(admin, sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(owner)),
           f"drop the database {owner}")
    dropped = drop_new_roles(admin, set(roles) - {owner}, roles_before)
    drop_new_roles(admin, [owner], set())  # after the roles it may have created (they depend on it)
    return dropped
