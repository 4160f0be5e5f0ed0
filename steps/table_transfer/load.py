"""GCS → decompress → COPY FROM STDIN, so that a failure leaves the AlloyDB table as it was.

Two ways, both ending in ONE transaction that replaces the table's rows and verifies them before COMMIT
(a mismatch rolls back; nobody ever sees half a table):

- direct (default, one session): BEGIN; TRUNCATE; COPY every part as soon as the copy phase has put it in
  GCS (COPY ... FREEZE, since the table was truncated in this transaction); verify; COMMIT. The data is
  written once. A transient failure (connection lost) retries the whole load: the rollback undid it.
- staged (`load_sessions` > 1): N sessions COPY parts in parallel into a per-attempt UNLOGGED table in schema
  r2a_staging, each part in its own transaction (a transient failure retries that part only); then one
  transaction TRUNCATEs the table, INSERTs from the staging table, verifies, drops it and commits. It buys
  parallel COPY parsing for a second write of the data; worth it only for big tables on a target with cores
  to spare. Staging tables of earlier attempts of the same table are dropped first, so none leak.
"""

from __future__ import annotations

import gzip
import io
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import psycopg2
from psycopg2 import sql

from shared.ddlsession import require_own_schema
from shared.errors import TargetError, TransientError
from shared.identifiers import short_name
from shared.log import one_line
from shared.objectstore import ObjectStore
from shared.retry import DEFAULT_POLICY, RetryPolicy, is_transient, retry_call
from shared.staging import STAGING_SCHEMA, comment_staging_table, drop_staging_tables
from shared.stopping import raise_if_stopped
from steps.table_transfer import foreign_keys
from steps.table_transfer.copy import CopiedPart
from steps.table_transfer.plan import TableSpec, TransferOptions
from steps.table_transfer.unload import DELIMITER

READ_CHUNK = 1024 * 1024  # what COPY reads from the decompressed stream at a time
STOP_CHECK_S = 0.25  # how often a loader waiting for the next part looks for a SIGTERM

# (cursor, the table to verify) -> raises VerificationError; runs inside the load transaction.
Verifier = Callable[[object, sql.Composable, int], None]
ConnectionFactory = Callable[[], "psycopg2.extensions.connection"]


class UpstreamFailed(Exception):
    """The copy phase failed: loaders stop at once (never retried here); the orchestrator reports `error`."""

    def __init__(self, error: BaseException):
        super().__init__(str(error))
        self.error = error


class PartFeed:
    """Parts become ready (copied to GCS) one by one; loaders wait for them. Thread-safe."""

    def __init__(self) -> None:
        self._ready: list[CopiedPart] = []
        self._claimed = 0
        self._finished = False
        self._error: BaseException | None = None
        self._condition = threading.Condition()

    def add(self, part: CopiedPart) -> None:
        with self._condition:
            self._ready.append(part)
            self._condition.notify_all()

    def finish(self, error: BaseException | None = None) -> None:
        with self._condition:
            self._finished, self._error = True, error
            self._condition.notify_all()

    def _wait_for(self, index: int) -> CopiedPart | None:
        with self._condition:
            while index >= len(self._ready) and not self._finished and self._error is None:
                self._condition.wait(STOP_CHECK_S)
                raise_if_stopped()
            if self._error is not None:
                raise UpstreamFailed(self._error)
            return self._ready[index] if index < len(self._ready) else None

    def iterate(self) -> Iterator[CopiedPart]:
        """Every part, from the first, waiting for the next until the copy phase has finished."""
        index = 0
        while (part := self._wait_for(index)) is not None:
            yield part
            index += 1

    def claim(self) -> CopiedPart | None:
        """The next part nobody has claimed yet (None when all are taken and the copy phase is done)."""
        with self._condition:
            index = self._claimed
            self._claimed += 1
        return self._wait_for(index)


class _CountingReader(io.RawIOBase):
    """What COPY reads, counted. An exception raised while reading (a SIGTERM's Stopped, a GCS error) is kept:
    psycopg2 reports it as a QueryCanceled of the COPY, which would hide what really happened."""

    def __init__(self, inner) -> None:
        self.inner, self.count = inner, 0
        self.failure: BaseException | None = None

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        try:
            raise_if_stopped()  # a safe point: between two reads, nothing half-done in the HTTP client
            data = self.inner.read(size)
        except BaseException as exc:
            self.failure = exc
            raise
        self.count += len(data)
        return data


def open_decompressed(store: ObjectStore, url: str, compression: str):
    raw = store.open_read(url)
    if compression == "zstd":
        import zstandard

        return raw, zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
    return raw, gzip.GzipFile(fileobj=raw, mode="rb")


