"""UNLOAD for the Redshift emulator: run the query on the backend and stream the result to the S3 emulator.

Behaviour follows REDSHIFT_FACTS.md (UNLOAD) and AWS's UNLOAD reference. How the core (server.py) calls it,
for a statement that starts with UNLOAD:

    outcome = run_unload(statement, open_cursor, S3Target(endpoint_url=args.s3_endpoint_url,
                         region=args.s3_region, access_key_id=args.s3_access_key_id,
                         secret_access_key=args.s3_secret_access_key, iam_roles=tuple(args.iam_roles)),
                         slices=args.slices, notice=send_info_notice, faults=plan, cancel=session_cancel_event)

- open_cursor(query) returns a named (server-side) psycopg2 cursor whose values are PostgreSQL text;
  psycopg2 errors it raises become UnloadError with the backend's SQLSTATE.
- UnloadError(sqlstate, message) -> ErrorResponse; the session stays usable (roll the backend back).
- faults.CutConnection -> close the client socket without a response.
- cancel (optional threading.Event) -> a stall or a running UNLOAD stops with SQLSTATE 57014.
- Without access_key_id/secret_access_key in S3Target, IAM_ROLE cannot be honoured (a clear error says so).
- It blocks until done: run it in the session's thread, not on an event loop.
"""

from __future__ import annotations

import bisect
import itertools
import json
import operator
import queue
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import psycopg2

from devstack.redshift.faults import CutConnection, FaultPlan
from devstack.redshift.unload_errors import CANCELED, INTERNAL, UnloadError
from devstack.redshift.unload_format import BYTEA, EWKB, LineFormatter
from devstack.redshift.unload_grammar import UnloadCommand, parse_unload, role_account
from devstack.redshift.unload_s3 import (
    CHUNK_BYTES,
    DataFile,
    bucket_region,
    delete_keys,
    existing_keys,
    make_client,
    wrong_region_error,
)

__all__ = ["S3Target", "UnloadOutcome", "UnloadError", "run_unload", "DEFAULT_IAM_ROLE"]

DEFAULT_IAM_ROLE = "arn:aws:iam::123456789012:role/r2a-unload"
FETCH_BATCH = 2000
MAX_WORKERS = 4          # threads writing slices' files (compressing, uploading); more than the slices never
QUEUED_BATCHES = 2       # per slice: how many batches' lines may wait for its worker
SWITCH_INTERVAL = 0.0005  # seconds; set for the whole emulator process at the first UNLOAD (see _FileSet)
NOT_EMPTY = ("Specified unload destination on S3 is not empty. Consider using a different bucket / prefix, "
             "manually removing the target files in S3, or using the ALLOWOVERWRITE option.")


@dataclass(frozen=True)
class S3Target:
    endpoint_url: str
    region: str                      # the emulator's region; REGION option may name another
    # What an allowed IAM_ROLE maps to (the emulator's --s3-access-key-id / --s3-secret-access-key).
    access_key_id: str | None = None
    secret_access_key: str | None = None
    iam_roles: tuple[str, ...] = (DEFAULT_IAM_ROLE,)   # --iam-roles; the first one is IAM_ROLE default


@dataclass
class UnloadOutcome:
    rows: int
    files: list[str]                 # s3:// urls written (data files, then manifest)


def run_unload(statement: str,
               open_cursor: Callable[[str], object],
               s3: S3Target,
               slices: int,
               notice: Callable[[str], None],
               faults: FaultPlan | None = None,
               cancel: threading.Event | None = None) -> UnloadOutcome:
    """Run one UNLOAD. Raises UnloadError (sent to the client as an ErrorResponse) or CutConnection.

    `cancel` (optional) is set by the core on a cancel request; a stall or a running UNLOAD then stops
    with SQLSTATE 57014.
    """
    command = parse_unload(statement)
    faults = faults or FaultPlan()
    if faults.fail_unload is not None:
        raise UnloadError(INTERNAL, faults.fail_unload)
    if faults.stall_seconds > 0 and (cancel or threading.Event()).wait(faults.stall_seconds):
        raise _canceled()
    client = _client_for(command, s3)
    _check_destination(command, client, s3)
    cursor = _open(open_cursor, command.query)
    try:
        rows, files, columns = _stream(command, cursor, client, max(1, slices if command.parallel else 1), faults,
                                       cancel)
    finally:
        _close_quietly(cursor)
    urls = [file.url for file in files]
    if command.manifest:
        urls.append(_write_manifest(command, client, files, columns))
    notice(f"UNLOAD completed, {rows} record(s) unloaded successfully.")
    return UnloadOutcome(rows=rows, files=urls)


