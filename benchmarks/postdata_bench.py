"""post-data on 1,000 tables (smoke: 20), each with a PRIMARY KEY and two indexes, in 1 and in 4 sessions.

Two identical databases on devstack's PostgreSQL (the second a TEMPLATE copy of the first): tables of
(id, a, b) with R2A_BENCH_POSTDATA_ROWS rows each (default 1,000; smoke 200), autovacuum off on them so that
nothing else works on the server meanwhile. On each, load_schema's post-data engine (steps/load_schema/postdata.py,
in this process, as the step calls it: keys and indexes, identity reseed, ANALYZE, staging cleanup) runs once,
with --index-jobs 1 and 4. Reading the run folder is left out: the objects are built here, since one result file
per table in devstack's GCS emulator would cost more than the work measured.

Besides wall time, the CPU seconds of the PostgreSQL server (every process of it, exited backends included) and
of this process: post-data is CPU-bound on the server, so with C cores the fastest it can go is its CPU seconds
spread over C cores; the row "ceiling" divides the one-session wall time by that (and 4 sessions cannot do better
than 4x). The small tables are bound by each statement's latency (commits, catalog work), not CPU; the few large
ones by the server's CPU, so on 2 cores their speed-up stays near 2x whatever --index-jobs is.
"""

from __future__ import annotations

import os
import resource
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import psutil
import psycopg2
from psycopg2 import sql

from devstack import env as envfile
from devstack import stack

NAME = "postdata_bench"
JOBS = (1, 4)


def run(smoke: bool) -> list[dict]:
    """Two shapes: many small tables (the issue's 1,000, where per-statement latency dominates) and a few large
    ones (index builds that keep the server's CPU busy, where the cores are the ceiling)."""
    many = (int(os.environ.get("R2A_BENCH_POSTDATA_TABLES", "20" if smoke else "1000")),
            int(os.environ.get("R2A_BENCH_POSTDATA_ROWS", "200" if smoke else "1000")))
    few = (4, 2000) if smoke else (8, 250_000)
    shared = os.environ.get("R2A_DEVSTACK_DIR")
    directory = Path(shared) if shared else Path(tempfile.mkdtemp(prefix="r2a-bench-postdata-"))
    env = stack.up(directory, with_redshift=False)
    try:
        return _bench(env, *many, "") + _bench(env, *few, "large tables: ")
    finally:
        if not shared:
            stack.down(directory, purge=True)
            shutil.rmtree(directory, ignore_errors=True)


def _tables(count: int) -> list[tuple[str, str]]:
    return [(f"pd_{i % 10}", f"t{i:05d}") for i in range(count)]


def _objects(tables: list[tuple[str, str]]):
    from shared.sqlblocks import SqlObject

    objects = []
    for schema, table in tables:
        ref = sql.Identifier(schema, table)
        statements = [("constraint", f"{table}_pkey", sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY (id);")
                       .format(ref, sql.Identifier(f"{table}_pkey"))),
                      ("index", f"{table}_a_idx", sql.SQL("CREATE INDEX {} ON {} (a);")
                       .format(sql.Identifier(f"{table}_a_idx"), ref)),
                      ("index", f"{table}_b_idx", sql.SQL("CREATE INDEX {} ON {} (b);")
                       .format(sql.Identifier(f"{table}_b_idx"), ref))]
        objects += [(kind, f"{schema}.{table}.{name}", statement) for kind, name, statement in statements]
    return lambda conn: [SqlObject(kind, name, statement.as_string(conn), name) for kind, name, statement in objects]


def _fill(dsn: str, tables: list[tuple[str, str]], rows: int) -> None:
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            for schema in sorted({s for s, _ in tables}):
                cur.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
            for schema, table in tables:
                ref = sql.Identifier(schema, table)
                cur.execute(sql.SQL("CREATE TABLE {} (id integer NOT NULL, a integer, b varchar(40)) "
                                    "WITH (autovacuum_enabled = off)").format(ref))
                cur.execute(sql.SQL("INSERT INTO {} SELECT g, (g * 7919) %% %s, md5(g::text) "
                                    "FROM generate_series(1, %s) g").format(ref), (rows, rows))
        conn.commit()
    finally:
        conn.close()


