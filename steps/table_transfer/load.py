"""GCS → decompress → COPY FROM STDIN, one short transaction per part, each recorded in the part ledger.

Each part is COPYed by one of `load_sessions` sessions into the load table (the target itself when it was empty
when the load began, else the load's shadow table: shared/staging.py) in a transaction that also writes the part's
ledger row (shared/partledger.py), so a part is committed exactly once however the step dies, and a later attempt
of the same UNLOAD loads only the parts the ledger lacks. No transaction lasts longer than one part's load, and the
data is written once. Verification and the switch come after the last part (switch.py).
"""

from __future__ import annotations

import gzip
import io
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import psycopg2
from psycopg2 import sql

from shared.errors import TargetError, TransientError
from shared.log import one_line
from shared.objectstore import ObjectStore
from shared.partledger import BUSY, TAKEN, LedgerPart, LoadKey, claim_part, committed_parts, record_part
from shared.retry import DEFAULT_POLICY, RetryPolicy, is_transient, retry_call
from shared.stopping import raise_if_stopped
from steps.table_transfer.copy import CopiedPart
from steps.table_transfer.plan import TableSpec, TransferOptions
from steps.table_transfer.unload import DELIMITER

READ_CHUNK = 1024 * 1024  # what COPY reads from the decompressed stream at a time
STOP_CHECK_S = 0.25  # how often a loader waiting for the next part looks for a SIGTERM
BUSY_PAUSE_S = 0.2  # a part another loader holds is tried again after the others, at most this often

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
    part_rows: dict[str, int] = field(default_factory=dict)  # part name -> rows
    raw_bytes: dict[str, int] = field(default_factory=dict)  # part name -> decompressed bytes
    strategy: str = "parts"
    busy_s: float = 0.0  # time spent in COPY, not waiting for the next part
    parts_loaded: list[str] = field(default_factory=list)  # committed by this attempt
    parts_reused: list[str] = field(default_factory=list)  # committed by an earlier attempt or another loader
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def bytes_raw(self) -> int:
        return sum(self.raw_bytes.values())

    @property
    def rows_loaded(self) -> int:
        return sum(self.part_rows.values())

    def uncount(self, names: set[str]) -> None:
        """Parts counted loaded whose commit AlloyDB lost (acknowledged, then gone in a crash): loaded again."""
        with self._lock:
            for name in names & set(self.raw_bytes):
                del self.raw_bytes[name], self.part_rows[name]
            self.parts_loaded = [n for n in self.parts_loaded if n not in names]
            self.parts_reused = [n for n in self.parts_reused if n not in names]

    def count_part(self, name: str, rows: int, raw: int, seconds: float = 0.0, reused: bool = False) -> None:
        """The one place a part is counted loaded (its rows are committed in the load table)."""
        with self._lock:
            self.part_rows[name] = rows
            self.raw_bytes[name] = raw
            self.busy_s += seconds
            (self.parts_reused if reused else self.parts_loaded).append(name)


@dataclass(frozen=True)
class LoadTarget:
    """Where one attempt's parts go: the table, the ledger's load and what it held when the attempt began."""

    table: sql.Composable  # the target itself, or the load's shadow table
    key: LoadKey
    attempt: int  # this attempt's number, recorded with each part it commits
    committed: dict[str, LedgerPart]
    into: str  # "target" or "shadow", for the result
    loader: int = 1  # 1: the table's own item; N: its `--loader N-of-K` item, recorded with each part it commits
    skip_busy: bool = False  # a part another loader holds: False, tried again until it is committed; True, left


def part_name(part: CopiedPart) -> str:
    return part.url.rsplit("/", 1)[-1]


def target_error(exc: BaseException, spec: TableSpec) -> BaseException:
    if not isinstance(exc, psycopg2.Error) or is_transient(exc):
        if isinstance(exc, psycopg2.Error):
            return TransientError(f"load of {spec.target} was interrupted: {one_line(exc, 200)}")
        return exc
    message = one_line(exc.pgerror or exc, 300)
    return TargetError(f"load of {spec.target} failed: {message}")


