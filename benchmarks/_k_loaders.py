"""transfer_bench's K-loader rows: the load path (one table's staged parts in GCS → COPY) run by K loader processes
at once, each claiming parts as a table's loader pods do (steps/table_transfer/loaders.py: its share first, a part
another loader holds left to it), into an empty table with a ledger load of its own.

Per K: wall time from the first process's start to the last one's end (start-ups included), the CPU seconds of the
loaders' loads (without their start-up) and PostgreSQL's over that time, and the rows COPYed against the table's
rows (each part is committed once: 1.00 means no second write). Two cores cannot run K > 1 loaders faster than one;
the row "expected on ≥ K vCPUs" divides the CPU seconds the K loaders and their PostgreSQL backends used by K (but a
loader loads whole parts: at least ceil(parts / K) parts' worth), which is what the load takes where each loader
and its backend have a vCPU of their own: claims are dynamic (a loader done with its share takes any part nobody
holds), so the parts spread by the loaders' speed. The expected speed-up compares that with the same figure for
K = 1.

`python -m benchmarks._k_loaders RUN_ID SCHEMA.TABLE INTO LOAD_RUN_ID N K` is one loader process; it prints
`{"parts": …, "rows": …, "cpu_s": …}`.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import psycopg2
from psycopg2 import sql

K_VALUES = (1, 2, 4)
REPO = Path(__file__).resolve().parent.parent  # benchmarks/ is not installed: `-m benchmarks…` runs from here
POSTGRES_GROUP = "PostgreSQL (AlloyDB, and the emulator's storage)"


def k_loader_rows(environ: dict[str, str], dsn: str, run_id: str, table, rows: int, raw_mb: float,
                  limit_rate: float, cpu_seconds: Callable[[], dict[str, float]]) -> list[tuple]:
    """transfer_bench rows (measure, value, unit, goal, ok) for each K of K_VALUES."""
    out: list[tuple] = []
    one_s = None
    for k in K_VALUES:
        into = f"k_loaders_{k}"
        load_run = f"benchmark-k{k}-{run_id}"
        _prepare(dsn, table, into, load_run)
        before = cpu_seconds()
        started = time.monotonic()
        processes = [subprocess.Popen([sys.executable, "-m", "benchmarks._k_loaders", run_id, str(table), into,
                                       load_run, str(n), str(k)], env=environ, cwd=REPO, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE) for n in range(1, k + 1)]
        reports = []
        for process in processes:
            out_text, err_text = process.communicate()
            if process.returncode != 0:
                raise RuntimeError(f"k_loaders {k} failed: {err_text.decode(errors='replace')[-600:]}")
            reports.append(json.loads(out_text.decode().strip().splitlines()[-1]))
        wall = time.monotonic() - started
        after = cpu_seconds()
        loaders_cpu = sum(r["cpu_s"] for r in reports)
        postgres_cpu = after[POSTGRES_GROUP] - before[POSTGRES_GROUP]
        copied = sum(r["rows"] for r in reports)
        in_table, ledger_parts = _finish(dsn, table, into, load_run)
        if in_table != rows:
            raise RuntimeError(f"k_loaders {k}: {in_table} rows in the table, not {rows}")
        parts = sum(r["parts"] for r in reports)
        # claims are dynamic (a loader done with its share takes what nobody holds), so on K vCPUs the parts
        # spread by speed; a loader still loads whole parts: at best ceil(parts / K) of them
        expected = (loaders_cpu + postgres_cpu) * max(1 / k, math.ceil(parts / k) / parts)
        one_s = expected if k == 1 else one_s
        out += [
            (f"K={k} loaders: load path (staged parts → COPY)", wall, "s", None, None),
            (f"K={k} loaders: parts per loader, fewest", min(r["parts"] for r in reports), "parts", None, None),
            (f"K={k} loaders: parts per loader, most", max(r["parts"] for r in reports), "parts", None, None),
            (f"K={k} loaders: rows COPYed / table rows", copied / rows, "x", "== 1", copied == rows),
            (f"K={k} loaders: ledger parts / parts loaded", ledger_parts / parts, "x", "== 1", ledger_parts == parts),
            (f"K={k} loaders: CPU of the loader processes", loaders_cpu, "s", None, None),
            (f"K={k} loaders: CPU of PostgreSQL", postgres_cpu, "s", None, None),
            (f"K={k} loaders: expected on ≥ {k} vCPUs ((loaders + PostgreSQL CPU) / K, whole parts)", expected, "s",
             None, None),
        ]
        if k == 1:
            ratio = raw_mb / wall / limit_rate
            out.append(("ratio load path K=1 loader process / limit", ratio, "x", ">= 0.9", ratio >= 0.9))
        else:
            out.append((f"K={k} loaders: expected speed-up on ≥ {k} vCPUs (expected K=1 / expected K={k})",
                        one_s / expected, "x", None, None))
    return out


def _prepare(dsn: str, table, into: str, load_run: str) -> None:
    from shared.identifiers import TableRef
    from shared.partledger import LoadKey, ensure_ledger, start_load
    from steps.table_transfer.plan import TransferOptions

    options = TransferOptions()
    conn = psycopg2.connect(dsn)
    try:
        ensure_ledger(conn)
        with conn.cursor() as cursor:
            # no autovacuum: its ANALYZE of one K's table would count as PostgreSQL CPU of the next K
            cursor.execute(sql.SQL("CREATE TABLE {} (LIKE {}) WITH (autovacuum_enabled = false)").format(
                sql.Identifier(table.schema, into), sql.Identifier(table.schema, table.table)))
            start_load(cursor, LoadKey(load_run, str(table), 1), TableRef(table.schema, into), None, options.format,
                       options.compression, options.null_marker)
        conn.commit()
    finally:
        conn.close()


def _finish(dsn: str, table, into: str, load_run: str) -> tuple[int, int]:
    """(rows in the table, parts in the ledger); the table and the ledger load dropped."""
    from shared.partledger import LoadKey, forget_load

    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table.schema, into)))
            in_table = cursor.fetchone()[0]
            cursor.execute("SELECT count(*) FROM r2a_meta.transfer_parts WHERE run_id = %s", (load_run,))
            parts = cursor.fetchone()[0]
            forget_load(cursor, LoadKey(load_run, str(table), 1))
            cursor.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(table.schema, into)))
        conn.commit()
    finally:
        conn.close()
    return int(in_table), int(parts)


def _one_loader(run_id: str, table_name: str, into: str, load_run: str, number: int, count: int) -> dict:
    from shared.config import load_settings
    from shared.connections import alloydb_connection
    from shared.identifiers import TableRef, parse_table_ref
    from shared.objectstore import ObjectStore, RunLayout
    from shared.partledger import LoadKey
    from steps.table_transfer.copy import CopiedPart
    from steps.table_transfer.load import LoadOutcome, LoadTarget, PartFeed, load_parts
    from steps.table_transfer.loaders import share
    from steps.table_transfer.plan import TransferOptions, select_tables
    from steps.table_transfer.unload import Part

    settings = load_settings(os.environ)
    store = ObjectStore(settings.s3, settings.gcs)
    layout = RunLayout.from_settings(run_id, settings.gcs, settings.s3)
    table = parse_table_ref(table_name)
    spec = select_tables(store, layout, table=table_name, batch=None, plan_url=None).tables[0]
    spec = replace(spec, target=TableRef(table.schema, into))
    staged = store.list(layout.staging_prefix(table, 1))
    feed = PartFeed()
    for info in sorted(staged, key=lambda i: (share(i.url.rsplit("/", 1)[-1], count) != number, i.url)):
        feed.add(CopiedPart(Part(info.url, info.size, None), info.url, info.size))
    feed.finish()
    outcome = LoadOutcome()
    cpu = time.process_time()  # the load's CPU, not the interpreter's start-up and imports
    load_parts(lambda: alloydb_connection(settings, "benchmark"), store, spec, TransferOptions(), feed,
               LoadTarget(spec.target.sql(), LoadKey(load_run, table_name, 1), 1, {}, "target", loader=number,
                          skip_busy=True), outcome)
    return {"parts": len(outcome.parts_loaded), "rows": sum(outcome.part_rows[n] for n in outcome.parts_loaded),
            "cpu_s": round(time.process_time() - cpu, 3)}


if __name__ == "__main__":
    run, name, target, load, n, k = sys.argv[1:7]
    print(json.dumps(_one_loader(run, name, target, load, int(n), int(k))))