def _canceled() -> UnloadError:
    return UnloadError(CANCELED, "Query cancelled on user's request")


# ---------------------------------------------------------------- credentials and destination

def _client_for(command: UnloadCommand, s3: S3Target):
    credentials = command.credentials
    region = command.region or s3.region
    if credentials.iam_role is None:
        return make_client(s3.endpoint_url, region, credentials.access_key_id, credentials.secret_access_key,
                           credentials.session_token)
    roles = [s3.iam_roles[0] if credentials.iam_role == "default" else arn.strip()
             for arn in credentials.iam_role.split(",")]
    for arn in roles:
        if arn not in s3.iam_roles:
            account = role_account(arn) or "123456789012"
            raise UnloadError(INTERNAL, f"User arn:aws:redshift:{s3.region}:{account}:dbuser:r2a-emulator/unload "
                                        f"is not authorized to assume IAM Role {arn}")
    if not (s3.access_key_id and s3.secret_access_key):
        raise UnloadError(INTERNAL, "the Redshift emulator was started without S3 credentials for IAM roles "
                                    "(--s3-access-key-id / --s3-secret-access-key)")
    return make_client(s3.endpoint_url, region, s3.access_key_id, s3.secret_access_key, None)


def _check_destination(command: UnloadCommand, client, s3: S3Target) -> None:
    """Wrong credentials, a missing bucket or another region fail here, before the query runs."""
    location = bucket_region(client, command.bucket)
    if location != (command.region or s3.region):
        raise wrong_region_error(command.bucket, location)
    if command.cleanpath:
        delete_keys(client, command.bucket, list(existing_keys(client, command.bucket, command.prefix)))
    elif not command.allowoverwrite and next(existing_keys(client, command.bucket, command.prefix), None):
        raise UnloadError(INTERNAL, NOT_EMPTY)


# ---------------------------------------------------------------- query

def _open(open_cursor: Callable[[str], object], query: str):
    try:
        return open_cursor(query)
    except psycopg2.Error as exc:
        raise _query_error(exc) from None


def _query_error(exc: psycopg2.Error) -> UnloadError:
    message = exc.diag.message_primary if exc.diag and exc.diag.message_primary else str(exc).strip()
    return UnloadError(exc.pgcode or INTERNAL, message)


def _fetch(cursor) -> list:
    try:
        return cursor.fetchmany(FETCH_BATCH)
    except psycopg2.Error as exc:
        raise _query_error(exc) from None


class _Prefetch:
    """Fetches the next batch while the session's thread formats the current one (psycopg2 lets go of the GIL
    while it waits for the backend). A fetch error is raised where the failing batch would have been used."""

    def __init__(self, cursor):
        self.cursor = cursor
        self.batches: queue.Queue = queue.Queue(maxsize=1)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="unload-fetch", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                batch = _fetch(self.cursor)
            except BaseException as exc:  # noqa: BLE001 - raised in the session's thread by next()
                self._hand_over(exc)
                return
            self._hand_over(batch)
            if not batch:
                return

    def _hand_over(self, item) -> None:
        while not self.stopping.is_set():
            try:
                self.batches.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def next(self) -> list:
        item = self.batches.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        """Waits for a fetch under way, so the cursor is free again when this returns."""
        self.stopping.set()
        self.thread.join()


def _close_quietly(cursor) -> None:
    try:
        cursor.close()
    except psycopg2.Error:
        pass