def copy_statement(spec: TableSpec, options: TransferOptions, table: sql.Composable | None = None,
                   freeze: bool = False) -> sql.Composed:
    columns = sql.SQL(", ").join(sql.Identifier(c.target) for c in spec.columns)
    settings = [sql.SQL("FORMAT {}").format(sql.SQL("csv" if options.format == "csv" else "text")),
                sql.SQL("NULL {}").format(sql.Literal(options.null_marker))]
    if options.format == "csv":
        # the marker is NULL even if Redshift quotes it (undocumented); no value equals it, quoted or not
        settings.append(sql.SQL("FORCE_NULL ({})").format(columns))
    else:
        settings.append(sql.SQL("DELIMITER {}").format(sql.Literal(DELIMITER)))
    if freeze:
        settings.append(sql.SQL("FREEZE"))
    return sql.SQL("COPY {} ({}) FROM STDIN WITH ({})").format(table or spec.target.sql(), columns,
                                                              sql.SQL(", ").join(settings))


@dataclass
class LoadOutcome:
    rows_loaded: int = 0
    raw_bytes: dict[str, int] = field(default_factory=dict)  # part url -> decompressed bytes
    strategy: str = "direct"
    busy_s: float = 0.0  # time spent in COPY, not waiting for the next part

    @property
    def bytes_raw(self) -> int:
        return sum(self.raw_bytes.values())


def _target_error(exc: BaseException, spec: TableSpec) -> BaseException:
    if not isinstance(exc, psycopg2.Error) or is_transient(exc):
        if isinstance(exc, psycopg2.Error):
            return TransientError(f"load of {spec.target} was interrupted: {one_line(exc, 200)}")
        return exc
    message = one_line(exc.pgerror or exc, 300)
    return TargetError(f"load of {spec.target} failed: {message}")


def _copy_one(cur, store: ObjectStore, part: CopiedPart, statement: sql.Composed,
              compression: str) -> tuple[int, int, float]:
    """(rows, decompressed bytes, seconds) of one part's COPY."""
    started = time.monotonic()
    raw, stream = open_decompressed(store, part.url, compression)
    counter = _CountingReader(stream)
    try:
        cur.copy_expert(statement, counter, size=READ_CHUNK)
    except psycopg2.Error:
        if counter.failure is not None:
            raise counter.failure from None
        raise
    finally:
        stream.close()
        raw.close()
    return max(cur.rowcount, 0), counter.count, time.monotonic() - started


def _empty_target(cur, spec: TableSpec) -> list[foreign_keys.ForeignKey]:
    """TRUNCATE (then COPY may FREEZE), with the foreign keys that refer to the table taken off for the
    transaction (a resubmitted run reloads it after post-data created them); returns them for `reattach`."""
    detached = foreign_keys.detach(cur, spec)
    cur.execute(sql.SQL("TRUNCATE {}").format(spec.target.sql()))
    return detached


def load_direct(connect: ConnectionFactory, store: ObjectStore, spec: TableSpec, options: TransferOptions,
                feed: PartFeed, verifier: Verifier, policy: RetryPolicy = DEFAULT_POLICY) -> LoadOutcome:
    return retry_call(_load_direct_once, connect, store, spec, options, feed, verifier, policy=policy,
                      what=f"load {spec.target}")


def _load_direct_once(connect: ConnectionFactory, store: ObjectStore, spec: TableSpec, options: TransferOptions,
                      feed: PartFeed, verifier: Verifier) -> LoadOutcome:
    outcome = LoadOutcome(strategy="direct")
    parts = feed.iterate()
    first = next(parts, None)  # the transaction starts with the first part, not while the UNLOAD has none yet
    conn = connect()
    try:
        with conn.cursor() as cur:
            # the next part may be minutes away while Redshift writes it: a server-wide idle limit must not cut in
            cur.execute("SET LOCAL idle_in_transaction_session_timeout = 0")
            detached = _empty_target(cur, spec)
            statement = copy_statement(spec, options, freeze=True)
            for part in itertools.chain([first] if first is not None else [], parts):
                rows, raw, seconds = _copy_one(cur, store, part, statement, options.compression)
                outcome.rows_loaded += rows
                outcome.raw_bytes[part.url] = raw
                outcome.busy_s += seconds
            verifier(cur, spec.target.sql(), outcome.rows_loaded)
            foreign_keys.reattach(cur, detached)
        conn.commit()
        return outcome
    except BaseException as exc:
        _rollback(conn)
        raise _target_error(exc, spec) from None
    finally:
        conn.close()


def _rollback(conn) -> None:
    try:
        conn.rollback()
    except psycopg2.Error:
        pass  # the connection is gone: the server rolls back by itself


# ------------------------------------------------------------------------------------------- staged

class StagingRowsLost(Exception):
    """Not retried in the step (the rows are gone; only a new attempt brings them back), so not an R2AError."""


