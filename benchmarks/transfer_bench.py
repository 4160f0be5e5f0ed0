"""table_transfer against the old system's way and against the limit, side by side in one run on devstack.

A table of R2A_BENCH_TRANSFER_MB of unloaded text (default 2048; smoke: 8) is made in the Redshift emulator and
planned by the real schema steps (dump_schema → rewrite_ddl → validate_restore → load_schema). Then:
1. r2a: `python -m steps.table_transfer` (UNLOAD → S3 → GCS streamed → COPY), wall time and phases from its result,
   peak RSS sampled every 50 ms; and the same for a table a quarter of the size (memory at two sizes 4x apart);
   r2a runs with its defaults (ZSTD), and once more with `--compression gzip`, the old way's compression: a re-run
   of the loaded table, during which a reader counts it every 100 ms (its worst wait, the counts it saw) and the
   oldest open r2a transaction is sampled; then a run SIGKILLed once its UNLOAD has ended and 80 % of its parts are
   in the part ledger (only then is a load resumable) and its re-run, which resumes (its time against the first
   run's, the parts it reused);
2. the old way, each stage after the previous one: r2a's UNLOAD statement with GZIP to a folder of its own, every
   part S3 → GCS, every part GCS → local disk, concatenate, gunzip, `psql -c "COPY … FROM STDIN"` of the file;
3. the limit: `psql` COPY of the already uncompressed local file into an empty table (one stream);
4. the load path of the staged parts by K = 1, 2, 4 loader processes at once, as a big table's loader pods share
   its parts (benchmarks/_k_loaders.py): time, CPU seconds, rows COPYed once.
"""

from __future__ import annotations

import gzip
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
import psycopg2
from psycopg2 import sql

from benchmarks._k_loaders import k_loader_rows
from benchmarks._rerun_measures import RerunWatch, killed_when_parts_in
from devstack import env as envfile
from devstack import stack
from workflows.local_env import process_environ

NAME = "transfer_bench"
ROW_BYTES = 200  # about what one row below unloads to
ROWS_SQL = sql.SQL("INSERT INTO {table} SELECT g, md5(g::varchar) || repeat(md5((g * 7)::varchar), 4), g * 1.5, "
                   "'2020-01-01'::timestamp + g * interval '1 second' FROM generate_series({first}, {last}) g")
BATCH_ROWS = 1_000_000
OLD_WAY_ATTEMPT = 900  # the old way's own S3/GCS folders, apart from r2a's attempt-001
OLD_WAY_TEXT = "all.txt"  # the old way's last uncompressed file, kept in its work folder (the limit loads it)


def run(smoke: bool) -> list[dict]:
    megabytes = int(os.environ.get("R2A_BENCH_TRANSFER_MB", "8" if smoke else "2048"))
    with bench_devstack("transfer") as (env, work):
        return _bench(env, megabytes, work)


@contextmanager
def bench_devstack(name: str) -> Iterator[tuple[dict, Path]]:
    """devstack (R2A_DEVSTACK_DIR's, else one of the benchmark's own, purged after) and a work folder removed after."""
    shared = os.environ.get("R2A_DEVSTACK_DIR")
    directory = Path(shared) if shared else Path(tempfile.mkdtemp(prefix=f"r2a-bench-{name}-"))
    env = stack.up(directory)
    work = Path(tempfile.mkdtemp(prefix=f"r2a-bench-{name}-work-"))
    try:
        yield env, work
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if not shared:
            stack.down(directory, purge=True)


def _psql(env: dict) -> str:
    return str(Path(env["postgres"]["bin_dir"]) / "psql")


def step_environ(env: dict, database: str) -> dict[str, str]:
    return {**process_environ(), **envfile.product_environ(env), "PGDATABASE": database, "R2A_LOG_FORMAT": "json"}


