"""Run one object's SQL under a SAVEPOINT of a long transaction, so a failing object costs only itself.

validate_restore (on the scratch PostgreSQL) and load_schema (on AlloyDB) both apply rewrite_ddl's object blocks
this way: a statement error rolls back to the savepoint and comes back as a value, a lost connection is raised as
a TransientError, because no object is at fault then and a retry of the step may help. The order, retries and
skips around it are shared/applyengine.py's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg2
import psycopg2.extensions

from shared.errors import TransientError
from shared.log import one_line
from shared.sqlblocks import SqlObject

# SQLSTATEs meaning "it is already there": duplicate table/relation, object, function, schema.
ALREADY_EXISTS = {"42P07", "42710", "42723", "42P06"}


def has_statement(obj: SqlObject) -> bool:
    """False for a block holding only comments (rewrite_ddl writes those for objects it could not convert)."""
    return any(line.strip() and not line.strip().startswith("--") for line in obj.sql.split("\n"))


def pg_error_line(exc: psycopg2.Error) -> str:
    """PostgreSQL's primary message and SQLSTATE, on one line."""
    diag = getattr(exc, "diag", None)
    message = (diag.message_primary if diag is not None else None) or str(exc).strip().split("\n")[0]
    text = one_line(message)
    return f"{text} (SQLSTATE {exc.pgcode})" if exc.pgcode else text


@dataclass
class StatementError:
    message: str  # pg_error_line of the failure
    sqlstate: str | None

    @property
    def already_exists(self) -> bool:
        return self.sqlstate in ALREADY_EXISTS


class SavepointApplier:
    """Statements inside SAVEPOINTs of a transaction committed every `commit_every` successful runs.

    `system` names the database in the TransientError of a lost connection ("AlloyDB", "scratch PostgreSQL").
    """

    def __init__(self, conn: psycopg2.extensions.connection, commit_every: int = 200, system: str = "database",
                 on_commit: Callable[[], None] | None = None):
        self.conn = conn
        self.commit_every = commit_every
        self.system = system
        self.on_commit = on_commit
        self._since_commit = 0
        if conn.autocommit:
            conn.autocommit = False

    def run(self, *statements: tuple[Any, Sequence | None] | Any) -> StatementError | None:
        """Run statements (SQL, or (SQL, params)) together: all of them or none."""
        outcome = self._guarded(statements)
        if isinstance(outcome, StatementError):
            return outcome
        self._since_commit += 1
        if self._since_commit >= self.commit_every:
            self.commit()
        return None

    def query(self, statement: Any, params: Sequence | None = None) -> list[tuple] | StatementError:
        """A read (violation counts, catalog lookups) that may fail without aborting the transaction."""
        return self._guarded([(statement, params)])

    def commit(self) -> None:
        try:
            self.conn.commit()
        except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
            raise self._lost(exc) from None
        self._since_commit = 0
        if self.on_commit is not None:
            self.on_commit()

    def _guarded(self, statements: Sequence) -> list[tuple] | StatementError:
        try:
            return self._in_savepoint(statements)
        except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:  # the connection, not the statement
            raise self._lost(exc) from None

    def _in_savepoint(self, statements: Sequence) -> list[tuple] | StatementError:
        rows: list[tuple] = []
        with self.conn.cursor() as cur:
            cur.execute("SAVEPOINT r2a_object")
            try:
                for statement in statements:
                    query, params = statement if isinstance(statement, tuple) else (statement, None)
                    cur.execute(query, params)
                    rows = cur.fetchall() if cur.description else []
            except psycopg2.Error as exc:
                if exc.pgcode is None or self.conn.closed:
                    raise
                cur.execute("ROLLBACK TO SAVEPOINT r2a_object")
                return StatementError(pg_error_line(exc), exc.pgcode)
            cur.execute("RELEASE SAVEPOINT r2a_object")
        return rows

    def _lost(self, exc: Exception) -> TransientError:
        return TransientError(f"lost the {self.system} connection: {one_line(exc, 200)}")
