"""UNLOAD of a >= 1 GB table keeps the Redshift emulator's memory flat (goal: peak RSS < 300 MB).

The table is made in the emulator's backend database from generate_series. When devstack runs the emulator,
the UNLOAD goes over the wire and the emulator process is measured; without the emulator (its core not built
yet) a child process runs the same run_unload() on a backend cursor and that process is measured instead
(measure names say which). RSS is sampled every 50 ms with psutil, children included.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import boto3
import psutil
import psycopg2

from devstack import env as envfile
from devstack import stack

NAME = "unload_memory"
GOAL_MB = 300
FULL_BYTES = 1100 * 1024 * 1024      # a little over 1 GB of unloaded text
SMOKE_BYTES = 20 * 1024 * 1024
ROW_SQL = ("select g::bigint as id, md5(g::text) as name, repeat(md5((g * 7)::text), 3) as payload, "
           "timestamptz '2020-01-01 00:00:00+00' + g * interval '1 second' as ts, (g % 100000) / 100.0 as amount "
           "from generate_series(1, {rows}) g")
TEXT_SQL = ("select coalesce(sum(length(id::text) + length(name) + length(payload) + length(ts::text) "
            "+ length(amount::text) + 5), 0) from {table}")
APPROX_ROW_BYTES = 180


def run(smoke: bool) -> list[dict]:
    shared = os.environ.get("R2A_DEVSTACK_DIR")
    directory = Path(shared) if shared else Path(tempfile.mkdtemp(prefix="r2a-bench-unload-"))
    env = stack.up(directory)
    try:
        return _measure(env, SMOKE_BYTES if smoke else FULL_BYTES)
    finally:
        if not shared:
            stack.down(directory, purge=True)


def _measure(env: dict, target_bytes: int) -> list[dict]:
    backend_dsn = envfile.postgres_dsn(env, env["postgres"]["databases"]["redshift"])
    table = f"r2a_bench_unload_{uuid.uuid4().hex[:8]}"
    prefix = f"s3://{env['s3']['bucket']}/bench/{table}/"
    rows = target_bytes // APPROX_ROW_BYTES
    with psycopg2.connect(backend_dsn) as conn, conn.cursor() as cur:
        cur.execute(f"create unlogged table public.{table} as " + ROW_SQL.format(rows=rows))
        cur.execute(TEXT_SQL.format(table=f"public.{table}"))
        text_bytes = int(cur.fetchone()[0])
    statement = (f"UNLOAD ('select * from public.{table}') TO '{prefix}' "
                 f"ACCESS_KEY_ID '{env['s3']['access_key_id']}' SECRET_ACCESS_KEY '{env['s3']['secret_access_key']}' "
                 "GZIP MANIFEST VERBOSE")  # nosec B608  # benchmark table names are generated here; devstack's emulator is the target
    try:
        if "redshift" in env and stack.running(env, "redshift"):
            where = "emulator"
            peak, seconds = _over_the_wire(env, statement)
        else:
            where = "run_unload child"
            peak, seconds = _in_child(env, backend_dsn, statement)
    finally:
        with psycopg2.connect(backend_dsn) as conn, conn.cursor() as cur:
            cur.execute(f"drop table if exists public.{table}")
        _delete_prefix(env["s3"], prefix)
    mb = 1024 * 1024
    return [
        {"benchmark": NAME, "measure": "unloaded text", "value": round(text_bytes / mb, 1), "unit": "MB"},
        {"benchmark": NAME, "measure": "rows", "value": rows, "unit": "rows"},
        {"benchmark": NAME, "measure": f"peak RSS ({where})", "value": round(peak / mb, 1), "unit": "MB",
         "goal": f"< {GOAL_MB} MB", "ok": peak < GOAL_MB * mb},
        {"benchmark": NAME, "measure": "throughput (text, gzip)", "value": round(text_bytes / mb / seconds, 1),
         "unit": "MB/s"},
    ]


def _delete_prefix(s3_env: dict, prefix: str) -> None:
    """moto keeps objects in memory: leave a shared devstack as small as we found it."""
    client = boto3.client("s3", endpoint_url=s3_env["endpoint_url"], region_name=s3_env["region"],
                          aws_access_key_id=s3_env["access_key_id"], aws_secret_access_key=s3_env["secret_access_key"])
    bucket, key_prefix = prefix[len("s3://"):].split("/", 1)
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key_prefix):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})


class _PeakRss:
    """Samples a process tree's resident memory in a thread; `peak` is the largest sum seen."""

    def __init__(self, pid: int):
        self.process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.is_set():
            try:
                total = self.process.memory_info().rss
                total += sum(child.memory_info().rss for child in self.process.children(recursive=True))
            except psutil.Error:
                total = 0
            self.peak = max(self.peak, total)
            self._stop.wait(0.05)


def _over_the_wire(env: dict, statement: str) -> tuple[int, float]:
    redshift = env["redshift"]
    conn = psycopg2.connect(host=redshift["host"], port=redshift["port"], dbname=redshift["database"],
                            user=redshift["user"], password=redshift["password"], sslmode="disable")
    conn.autocommit = True
    try:
        with _PeakRss(redshift["pid"]) as sampler, conn.cursor() as cur:
            started = time.monotonic()
            cur.execute(statement)
            seconds = time.monotonic() - started
        return sampler.peak, seconds
    finally:
        conn.close()


def _in_child(env: dict, backend_dsn: str, statement: str) -> tuple[int, float]:
    job = {"dsn": backend_dsn, "statement": statement, "endpoint_url": env["s3"]["endpoint_url"],
           "region": env["s3"]["region"]}
    child = subprocess.Popen([sys.executable, "-m", "benchmarks.unload_memory"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, cwd=envfile.REPO_ROOT)
    with _PeakRss(child.pid) as sampler:
        started = time.monotonic()
        out, _ = child.communicate(json.dumps(job))
        seconds = time.monotonic() - started
    if child.returncode != 0:
        raise RuntimeError(f"the UNLOAD child failed (exit {child.returncode}): {out.strip()[-300:]}")
    return sampler.peak, seconds


def _child_main() -> int:
    """Run one UNLOAD with run_unload() on a backend named cursor that returns text, like the core does."""
    from devstack.redshift.unload import S3Target, run_unload
    from devstack.redshift.unload_backend import named_cursor_opener, use_text_values

    job = json.loads(sys.stdin.read())
    conn = psycopg2.connect(job["dsn"])
    use_text_values(conn)
    open_cursor = named_cursor_opener(conn)

    outcome = run_unload(job["statement"], open_cursor, S3Target(job["endpoint_url"], job["region"]), 4,
                         lambda _: None)
    conn.rollback()
    print(json.dumps({"rows": outcome.rows, "files": len(outcome.files)}))
    return 0


if __name__ == "__main__":
    sys.exit(_child_main())
