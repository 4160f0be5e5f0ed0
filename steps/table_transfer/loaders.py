"""More loaders for one big table: the table's own item UNLOADs, copies, loads, verifies and switches; its
`--loader N-of-K` items (N = 2..K, steps/load_schema/fanout.py) only load parts.

The table's own item (loader 1) publishes each part in the part ledger (`r2a_meta.transfer_staged`) once it is in
GCS and its CRC32C checked. A further loader follows the run's newest load of the table in the ledger and loads the
published parts that are not committed yet, its own share first (CRC32 of the part's name mod K), into the same
load table, each part in a transaction of its own with its ledger row (load.py). A part's claim takes its advisory
lock without waiting (shared/partledger.claim_part): a part another loader holds is skipped and looked at again
later, so no loader ever waits on another's COPY, and the ledger row committed with the rows keeps every part
loaded once. Loader 1 goes through every part of the manifest and loads whatever nobody has committed (a further
loader killed mid-part rolls back and releases its claim), then verifies and switches the table once: the switch
has one owner whatever crashes, and a further loader's re-run only loads what is still missing. Before the switch
loader 1 reads from the ledger what each further loader committed and when, and records it as phases `load (loader
N)` of the table's one result: the report shows one row per table, its pods in its timeline lane.

A further loader waits as long as loader 1 runs (it holds the table's run lock, shared/runlock.py, for its whole
transfer), however long its UNLOAD takes. It ends once the load is gone from the ledger (switched in, or abandoned
by loader 1), or the UNLOAD is recorded finished and every part of its manifest is committed, or when loader 1 has
not been running for `wait_s` (it has not begun, or it stopped: its next attempt loads what is left), or after a
short grace when loader 1 is not running, no load is in the ledger and the table's result in the run says succeeded
(the loader began after the switch).
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import psycopg2
from psycopg2 import sql

from shared.errors import ObjectStoreError, R2AError
from shared.identifiers import TableRef, parse_table_ref
from shared.loader_items import LoaderItem
from shared.log import event
from shared.objectstore import ObjectStore
from shared.partledger import (
    UNLOADED,
    LoadKey,
    LoadRecord,
    committed_parts,
    loader_spans,
    loads_of,
    publish_staged,
    staged_parts,
)
from shared.results import PhaseTiming, timestamp
from shared.retry import DEFAULT_POLICY, RetryPolicy, retry_call
from shared.runlock import is_held
from shared.staging import STAGING_SCHEMA
from shared.stopping import raise_if_stopped
from steps.table_transfer.copy import CopiedPart
from steps.table_transfer.load import (
    ConnectionFactory,
    LoadOutcome,
    LoadTarget,
    PartFeed,
    load_parts,
    part_name,
)
from steps.table_transfer.plan import TableSpec, TransferOptions
from steps.table_transfer.unload import Part, read_manifest

POLL_S = 1.0  # how often a further loader looks for newly published parts
OWNER_START_S = 30.0  # how long a further loader gives the table's own item to start before trusting an old result


class PublishingFeed(PartFeed):
    """Loader 1's feed: each part copied to GCS is also published in the ledger for the table's other loaders.
    Publishing is best effort: a part it misses is loaded by loader 1 itself."""

    def __init__(self, connect: ConnectionFactory, key: LoadKey) -> None:
        super().__init__()
        self._connect, self._key = connect, key
        self._conn = None
        self._published: set[str] = set()
        self._publish_lock = threading.Lock()

    def add(self, part: CopiedPart) -> None:
        self._publish(part)
        super().add(part)

    def _publish(self, part: CopiedPart) -> None:
        name = part_name(part)
        with self._publish_lock:
            if name in self._published:
                return
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = self._connect()
                with self._conn.cursor() as cur:
                    publish_staged(cur, self._key, name, part.url, part.size)
                self._conn.commit()
                self._published.add(name)
            except (psycopg2.Error, OSError, R2AError) as exc:  # R2AError: a reconnect refused (AlloyDB restarting)
                event("part.not_published", part=name, error=str(exc)[:200])
                self.close_publisher()

    def close_publisher(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except psycopg2.Error:
                pass
            self._conn = None


@dataclass
class LoaderReport:
    """What a further loader did, for its log line."""

    unload_attempts: set[int] = field(default_factory=set)
    parts_loaded: list[str] = field(default_factory=list)
    rows_loaded: int = 0
    ended: str = ""  # why it ended, one word for the log line: run_loader's returns


def share(name: str, count: int) -> int:
    """The loader (1..count) whose share a part is: spread evenly and the same in every loader."""
    return zlib.crc32(name.encode()) % count + 1


def run_loader(connect: ConnectionFactory, store: ObjectStore, run_id: str, spec: TableSpec,
               options: TransferOptions, item: LoaderItem, wait_s: float, succeeded: Callable[[], bool] = lambda: False,
               policy: RetryPolicy = DEFAULT_POLICY) -> LoaderReport:
    """Load the published parts of the run's newest load of the table until it needs no more (module docstring).
    `succeeded`: whether the table's result in the run says it was loaded."""
    report = LoaderReport()
    alone_since = time.monotonic()  # since when the table's own item has not been running
    while True:
        raise_if_stopped()
        state, owner_running = retry_call(_look, connect, run_id, spec, policy=policy,
                                          what=f"part ledger of {spec.target}")
        if owner_running:
            alone_since = time.monotonic()
        alone_s = time.monotonic() - alone_since
        if state is None:
            if report.unload_attempts:
                report.ended = "load-gone"  # switched in, or abandoned by a failure of loader 1
                return report
            if alone_s > min(wait_s, OWNER_START_S) and succeeded():  # it ran before this loader began
                report.ended = "switched-in-earlier"
                return report
        else:
            record, staged, committed = state
            report.unload_attempts.add(record.key.unload_attempt)
            missing = {name: where for name, where in staged.items() if name not in committed}
            if not missing and record.state == UNLOADED and _all_published(store, record, staged):
                report.ended = "every-part-committed"
                return report
            if missing:
                outcome = _load_missing(connect, store, spec, options, item, record, missing, policy)
                report.parts_loaded += [n for n in outcome.parts_loaded if n not in report.parts_loaded]
                report.rows_loaded += sum(outcome.part_rows[n] for n in outcome.parts_loaded)
                if outcome.parts_loaded:
                    continue  # more may be published meanwhile; else every missing part is another loader's now
        if alone_s > wait_s:  # it has not begun, or stopped: its next attempt loads what is left
            report.ended = "nothing-to-load" if state is None else "idle"
            return report
        time.sleep(POLL_S)