def _copy_one(cur, store: ObjectStore, part: CopiedPart, statement: sql.Composed, compression: str,
              before: Callable[[], bool] = lambda: True) -> tuple[int, int, float] | None:
    """(rows, decompressed bytes, seconds) of one part's COPY; None when `before` (run in the transaction just
    before the COPY, once the part's stream is open: no idle time inside the transaction) says not to load it."""
    started = time.monotonic()
    raw, stream = open_decompressed(store, part.url, compression)
    counter = _CountingReader(stream)
    try:
        if not before():
            return None
        cur.copy_expert(statement, counter, size=READ_CHUNK)
    except psycopg2.Error:
        if counter.failure is not None:
            raise counter.failure from None
        raise
    finally:
        stream.close()
        raw.close()
    return max(cur.rowcount, 0), counter.count, time.monotonic() - started


def load_parts(connect: ConnectionFactory, store: ObjectStore, spec: TableSpec, options: TransferOptions,
               feed: PartFeed, target: LoadTarget, outcome: LoadOutcome,
               policy: RetryPolicy = DEFAULT_POLICY) -> LoadOutcome:
    """Every part of the feed the ledger lacks, each COPYed and recorded in a transaction of its own by one of
    `options.load_sessions` sessions (a transient failure retries that part only, on a new connection). `outcome`
    counts the parts as they commit, so a failed load still says which it committed."""
    for name, done in sorted(target.committed.items()):
        outcome.count_part(name, done.rows, done.bytes, reused=True)
    statement = copy_statement(spec, options, table=target.table)

    def session() -> None:
        loader = _LoaderSession(connect)
        try:
            while (part := feed.claim()) is not None:
                name = part_name(part)
                if name in target.committed:
                    continue
                loaded = retry_call(_load_part, loader, store, part, statement, options.compression,
                                    target, policy=policy, what=f"load {part.url}")
                if loaded is None:  # another loader of the table holds it now
                    if not target.skip_busy:
                        time.sleep(BUSY_PAUSE_S)
                        feed.add(part)  # its outcome is read when it comes round again
                    continue
                rows, raw, seconds, mine = loaded
                outcome.count_part(name, rows, raw, seconds, reused=not mine)
        finally:
            loader.close()

    try:
        with ThreadPoolExecutor(options.load_sessions, thread_name_prefix="load") as pool:
            for future in [pool.submit(session) for _ in range(options.load_sessions)]:
                future.result()
    except BaseException as exc:
        raise target_error(exc, spec) from None
    return outcome


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


def _load_part(loader: _LoaderSession, store: ObjectStore, part: CopiedPart, statement: sql.Composed,
               compression: str, target: LoadTarget) -> tuple[int, int, float, bool] | None:
    """(rows, decompressed bytes, seconds, whether this call committed it) of the part, committed together with its ledger row. When the ledger
    has it already (an earlier try committed but its answer was lost, another loader), nothing is loaded again;
    None when another loader's transaction holds it now."""
    name = part_name(part)
    conn = loader.connection()
    claim: list[str] = []
    try:
        with conn.cursor() as cur:
            def claimed() -> bool:
                claim.append(claim_part(cur, target.key, name, target.attempt, target.loader))
                return claim[-1] not in (BUSY, TAKEN)

            copied = _copy_one(cur, store, part, statement, compression, before=claimed)
            if copied is None:
                conn.rollback()
                if claim[-1] == BUSY:
                    return None
                done = committed_parts(cur, target.key)[name]
                conn.rollback()
                # this loader's own earlier try whose COMMIT's answer was lost, or another loader or attempt
                mine = (done.loaded_by_attempt, done.loader) == (target.attempt, target.loader)
                return done.rows, done.bytes, 0.0, mine
            rows, raw, seconds = copied
            record_part(cur, target.key, name, rows, raw)
        conn.commit()
        return rows, raw, seconds, True
    except BaseException:
        _rollback(conn)
        raise


def _rollback(conn) -> None:
    try:
        conn.rollback()
    except psycopg2.Error:
        pass  # the connection is gone: the server rolls back by itself
