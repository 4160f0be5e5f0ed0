"""A throw-away database inside the scratch PostgreSQL server, one per validation, dropped afterwards.

The scratch DSN names a server (and a database to connect to for administration); every run creates its own
`r2a_validate_<run hash>_<random>` database from template0, so runs never see each other's objects and a
leftover of a crashed attempt of the same run is dropped before the next attempt starts.

Roles are not per database: post-data written with --grants creates Redshift's users and groups as roles, and
they would outlive the scratch database, on the server where (on devstack, or a scratch instance beside the
target) AlloyDB's own roles live. So the roles the run's SQL may create (its user and group objects) that did
not exist before the validation are dropped with the database; no other role is touched, even one that another
session created meanwhile.
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

from shared.connections import dsn_connection
from shared.errors import ConfigError, TransientError
from shared.log import event, one_line

STEP = "validate_restore"
DATABASE_PREFIX = "r2a_validate_"


@dataclass(frozen=True)
class ScratchDatabase:
    name: str
    dsn: str  # libpq DSN of the new database (carries the password: never log it)
    server_version_num: int

    @property
    def server_major(self) -> int:
        return self.server_version_num // 10000


def run_prefix(run_id: str) -> str:
    return f"{DATABASE_PREFIX}{hashlib.sha256(run_id.encode()).hexdigest()[:12]}_"


def database_dsn(dsn: str, database: str) -> str:
    params = psycopg2.extensions.parse_dsn(dsn)
    params["dbname"] = database
    return psycopg2.extensions.make_dsn(**params)


def _admin(conn: psycopg2.extensions.connection, statement: sql.Composable, what: str) -> None:
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
    except psycopg2.errors.InsufficientPrivilege:
        raise ConfigError(f"the scratch PostgreSQL user may not {what}",
                          "Grant CREATEDB to the user of R2A_SCRATCH_DSN") from None
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


@contextmanager
def scratch_database(admin_dsn: str, run_id: str, roles: Collection[str] = ()) -> Iterator[ScratchDatabase]:
    """Create a fresh empty database for this run; drop it, and those of `roles` that the validation created,
    whatever happened."""
    admin = dsn_connection(admin_dsn, STEP, system="scratch PostgreSQL")
    admin.autocommit = True
    prefix = run_prefix(run_id)
    name = prefix + secrets.token_hex(3)
    try:
        with admin.cursor() as cur:
            cur.execute("select current_setting('server_version_num')::int")
            version_num = cur.fetchone()[0]
            cur.execute("select datname from pg_database where starts_with(datname, %s)", (prefix,))
            leftovers = [row[0] for row in cur.fetchall()]
        for leftover in leftovers:
            _admin(admin, sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(leftover)),
                   f"drop the leftover database {leftover}")
        roles_before = role_names(admin)
        _admin(admin, sql.SQL("create database {} template template0 encoding 'UTF8'").format(
            sql.Identifier(name)), "create a database")
        drop = sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
        try:
            yield ScratchDatabase(name, database_dsn(admin_dsn, name), version_num)
        except BaseException:
            try:
                _admin(admin, drop, f"drop the database {name}")
                drop_new_roles(admin, roles, roles_before)
            except Exception:  # the original failure matters more than the cleanup's
                pass
            raise
        _admin(admin, drop, f"drop the database {name}")
        dropped = drop_new_roles(admin, roles, roles_before)
        if dropped:
            event("scratch.roles_dropped", roles=len(dropped))
    finally:
        admin.close()
