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
has one owner whatever crashes, and a further loader's re-run only loads what is still missing. A further loader
ends once the load is switched in (its ledger rows are gone), or the UNLOAD is recorded finished and every part of
its manifest is committed, or after `wait_s` with nothing to load (loader 1 has not begun, or was stopped before
publishing every part: its next attempt loads what is left).
"""

from __future__ import annotations

import re
import threading
import time
import zlib
from dataclasses import dataclass, field, replace

import psycopg2
from psycopg2 import sql

from shared.errors import BadInputError
from shared.identifiers import TableRef, parse_table_ref
from shared.log import event
from shared.objectstore import ObjectStore
from shared.partledger import (
    UNLOADED,
    LoadKey,
    LoadRecord,
    committed_parts,
    loads_of,
    publish_staged,
    staged_parts,
)
from shared.retry import DEFAULT_POLICY, RetryPolicy, retry_call
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

ITEM_PREFIX = "loader-"
_ITEM = re.compile(r"loader-(\d{1,2})-of-(\d{1,2}):(.+)", re.DOTALL)
POLL_S = 1.0  # how often a further loader looks for newly published parts
MAX_LOADERS = 16


@dataclass(frozen=True)
class LoaderItem:
    table: TableRef
    number: int  # 2..count: loader 1 is the table's own item
    count: int


def loader_item(table: str, number: int, count: int) -> str:
    """The fan-out item of the table's loader `number` of `count` (2..count)."""
    return f"{ITEM_PREFIX}{number}-of-{count}:{table}"


def parse_loader_item(text: str) -> LoaderItem:
    match = _ITEM.fullmatch(text)
    if match is None:
        raise BadInputError(f"--loader {text[:80]!r} is not like loader-2-of-4:schema.table")
    number, count = int(match.group(1)), int(match.group(2))
    if not 2 <= number <= count <= MAX_LOADERS:
        raise BadInputError(f"--loader {text[:80]!r}: the loader number must be 2..K and K at most {MAX_LOADERS}")
    return LoaderItem(parse_table_ref(match.group(3)), number, count)


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
            except (psycopg2.Error, OSError) as exc:
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
    ended: str = ""


def share(name: str, count: int) -> int:
    """The loader (1..count) whose share a part is: spread evenly and the same in every loader."""
    return zlib.crc32(name.encode()) % count + 1


def run_loader(connect: ConnectionFactory, store: ObjectStore, run_id: str, spec: TableSpec,
               options: TransferOptions, item: LoaderItem, wait_s: float,
               policy: RetryPolicy = DEFAULT_POLICY) -> LoaderReport:
    """Load the published parts of the run's newest load of the table until it needs no more (module docstring)."""
    report = LoaderReport()
    progressed = time.monotonic()  # the last time there was a load to follow with parts to load
    while True:
        raise_if_stopped()
        state = retry_call(_look, connect, run_id, spec, policy=policy, what=f"part ledger of {spec.target}")
        if state is None and report.unload_attempts:
            report.ended = "switched in"
            return report
        if state is not None:
            record, staged, committed = state
            missing = {name: where for name, where in staged.items() if name not in committed}
            if not missing and record.state == UNLOADED and _all_published(store, record, staged):
                report.unload_attempts.add(record.key.unload_attempt)
                report.ended = "every part committed"
                return report
            if missing:
                report.unload_attempts.add(record.key.unload_attempt)
                outcome = _load_missing(connect, store, spec, options, item, record, missing, policy)
                report.parts_loaded += [n for n in outcome.parts_loaded if n not in report.parts_loaded]
                report.rows_loaded += sum(outcome.part_rows[n] for n in outcome.parts_loaded)
                progressed = time.monotonic()
                if outcome.parts_loaded:
                    continue  # more may be published meanwhile; else every missing part is another loader's now
        if time.monotonic() - progressed > wait_s:  # loader 1 has not begun, or stopped: it loads the rest itself
            report.ended = "nothing to load" if state is None else "idle"
            return report
        time.sleep(POLL_S)


def _look(connect: ConnectionFactory, run_id: str, spec: TableSpec
          ) -> tuple[LoadRecord, dict[str, tuple[str, int]], set[str]] | None:
    conn = connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT to_regclass('r2a_meta.transfer_staged') IS NOT NULL")
            if not cur.fetchone()[0]:
                return None
            loads = loads_of(cur, run_id, source=str(spec.source))
            if not loads:
                return None
            record = loads[0]
            return record, staged_parts(cur, record.key), set(committed_parts(cur, record.key))
    finally:
        conn.rollback()
        conn.close()


def _all_published(store: ObjectStore, record: LoadRecord, staged: dict[str, tuple[str, int]]) -> bool:
    """Every part of the finished UNLOAD's manifest is published (and so, with nothing missing, committed)."""
    if not record.manifest_url:
        return False
    manifest = read_manifest(store, record.manifest_url.removesuffix("manifest"))
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