def loader_phases(connect: ConnectionFactory, key: LoadKey) -> list[PhaseTiming]:
    """The further loaders that committed parts of the load, as phases `load (loader N)` of the table's one result:
    the report draws them in the table's timeline lane. Read before the switch forgets the ledger; a ledger that
    cannot be read costs these phases only, not the table."""
    try:
        conn = connect()
    except (psycopg2.Error, OSError) as exc:
        event("loader.spans_unread", error=str(exc)[:200])
        return []
    try:
        with conn.cursor() as cur:
            spans = loader_spans(cur, key)
    except psycopg2.Error as exc:
        event("loader.spans_unread", error=str(exc)[:200])
        return []
    finally:
        conn.close()
    return [PhaseTiming(f"load (loader {span.loader})", timestamp(span.started_at), timestamp(span.finished_at),
                        round((span.finished_at - span.started_at).total_seconds(), 3))
            for span in spans if span.loader > 1]


def table_lock_scope(source: TableRef) -> str:
    """The run lock (shared/runlock.py) the table's own item holds while it moves the table."""
    return f"table_transfer of {source}"


def _look(connect: ConnectionFactory, run_id: str, spec: TableSpec
          ) -> tuple[tuple[LoadRecord, dict[str, tuple[str, int]], set[str]] | None, bool]:
    """The run's newest load of the table (its record, published and committed parts), and whether the table's own
    item is running now."""
    conn = connect()
    try:
        with conn.cursor() as cur:
            running = is_held(cur, run_id, table_lock_scope(spec.source))
            cur.execute("SELECT to_regclass('r2a_meta.transfer_staged') IS NOT NULL")
            if not cur.fetchone()[0]:
                return None, running
            loads = loads_of(cur, run_id, source=str(spec.source))
            if not loads:
                return None, running
            record = loads[0]
            return (record, staged_parts(cur, record.key), set(committed_parts(cur, record.key))), running
    finally:
        conn.close()


def _all_published(store: ObjectStore, record: LoadRecord, staged: dict[str, tuple[str, int]]) -> bool:
    """Every part of the finished UNLOAD's manifest is published (and so, with nothing missing, committed). A
    manifest gone from S3 was cleaned up with the load's parts once it was switched in (--cleanup s3): nothing more
    of this load will be published."""
    if not record.manifest_url:
        return False
    try:
        manifest = read_manifest(store, record.manifest_url.removesuffix("manifest"))
    except ObjectStoreError:
        if store.exists(record.manifest_url):
            raise
        return True
    return {part.url.rsplit("/", 1)[-1] for part in manifest.parts} <= set(staged)


def _load_missing(connect: ConnectionFactory, store: ObjectStore, spec: TableSpec, options: TransferOptions,
                  item: LoaderItem, record: LoadRecord, missing: dict[str, tuple[str, int]],
                  policy: RetryPolicy) -> LoadOutcome:
    mine_first = sorted(missing, key=lambda name: (share(name, item.count) != item.number, name))
    feed = PartFeed()
    for name in mine_first:
        url, size = missing[name]
        feed.add(CopiedPart(Part(url, size, None), url, size))
    feed.finish()
    table = (sql.Identifier(STAGING_SCHEMA, record.shadow) if record.shadow
             else parse_table_ref(record.target).sql())
    target = LoadTarget(table, record.key, record.key.unload_attempt, {}, "shadow" if record.shadow else "target",
                        loader=item.number, skip_busy=True)
    loaded_options = replace(options, format=record.format, compression=record.compression,
                             null_marker=record.null_marker)
    outcome = LoadOutcome()
    load_parts(connect, store, spec, loaded_options, feed, target, outcome, policy=policy)
    if outcome.parts_loaded:
        event("loader.parts_loaded", loader=item.number, loaders=item.count, unload_attempt=record.key.unload_attempt,
              parts=len(outcome.parts_loaded), rows=sum(outcome.part_rows[n] for n in outcome.parts_loaded))
    return outcome