def emulator_connection(env: dict):
    redshift = env["redshift"]
    conn = psycopg2.connect(host=redshift["host"], port=redshift["port"], dbname=redshift["database"],
                            user=redshift["user"], password=redshift["password"], sslmode="disable")
    conn.autocommit = True
    return conn


def run_step(args: list[str], environ: dict[str, str]) -> tuple[float, float, str, str]:
    """Run a step; (seconds, peak RSS MB, stdout, stderr = its JSON log). A failing step stops the benchmark."""
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", *args], env=environ, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    watched, peak = psutil.Process(process.pid), 0
    while process.poll() is None:
        try:
            peak = max(peak, watched.memory_info().rss)
        except psutil.Error:
            pass
        time.sleep(0.05)
    out, err = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:1])} failed: {err.decode(errors='replace')[-600:]}")
    return time.monotonic() - started, peak / 2**20, out.decode(), err.decode(errors="replace")


def _bench(env: dict, megabytes: int, work: Path) -> list[dict]:
    rows = max(1000, megabytes * 2**20 // ROW_BYTES)
    with planned_schema(env, {"big": rows, "quarter": rows // 4}) as planned:
        return _measure(env, planned.environ, planned.run_id, planned.schema, planned.database, work)


@dataclass(frozen=True)
class PlannedSchema:
    schema: str  # in the Redshift emulator
    database: str  # the AlloyDB database (devstack's PostgreSQL)
    run_id: str
    environ: dict[str, str]  # a step process's environment for them


@contextmanager
def planned_schema(env: dict, tables: dict[str, int]) -> Iterator[PlannedSchema]:
    """A schema of generated tables (name → rows, create_bench_table) in the Redshift emulator and an empty AlloyDB
    database, planned by the real schema steps (dump_schema → rewrite_ddl → validate_restore → load_schema
    pre-data); both dropped after."""
    schema, database = f"bench_{uuid.uuid4().hex[:8]}", f"bench_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(envfile.postgres_dsn(env, "postgres"))
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
        with emulator_connection(env) as conn, conn.cursor() as cursor:
            cursor.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
            for table, count in tables.items():
                create_bench_table(cursor, schema, table, count)
        planned = PlannedSchema(schema, database, f"bench_{uuid.uuid4().hex[:10]}", step_environ(env, database))
        for step in (["steps.dump_schema", f"--schemas={schema}"], ["steps.rewrite_ddl"], ["steps.validate_restore"],
                     ["steps.load_schema", "--section", "pre-data"]):
            run_step([step[0], "--run-id", planned.run_id, *step[1:]], planned.environ)
        yield planned
    finally:
        with emulator_connection(env) as conn, conn.cursor() as cursor:
            cursor.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
        with admin.cursor() as cursor:
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
        admin.close()


def create_bench_table(cursor, schema: str, table: str, count: int) -> None:
    """`schema.table` with `count` generated rows of about ROW_BYTES each, inserted BATCH_ROWS at a time."""
    name = sql.Identifier(schema, table)
    cursor.execute(sql.SQL("CREATE TABLE {} (id bigint, payload varchar(200), amount decimal(14,2), at timestamp)"
                           ).format(name))
    for first in range(1, count + 1, BATCH_ROWS):
        cursor.execute(ROWS_SQL.format(table=name, first=sql.Literal(first),
                                       last=sql.Literal(min(count, first + BATCH_ROWS - 1))))


def _measure(env, environ, run_id, schema, database, work) -> list[dict]:
    from shared.config import load_settings
    from shared.identifiers import TableRef
    from shared.objectstore import ObjectStore, RunLayout
    from steps.table_transfer.plan import select_tables

    settings = load_settings(environ)
    store = ObjectStore(settings.s3, settings.gcs)
    layout = RunLayout.from_settings(run_id, settings.gcs, settings.s3)
    big, quarter = TableRef(schema, "big"), TableRef(schema, "quarter")
    # R2A_BENCH_TRANSFER_ARGS: options for every r2a run (e.g. "--max-file-size 32MB"), to compare settings.
    extra = os.environ.get("R2A_BENCH_TRANSFER_ARGS", "").split()
    transfer = ["steps.table_transfer", "--run-id", run_id, *extra, "--table"]
    cpu_before = cpu_seconds(env)
    r2a_s, r2a_rss, _, log = run_step([*transfer, str(big)], environ)
    cpu = {name: used - cpu_before[name] for name, used in cpu_seconds(env).items()}
    load_busy_s = logged(log, "phase.finished", "load")["copy_busy_s"]
    result = store.read_json(layout.result(big))
    _, quarter_rss, _, _ = run_step([*transfer, str(quarter)], environ)
    phases = _phase_seconds(result)
    raw_mb, rows = result["bytes_raw"] / 2**20, result["rows_loaded"]
    dsn = envfile.postgres_dsn(env, database)
    # a re-run of the loaded table (a new UNLOAD: the compression differs) under a reader and a transaction sampler
    with RerunWatch(dsn, sql.Identifier(schema, "big")) as watch:
        gzip_s, _, _, _ = run_step([*transfer, str(big), "--compression", "gzip"], environ)
    gzip_phases = _phase_seconds(store.read_json(layout.result(big)))
    # resume: a run SIGKILLed once 80 % of its parts are in the part ledger, then run again
    _, committed = killed_when_parts_in([*transfer, str(big)], environ, dsn, run_id, result["parts"], 0.8)
    resume_s, _, _, _ = run_step([*transfer, str(big)], environ)
    resumed = store.read_json(layout.result(big))
    if resumed["status"] != "succeeded" or resumed["rows_loaded"] != rows:
        raise RuntimeError(f"the resumed run ended {resumed['status']} with {resumed['rows_loaded']} rows")
    reused = len(resumed["attempts"][-1]["parts_reused"])
    part_s = load_busy_s / max(1, result["parts"])
    _, _, dry, _ = run_step([*transfer, str(big), "--dry-run"], environ)
    copy_sql = json.loads(dry[dry.index("["):dry.rindex("]") + 1])[0]["copy"]
    options = copy_sql[copy_sql.upper().index("FROM STDIN"):]

    # 2. the old way, one stage after the other.
    spec = select_tables(store, layout, table=str(big), batch=None, plan_url=None).tables[0]
    old = old_way_table(env, settings, store, layout, spec, database, TableRef(schema, "old_way"), work)
    old_unload_s, old_copy_s, download_s = old["unload"], old["copy"], old["download"]
    concat_s, gunzip_s, old_load_s = old["concatenate"], old["gunzip"], old["copy_in"]

    # 3. the limit: the uncompressed local file, one COPY stream, into an empty table; and r2a's load path alone
    # (GCS → gunzip → COPY of the staged parts, nothing else running), the same work the limit does.
    limit_s = _psql_copy(env, database, spec.target, TableRef(schema, "limit"), work / OLD_WAY_TEXT,
                         f'COPY "{schema}"."limit" {options}')
    load_alone_s = _load_alone(settings, store, layout, big)

    old_total = old_unload_s + old_copy_s + download_s + concat_s + gunzip_s + old_load_s
    load_rate, limit_rate = raw_mb / load_alone_s, raw_mb / limit_s
    old_after_unload = old_total - old_unload_s
    r2a_after_unload = r2a_s - phases["unload"]
    rows_out = [
        ("table (unloaded text)", raw_mb, "MB", None, None),
        ("rows", rows, "rows", None, None),
        ("parts", result["parts"], "files", None, None),
        ("r2a end to end", r2a_s, "s", None, None),
        ("r2a end to end rate", raw_mb / r2a_s, "MB/s", None, None),
        ("r2a end to end rows/s", rows / r2a_s, "rows/s", None, None),
        ("r2a unload phase (copy and load overlap it)", phases["unload"], "s", None, None),
        ("r2a copy phase (S3→GCS)", phases["copy"], "s", None, None),
        ("r2a load phase (GCS→COPY, from the first part to the commit)", phases["load"], "s", None, None),
        ("r2a load: time in COPY (not waiting for parts)", load_busy_s, "s", None, None),
        ("r2a load rate while in COPY (beside the UNLOAD, 2 cores)", raw_mb / load_busy_s, "MB/s", None, None),
        ("r2a load path alone (staged parts → COPY)", load_alone_s, "s", None, None),
        ("r2a load path alone rate", load_rate, "MB/s", None, None),
        ("r2a after the unload ended", r2a_after_unload, "s", None, None),
        *((f"CPU used during r2a end to end: {name}", seconds, "s", None, None) for name, seconds in cpu.items()),
        ("cores busy during r2a end to end (all that CPU / wall time)", sum(cpu.values()) / r2a_s, "cores", None,
         None),
        ("cores of this machine", psutil.cpu_count(), "cores", None, None),
        ("r2a --compression gzip (the old way's) end to end", gzip_s, "s", None, None),
        ("r2a --compression gzip unload phase", gzip_phases["unload"], "s", None, None),
        ("old way: UNLOAD", old_unload_s, "s", None, None),
        ("old way: copy parts S3→GCS", old_copy_s, "s", None, None),
        ("old way: download parts", download_s, "s", None, None),
        ("old way: concatenate", concat_s, "s", None, None),
        ("old way: gunzip", gunzip_s, "s", None, None),
        ("old way: psql COPY", old_load_s, "s", None, None),
        ("old way end to end", old_total, "s", None, None),
        ("limit: COPY of local text", limit_s, "s", None, None),
        ("limit rate", limit_rate, "MB/s", None, None),
        ("ratio load r2a/limit", load_rate / limit_rate, "x", ">= 0.9", load_rate / limit_rate >= 0.9),
        ("ratio end to end old/r2a", old_total / r2a_s, "x", ">= 3", old_total / r2a_s >= 3),
        ("ratio after the unload old/r2a", old_after_unload / r2a_after_unload, "x", ">= 3",
         old_after_unload / r2a_after_unload >= 3),
        ("ratio end to end old/r2a --compression gzip", old_total / gzip_s, "x", None, None),
        ("r2a peak RSS (table)", r2a_rss, "MB", "<= 256", r2a_rss <= 256),
        ("r2a peak RSS (quarter table)", quarter_rss, "MB", None, None),
        ("re-run: a reader's worst wait (count(*) every 100 ms)", watch.worst_wait_s, "s", "<= 2",
         watch.worst_wait_s <= 2),
        ("re-run: counts the reader saw other than the table's", len(watch.counts - {rows}), "counts", "== 0",
         watch.counts <= {rows}),
        ("re-run: longest r2a transaction", watch.longest_transaction_s, "s", None, None),
        ("re-run: longest r2a transaction that loads no part (verification, switch)",
         watch.longest_other_transaction_s, "s", None, None),
        *((f"re-run: samples (100 ms apart) of an r2a session waiting for a lock held by {holder}", samples,
           "samples", None, None) for holder, samples in sorted(watch.lock_holders.items())),
        ("one part's load (time in COPY / parts)", part_s, "s", None, None),
        ("ratio longest transaction / one part's load", watch.longest_transaction_s / part_s, "x", "<= 2",
         watch.longest_transaction_s <= 2 * part_s),
        ("resume: parts in the ledger when killed", committed, "parts", None, None),
        ("resume: parts reused by the re-run", reused, "parts", ">= parts in the ledger", reused >= committed),
        ("resume: the re-run, verified", resume_s, "s", None, None),
        ("ratio resume re-run / full run", resume_s / r2a_s, "x", "<= 0.3", resume_s / r2a_s <= 0.3),
        # 4. the load path again, by K loader processes at once (a big table's loader pods)
        *k_loader_rows(environ, dsn, run_id, big, rows, raw_mb, limit_rate, lambda: cpu_seconds(env)),
    ]
    return [{"benchmark": NAME, "measure": measure, "value": round(value, 3), "unit": unit,
             **({"goal": goal, "ok": ok} if goal else {})} for measure, value, unit, goal, ok in rows_out]


def _load_alone(settings, store, layout, table) -> float:
    """steps.table_transfer's load of the parts r2a staged in GCS (each in its own transaction with its ledger row),
    into an empty copy of the table, one session; seconds."""
    from dataclasses import replace

    from shared.connections import alloydb_connection
    from shared.identifiers import TableRef
    from shared.partledger import LoadKey, ensure_ledger, forget_load, start_load
    from steps.table_transfer.copy import CopiedPart
    from steps.table_transfer.load import LoadOutcome, LoadTarget, PartFeed, load_parts
    from steps.table_transfer.plan import TransferOptions, select_tables
    from steps.table_transfer.unload import Part

    spec = select_tables(store, layout, table=str(table), batch=None, plan_url=None).tables[0]
    spec = replace(spec, target=TableRef(spec.target.schema, "load_alone"))
    options = TransferOptions()
    feed = PartFeed()
    for info in store.list(layout.staging_prefix(table, 1)):
        feed.add(CopiedPart(Part(info.url, info.size, None), info.url, info.size))
    feed.finish()
    key = LoadKey("benchmark-load-alone", str(table), 1)
    conn = alloydb_connection(settings, "benchmark")
    ensure_ledger(conn)
    with conn.cursor() as cursor:
        cursor.execute(f'CREATE TABLE "{spec.target.schema}"."load_alone" (LIKE "{table.schema}"."{table.table}")')
        start_load(cursor, key, spec.target, None, options.format, options.compression, options.null_marker)
    conn.commit()
    started = time.monotonic()
    load_parts(lambda: alloydb_connection(settings, "benchmark"), store, spec, options, feed,
               LoadTarget(spec.target.sql(), key, 1, {}, "target"), LoadOutcome())
    seconds = time.monotonic() - started
    with conn.cursor() as cursor:
        forget_load(cursor, key)
    conn.commit()
    conn.close()
    return seconds


# Which devstack processes do what during a transfer (PostgreSQL serves both AlloyDB's COPY and, as the emulator's
# storage, the UNLOAD's SELECT).
_CPU_GROUPS = {"the step process (r2a)": (), "Redshift emulator": ("redshift",),
               "PostgreSQL (AlloyDB, and the emulator's storage)": ("postgres",),
               "S3 and GCS emulators": ("s3", "gcs"), "SSH bastion": ("ssh",)}


def cpu_seconds(env: dict) -> dict[str, float]:
    """CPU seconds used so far by each group: the benchmark's finished children (the steps), and every devstack
    service with its children (a service's exited children count in its own children_* times)."""
    totals = {}
    for group, services in _CPU_GROUPS.items():
        if not services:
            usage = resource.getrusage(resource.RUSAGE_CHILDREN)
            totals[group] = usage.ru_utime + usage.ru_stime
            continue
        seconds = 0.0
        for service in services:
            try:
                root = psutil.Process(env[service]["pid"])
                for process in (root, *root.children(recursive=True)):
                    times = process.cpu_times()
                    seconds += times.user + times.system + times.children_user + times.children_system
            except (KeyError, psutil.Error):
                continue
        totals[group] = seconds
    return totals


def _phase_seconds(result: dict) -> dict[str, float]:
    """A table result's phase durations by phase name."""
    return {phase["name"]: phase["duration_s"] for phase in result["phases"]}


def logged(log: str, name: str, phase: str) -> dict:
    for line in log.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("event") == name and entry.get("phase") == phase:
            return entry
    raise RuntimeError(f"no {name} {phase} event in the step's log")


def old_way_table(env: dict, settings, store, layout, spec, database: str, into, work: Path) -> dict[str, float]:
    """The old system's way for one table, each stage after the previous one: r2a's UNLOAD statement (options,
    MAXFILESIZE, credentials) with GZIP to a folder of its own, every part S3 → GCS (4 at a time, like gsutil -m),
    every part GCS → local disk, concatenate, gunzip, one `psql -c "COPY … FROM STDIN"` of the file into `into`
    (a new empty table like the target). Seconds per stage. The parts (local, S3, GCS) are removed afterwards
    (not timed); the uncompressed file stays as work/OLD_WAY_TEXT until the next table's."""
    from shared.connections import redshift_connection
    from steps.table_transfer.copy import copy_part, staged_url
    from steps.table_transfer.load import copy_statement
    from steps.table_transfer.plan import TransferOptions
    from steps.table_transfer.unload import authorization_clause, read_manifest, run_unload

    options = TransferOptions(compression="gzip")
    seconds: dict[str, float] = {}
    prefix = layout.unload_prefix(spec.source, OLD_WAY_ATTEMPT)
    staged = layout.staging_prefix(spec.source, OLD_WAY_ATTEMPT)
    folder = Path(tempfile.mkdtemp(prefix="old-way-", dir=work))
    try:
        started = time.monotonic()
        with redshift_connection(settings, "benchmark") as conn:
            run_unload(conn, spec, options, prefix, authorization_clause(settings), [])
        old_parts = read_manifest(store, prefix).parts
        seconds["unload"] = time.monotonic() - started
        started = time.monotonic()
        with ThreadPoolExecutor(4) as pool:
            parts = [copied.url for copied in pool.map(
                lambda part: copy_part(settings.s3, settings.gcs, part, staged_url(staged, part)), old_parts)]
        seconds["copy"] = time.monotonic() - started
        started = time.monotonic()
        local_parts = []
        for index, url in enumerate(sorted(parts)):
            path = folder / f"part_{index:04d}.gz"
            with store.open_read(url) as source, path.open("wb") as target:
                shutil.copyfileobj(source, target, 8 * 2**20)
            local_parts.append(path)
        seconds["download"] = time.monotonic() - started
        started = time.monotonic()
        joined = folder / "all.gz"
        with joined.open("wb") as target:
            for path in local_parts:
                with path.open("rb") as source:
                    shutil.copyfileobj(source, target, 8 * 2**20)
        seconds["concatenate"] = time.monotonic() - started
        started = time.monotonic()
        text = work / OLD_WAY_TEXT
        with gzip.open(joined, "rb") as source, text.open("wb") as target:
            shutil.copyfileobj(source, target, 8 * 2**20)
        seconds["gunzip"] = time.monotonic() - started
        dsn = envfile.postgres_dsn(env, database)
        with psycopg2.connect(dsn) as conn:
            statement = copy_statement(spec, options, table=into.sql()).as_string(conn)
        seconds["copy_in"] = _psql_copy(env, database, spec.target, into, text, statement)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        store.delete_prefix(prefix)
        store.delete_prefix(staged)
    return seconds


def _psql_copy(env: dict, database: str, like, into, text: Path, statement: str) -> float:
    """psql COPY FROM STDIN of a local file into `into`, a new empty table like `like`; seconds."""
    dsn = envfile.postgres_dsn(env, database)
    with psycopg2.connect(dsn) as conn, conn.cursor() as cursor:
        cursor.execute(sql.SQL("CREATE TABLE {} (LIKE {})").format(into.sql(), like.sql()))
    started = time.monotonic()
    with text.open("rb") as stdin:
        subprocess.run([_psql(env), dsn, "-v", "ON_ERROR_STOP=1", "-q", "-c", statement], stdin=stdin, check=True,
                       stdout=subprocess.DEVNULL)
    return time.monotonic() - started