def staging_name(spec: TableSpec, attempt: int) -> str:
    return short_name(f"{spec.target.file_stem()}.attempt-{attempt:03d}")


def load_staged(connect: ConnectionFactory, store: ObjectStore, spec: TableSpec, options: TransferOptions,
                feed: PartFeed, verifier: Verifier, attempt: int,
                policy: RetryPolicy = DEFAULT_POLICY) -> LoadOutcome:
    staging = sql.Identifier(STAGING_SCHEMA, staging_name(spec, attempt))
    outcome = LoadOutcome(strategy=f"staged x{options.load_sessions}")
    lock = threading.Lock()
    try:
        retry_call(_create_staging, connect, spec, staging, policy=policy, what=f"create staging for {spec.target}")
        statement = copy_statement(spec, options, table=staging)

        def session() -> None:
            loader = _LoaderSession(connect)
            try:
                while (part := feed.claim()) is not None:
                    rows, raw, seconds = retry_call(_copy_part_committed, loader, store, part, statement,
                                                    options.compression, policy=policy, what=f"load {part.url}")
                    with lock:
                        outcome.rows_loaded += rows
                        outcome.raw_bytes[part.url] = raw
                        outcome.busy_s += seconds
            finally:
                loader.close()

        with ThreadPoolExecutor(options.load_sessions, thread_name_prefix="load") as pool:
            for future in [pool.submit(session) for _ in range(options.load_sessions)]:
                future.result()
        retry_call(_swap_in, connect, spec, staging, verifier, outcome.rows_loaded, policy=policy,
                   what=f"swap in {spec.target}")
        return outcome
    except StagingRowsLost as exc:
        _drop_quietly(connect, staging)
        raise TransientError(str(exc), "a new attempt loads the table again") from None
    except BaseException as exc:
        _drop_quietly(connect, staging)
        raise _target_error(exc, spec) from None


def _create_staging(connect: ConnectionFactory, spec: TableSpec, staging: sql.Identifier) -> None:
    conn = connect()
    try:
        with conn.cursor() as cur:
            cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(STAGING_SCHEMA)))
            require_own_schema(conn, STAGING_SCHEMA)  # a schema someone else owns is not r2a's to fill
            drop_staging_tables(cur, [str(spec.target)])
            cur.execute(sql.SQL("CREATE UNLOGGED TABLE {} (LIKE {})").format(staging, spec.target.sql()))
            comment_staging_table(cur, staging, str(spec.target))
        conn.commit()
    finally:
        _rollback(conn)
        conn.close()


class _LoaderSession:
    """One loader's connection, opened again when the server has dropped it (a restart, a terminated backend):
    retrying a part on the dead connection could never succeed."""

    def __init__(self, connect: ConnectionFactory) -> None:
        self._connect = connect
        self._conn = None

    def connection(self):
        if self._conn is None or self._conn.closed:
            self._conn = self._connect()
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


def _copy_part_committed(loader: _LoaderSession, store: ObjectStore, part: CopiedPart, statement: sql.Composed,
                         compression: str) -> tuple[int, int, float]:
    conn = loader.connection()
    try:
        with conn.cursor() as cur:
            result = _copy_one(cur, store, part, statement, compression)
        conn.commit()
        return result
    except BaseException:
        _rollback(conn)
        raise


def _swap_in(connect: ConnectionFactory, spec: TableSpec, staging: sql.Identifier, verifier: Verifier,
             rows: int) -> None:
    columns = sql.SQL(", ").join(sql.Identifier(c.target) for c in spec.columns)
    conn = connect()
    try:
        with conn.cursor() as cur:
            detached = _empty_target(cur, spec)
            cur.execute(sql.SQL("INSERT INTO {} ({}) OVERRIDING SYSTEM VALUE SELECT {} FROM {}").format(
                spec.target.sql(), columns, columns, staging))
            if cur.rowcount != rows:
                raise StagingRowsLost(f"the staging table of {spec.target} holds {cur.rowcount} rows, its committed "
                                      f"COPYs {rows}: AlloyDB lost rows of the UNLOGGED table (crash recovery "
                                      f"empties it)")
            verifier(cur, spec.target.sql(), rows)
            foreign_keys.reattach(cur, detached)
            cur.execute(sql.SQL("DROP TABLE {}").format(staging))
        conn.commit()
    except BaseException:
        _rollback(conn)
        raise
    finally:
        conn.close()


def _drop_quietly(connect: ConnectionFactory, staging: sql.Identifier) -> None:
    try:
        conn = connect()
    except Exception:
        return
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(staging))
    except psycopg2.Error:
        pass  # the next attempt drops it (it carries the target's name as comment)
    finally:
        conn.close()