# ---------------------------------------------------------------- files

class _SliceFiles:
    """One slice's files: lines in, rolled over at MAXFILESIZE and named like Redshift.

    The rule is per line (a line that would take the file past MAXFILESIZE, by its uncompressed size and by its
    estimated compressed size, starts a new file unless the file has no row yet); whole runs of lines that
    cannot meet it are written at once, and only lines near the limit are tested one by one.
    """

    def __init__(self, command: UnloadCommand, client, slice_no: int, header: bytes | None):
        self.command = command
        self.client = client
        self.slice_no = slice_no
        self.header = header
        self.current: DataFile | None = None
        self.next_part = 0
        self.closed: list[tuple[tuple[int, int], DataFile]] = []   # ((slice, part), file) of finished files

    def _name(self, part: int) -> str:
        if self.command.parallel:
            return f"{self.command.prefix}{self.slice_no:04d}_part_{part:02d}{self.command.file_suffix}"
        return f"{self.command.prefix}{part:03d}{self.command.file_suffix}"

    def start(self) -> DataFile:
        part = self.next_part
        self.next_part += 1
        data_file = DataFile(self.client, self.command.bucket, self._name(part), self.command.compression)
        if self.header is not None:
            data_file.write_line(self.header)
        self.current = data_file
        return data_file

    def write(self, lines: list[str]) -> None:
        """Lines without their newlines, in row order."""
        text = "\n".join(lines) + "\n"
        data = text.encode()
        if len(data) == len(text):          # all ASCII: a line's bytes are its characters and its newline
            ends = list(map(operator.add, itertools.accumulate(map(len, lines)), range(1, len(lines) + 1)))
        else:
            ends = list(itertools.accumulate(len(line.encode()) + 1 for line in lines))
        limit = self.command.max_file_size
        first_row = 1 if self.header is not None else 0
        pos, start, count = 0, 0, len(ends)
        while pos < count:
            data_file = self.current or self.start()
            # lines that surely pass the rollover test, up to the one that fills a compression chunk
            safe = bisect.bisect_right(ends, start + data_file.rollover_free_bytes(limit), pos, count)
            drain = bisect.bisect_left(ends, start + CHUNK_BYTES - data_file.pending_bytes, pos, count)
            last = min(safe, drain + 1)
            if last > pos:
                data_file.write_lines(data, ends, pos, last, start)
                pos, start = last, ends[last - 1]
                continue
            size = ends[pos] - start
            if (data_file.uncompressed_bytes + size > limit and data_file.estimated_size() + size > limit
                    and data_file.records > first_row):
                self.finish()
                continue
            data_file.write_lines(data, ends, pos, pos + 1, start)
            pos, start = pos + 1, ends[pos]

    def finish(self) -> None:
        if self.current is not None:
            data_file, self.current = self.current, None
            try:
                data_file.close()
            except BaseException:
                data_file.abort()       # no multipart upload left open behind a failed close
                raise
            self.closed.append(((self.slice_no, self.next_part - 1), data_file))

    def abort(self) -> None:
        if self.current is not None:
            data_file, self.current = self.current, None
            data_file.abort()


_FINISH, _ABORT = "finish", "abort"


