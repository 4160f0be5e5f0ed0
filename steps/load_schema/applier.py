"""Run one object's SQL under a SAVEPOINT, and the report entries every section writes.

(validate_restore has the same SavepointApplier; a step never imports another step, so this small copy lives
here until it moves to shared/.)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg2
import psycopg2.extensions

from shared.errors import TransientError
from shared.sqlblocks import SqlObject

STEP = "load_schema"
FORMAT_VERSION = 1
# SQLSTATEs meaning "it is already there": duplicate table/relation, object, function, schema.
ALREADY_EXISTS = {"42P07", "42710", "42723", "42P06"}


@dataclass
class ObjectReport:
    kind: str
    name: str
    target_name: str | None
    status: str  # applied | failed | skipped | not_valid
    reason: str | None = None
    depends_on: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)  # violations, next_value, ...

    @classmethod
    def of(cls, obj: SqlObject, status: str, reason: str | None = None, **details: Any) -> ObjectReport:
        return cls(obj.kind, obj.name, obj.target_name, status, reason, list(obj.depends_on), details)

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"kind": self.kind, "name": self.name, "target_name": self.target_name,
                                 "status": self.status, "depends_on": self.depends_on}
        if self.reason:
            entry["reason"] = self.reason
        entry.update(self.details)
        return entry


def object_report(run_id: str, section: str, objects: Sequence[ObjectReport], **extra: Any) -> dict[str, Any]:
    counts = Counter(o.status for o in objects)
    return {"format_version": FORMAT_VERSION, "run_id": run_id, "step": STEP, "section": section,
            "objects": [o.to_json() for o in objects], "counts": dict(sorted(counts.items())), **extra}


def has_statement(obj: SqlObject) -> bool:
    return any(line.strip() and not line.strip().startswith("--") for line in obj.sql.splitlines())


@dataclass
class StatementError:
    message: str  # PostgreSQL's primary message and SQLSTATE, one line
    sqlstate: str | None

    @property
    def already_exists(self) -> bool:
        return self.sqlstate in ALREADY_EXISTS


class SavepointApplier:
    """Statements inside SAVEPOINTs of a transaction committed every `commit_every` objects.

    A statement error rolls back to the savepoint and comes back as a StatementError; a lost connection is a
    TransientError (no object is at fault, and a retry of the step may help).
    """

    def __init__(self, conn: psycopg2.extensions.connection, commit_every: int = 200,
                 on_commit: Callable[[], None] | None = None):
        self.conn = conn
        self.commit_every = commit_every
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

    def _guarded(self, statements: Sequence) -> list[tuple] | StatementError:
        try:
            return self._in_savepoint(statements)
        except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:  # the connection, not the statement
            raise TransientError(f"lost the AlloyDB connection: {' '.join(str(exc).split())[:200]}") from None

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
                return StatementError(_error_line(exc), exc.pgcode)
            cur.execute("RELEASE SAVEPOINT r2a_object")
        return rows

    def commit(self) -> None:
        try:
            self.conn.commit()
        except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
            raise TransientError(f"lost the AlloyDB connection: {' '.join(str(exc).split())[:200]}") from None
        self._since_commit = 0
        if self.on_commit is not None:
            self.on_commit()


def _error_line(exc: psycopg2.Error) -> str:
    diag = getattr(exc, "diag", None)
    message = (diag.message_primary if diag is not None else None) or str(exc).strip().splitlines()[0]
    text = " ".join(message.split())
    return f"{text} (SQLSTATE {exc.pgcode})" if exc.pgcode else text