def _bench(env: dict, count: int, rows: int, label: str) -> list[dict]:
    names = [f"bench_pd_{uuid.uuid4().hex[:8]}" for _ in JOBS]
    admin = psycopg2.connect(envfile.postgres_dsn(env, "postgres"))
    admin.autocommit = True
    tables = _tables(count)
    try:
        with admin.cursor() as cur:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(names[0])))
        _fill(envfile.postgres_dsn(env, names[0]), tables, rows)
        with admin.cursor() as cur:
            for name in names[1:]:
                cur.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name),
                                                                            sql.Identifier(names[0])))
        measured = {jobs: _post_data(env, name, tables, jobs) for jobs, name in zip(JOBS, names, strict=True)}
    finally:
        with admin.cursor() as cur:
            for name in names:
                cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.close()
    return [dict(row, measure=label + row["measure"]) for row in _rows(measured, count, rows, not label)]


def _post_data(env: dict, database: str, tables: list[tuple[str, str]], jobs: int) -> dict[str, float]:
    from shared.config import load_settings
    from shared.connections import alloydb_connection
    from shared.ddlsession import pin_ddl_session
    from shared.identifiers import TableRef
    from steps.load_schema.postdata import apply_post_data

    settings = load_settings({**envfile.product_environ(env), "PGDATABASE": database})

    def connect():
        conn = alloydb_connection(settings, NAME)
        pin_ddl_session(conn)
        return conn

    conn = connect()
    try:
        objects = _objects(tables)(conn)
        refs = [TableRef(schema, table) for schema, table in tables]
        server, client = _server_cpu(env), _own_cpu()
        started = time.monotonic()
        result = apply_post_data(conn, objects, refs, index_jobs=jobs, connect=connect)
        wall = time.monotonic() - started
        server, client = _server_cpu(env) - server, _own_cpu() - client
    finally:
        conn.close()
    applied = sum(1 for o in result.objects if o.status == "applied" and o.kind in ("constraint", "index"))
    if applied != len(objects) or result.analyzed != len(tables):
        raise RuntimeError(f"jobs={jobs}: {applied}/{len(objects)} objects applied, {result.analyzed} analyzed")
    return {"wall": wall, "server": server, "client": client}


def _server_cpu(env: dict) -> float:
    """CPU seconds of the PostgreSQL server so far: the postmaster, its live children, and (in the postmaster's
    children_* times) every backend that has exited."""
    root = psutil.Process(env["postgres"]["pid"])
    total = 0.0
    for process in (root, *root.children(recursive=True)):
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rows(measured: dict[int, dict[str, float]], tables: int, rows: int, judged: bool) -> list[dict]:
    cores = psutil.cpu_count() or 1
    one, four = measured[1], measured[4]
    speedup = one["wall"] / four["wall"]
    busiest = max(one["server"] + one["client"], four["server"] + four["client"])
    ceiling = min(4.0, one["wall"] / max(busiest / min(cores, 4), 1e-9))
    out = [("tables (PRIMARY KEY + 2 indexes each)", tables, ""), ("rows per table", rows, "")]
    for jobs, figures in measured.items():
        out += [(f"wall, --index-jobs {jobs}", figures["wall"], "s"),
                (f"PostgreSQL CPU, --index-jobs {jobs}", figures["server"], "s"),
                (f"r2a process CPU, --index-jobs {jobs}", figures["client"], "s"),
                (f"objects per second, --index-jobs {jobs}", 3 * tables / figures["wall"], "1/s")]
    out += [("cores of this machine", cores, "cores"),
            ("cores busy, --index-jobs 4 (CPU / wall)", (four["server"] + four["client"]) / four["wall"], "cores")]
    rows_out = [{"benchmark": NAME, "measure": m, "value": v, "unit": u} for m, v, u in out]
    rows_out.append({"benchmark": NAME, "measure": "speed-up, --index-jobs 4 vs 1", "value": speedup, "unit": "x"})
    if judged:
        rows_out[-1].update(goal=f"≥ 0.8 × the ceiling below ({ceiling:.2f}x on {cores} cores)",
                            ok=speedup >= 0.8 * ceiling)
    rows_out.append({"benchmark": NAME, "measure": "ceiling: 4 sessions, or the wall of 1 session / the CPU "
                     "seconds spread over min(cores, 4), whichever is lower", "value": ceiling, "unit": "x"})
    return rows_out