class _FileSet:
    """Rows go to slices round robin; each slice's files are written by a worker thread (compression releases
    the GIL), so slices compress in parallel while the session's thread fetches and formats the next rows.

    A slice always belongs to the same worker and gets its lines in row order, so every file is byte for byte
    what one thread writing row after row would make. Memory stays bounded: each worker queue holds a few
    batches' share of lines at most.
    """

    def __init__(self, command: UnloadCommand, client, slices: int, header: bytes | None):
        self.slices = [_SliceFiles(command, client, slice_no, header) for slice_no in range(slices)]
        workers = min(slices, MAX_WORKERS)
        depth = QUEUED_BATCHES * -(-slices // workers)
        self.queues = [queue.Queue(maxsize=depth) for _ in range(workers)]
        self.failed = threading.Event()
        self.errors: list[BaseException] = []
        self.threads = [threading.Thread(target=self._work, args=(q,), name=f"unload-slices-{n}", daemon=True)
                        for n, q in enumerate(self.queues)]
        # A worker back from compressing a chunk needs the GIL again; with the default 5 ms switch interval it
        # waits that long behind the formatting thread and the compressors idle half the time.
        if sys.getswitchinterval() > SWITCH_INTERVAL:
            sys.setswitchinterval(SWITCH_INTERVAL)
        for thread in self.threads:
            thread.start()

    def write(self, first_row: int, lines: list[str]) -> None:
        """Lines of consecutive rows, the first being row number first_row of the result."""
        count = len(self.slices)
        for offset in range(min(count, len(lines))):
            slice_no = (first_row + offset) % count
            self._put(slice_no, (slice_no, lines[offset::count]))

    def _put(self, slice_no: int, item) -> None:
        target = self.queues[slice_no % len(self.queues)]
        while True:
            if self.failed.is_set():
                raise self.errors[0]
            try:
                target.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def _work(self, inbox: queue.Queue) -> None:
        mine = [files for files in self.slices if files.slice_no % len(self.queues) == self.queues.index(inbox)]
        while True:
            item = inbox.get()
            if isinstance(item, str):
                break
            if self.failed.is_set():
                continue        # another worker failed: the UNLOAD is over, drop the rest
            slice_no, lines = item
            try:
                self.slices[slice_no].write(lines)
            except BaseException as exc:  # noqa: BLE001 - the session's thread raises it
                self._fail(exc)
        for files in mine:
            try:
                if item == _FINISH and not self.failed.is_set():
                    files.finish()
                else:
                    files.abort()
            except BaseException as exc:  # noqa: BLE001 - the session's thread raises it
                self._fail(exc)
                files.abort()

    def _fail(self, exc: BaseException) -> None:
        self.errors.append(exc)
        self.failed.set()

    def _stop(self, how: str) -> None:
        for inbox in self.queues:
            inbox.put(how)      # a worker keeps taking items until it sees this, so the put cannot block long
        for thread in self.threads:
            thread.join()

    def finish_all(self) -> list[DataFile]:
        self._stop(_FINISH)
        if self.errors:
            for files in self.slices:
                files.abort()
            raise self.errors[0]
        if not any(files.closed for files in self.slices):
            first = self.slices[0]      # an empty result still leaves one (empty or header-only) file
            first.start()
            first.finish()
        closed = [item for files in self.slices for item in files.closed]
        return [data_file for _, data_file in sorted(closed, key=lambda item: item[0])]

    def abort_all(self) -> None:
        """Files the rows before the failure closed stay, as with Redshift; open ones are dropped."""
        self._stop(_ABORT)


def _stream(command: UnloadCommand, cursor, client, slices: int, faults: FaultPlan,
            cancel: threading.Event | None) -> tuple[int, list[DataFile], list]:
    batch = _fetch(cursor)
    columns = list(cursor.description or [])
    spatial = _spatial_columns(cursor, columns)
    formatter = LineFormatter(command, [column.name for column in columns],
                              [EWKB if index in spatial else column.type_code for index, column in enumerate(columns)],
                              escape_null_as=faults.escape_null_as)
    header = formatter.header().encode() if command.header else None
    files = _FileSet(command, client, slices, header)
    prefetch = None
    rows = 0
    cut_after = faults.cut_connection_after_rows
    try:
        prefetch = _Prefetch(cursor) if batch else None
        while batch:
            cut = cut_after is not None and rows + len(batch) > cut_after
            if cut:
                batch = batch[:cut_after - rows]
            lines, error = formatter.format_batch(batch)
            files.write(rows, lines)
            rows += len(lines)
            if error is not None:
                raise error
            if cut:
                raise CutConnection(f"fault injected: connection cut after {rows} row(s)")
            if cancel is not None and cancel.is_set():
                raise _canceled()
            batch = prefetch.next()
        if cut_after is not None and rows >= cut_after:
            raise CutConnection(f"fault injected: connection cut after {rows} row(s)")
        return rows, files.finish_all(), columns
    except BaseException:
        files.abort_all()
        raise
    finally:
        if prefetch is not None:
            prefetch.close()


_SPATIAL_COLUMNS = """
SELECT k.i::text FROM unnest(%s::oid[], %s::int[], %s::int[]) AS k(rel, col, i)
JOIN pg_catalog.pg_attribute a ON a.attrelid = k.rel AND a.attnum = k.col
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
WHERE n.nspname = 'r2a_catalog' AND t.typname IN ('geometry', 'geography')"""


def _spatial_columns(cursor, columns: list) -> set[int]:
    """Indexes of the bytea result columns that are GEOMETRY or GEOGRAPHY table columns (their EWKB hex is written in
    upper case, VARBYTE's in lower case). The backend describes a domain by its base type, so the result column's
    table and column number (from RowDescription) lead to the declared type; an expression is no table column and
    stays VARBYTE. Runs before the prefetch thread uses the connection."""
    found = [(index, column.table_oid, column.table_column) for index, column in enumerate(columns)
             if column.type_code == BYTEA and getattr(column, "table_oid", None) and getattr(column, "table_column", None)]
    if not found:
        return set()
    indexes, relations, numbers = (list(part) for part in zip(*found, strict=True))
    try:
        with cursor.connection.cursor() as lookup:
            lookup.execute(_SPATIAL_COLUMNS, (relations, numbers, indexes))
            return {int(row[0]) for row in lookup.fetchall()}
    except psycopg2.Error as exc:
        raise _query_error(exc) from None


# ---------------------------------------------------------------- manifest

_TYPE_NAMES = {
    16: "boolean", 17: "varbyte", 20: "bigint", 21: "smallint", 23: "integer", 25: "character varying",
    700: "real", 701: "double precision", 1042: "character", 1043: "character varying", 1082: "date",
    1083: "time without time zone", 1114: "timestamp without time zone", 1184: "timestamp with time zone",
    1266: "time with time zone", 1700: "numeric", 114: "super", 3802: "super", 1186: "interval",
}


def _schema_type(column) -> str:
    base = _TYPE_NAMES.get(column.type_code, "character varying")
    parts = [f'"base": {json.dumps(base)}']
    if column.type_code in (1042, 1043) and column.internal_size and column.internal_size > 0:
        parts.append(f'"length": {column.internal_size}')
    elif column.type_code == 1700 and column.precision is not None and column.precision > 0:
        parts.append(f'"precision": {column.precision}, "scale": {column.scale or 0}')
    return "{ " + ", ".join(parts) + " }"


def _write_manifest(command: UnloadCommand, client, files: list[DataFile], columns: Sequence | None) -> str:
    """Layout of AWS's documented manifest; entry meta has content_length, and record_count with VERBOSE."""
    lines = ['{', '  "entries": [']
    entries = []
    for data_file in files:
        meta = f'"content_length": {data_file.content_length}'
        if command.manifest_verbose:
            meta += f', "record_count": {data_file.records}'
        entries.append(f'    {{"url":{json.dumps(data_file.url)}, "meta": {{ {meta} }}}}')
    lines.append(",\n".join(entries))
    if command.manifest_verbose:
        elements = [f'      {{"name": {json.dumps(column.name)}, "type": {_schema_type(column)}}}'
                    for column in columns or []]
        lines += ['  ],', '  "schema": {', '    "elements": [', ",\n".join(elements), '    ]', '  },',
                  '  "meta": {',
                  f'    "content_length": {sum(f.content_length for f in files)},',
                  f'    "record_count": {sum(f.records for f in files)}',
                  '  },', '  "author": {', '    "name": "Amazon Redshift",', '    "version": "1.0.0"', '  }', '}']
    else:
        lines += ['  ]', '}']
    body = "\n".join(line for line in lines if line) + "\n"
    key = f"{command.prefix}manifest"
    manifest = DataFile(client, command.bucket, key, None)
    manifest.write_line(body.encode())
    manifest.close()
    return manifest.url
