"""A throw-away database inside the scratch PostgreSQL server, one per validation, dropped afterwards.

The scratch DSN names a server (and a database to connect to for administration); every run creates its own
`r2a_validate_<run hash>_<random>` database from template0, so runs never see each other's objects and a
leftover of a crashed attempt of the same run is dropped before the next attempt starts.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg2
import psycopg2.extensions
from psycopg2 import sql

from shared.connections import dsn_connection
from shared.errors import ConfigError, TransientError

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
        raise TransientError(f"scratch PostgreSQL could not {what}: {' '.join(str(exc).split())[:200]}") from None


@contextmanager
def scratch_database(admin_dsn: str, run_id: str) -> Iterator[ScratchDatabase]:
    """Create a fresh empty database for this run; drop it on the way out, whatever happened."""
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
        _admin(admin, sql.SQL("create database {} template template0 encoding 'UTF8'").format(
            sql.Identifier(name)), "create a database")
        drop = sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
        try:
            yield ScratchDatabase(name, database_dsn(admin_dsn, name), version_num)
        except BaseException:
            try:
                _admin(admin, drop, f"drop the database {name}")
            except Exception:  # the original failure matters more than the cleanup's
                pass
            raise
        _admin(admin, drop, f"drop the database {name}")
    finally:
        admin.close()
