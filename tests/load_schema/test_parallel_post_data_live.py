"""post-data in several AlloyDB sessions (--index-jobs): the same end state and report as one session, foreign
keys after the keys they reference, a failing index costs only itself, every object's times in the report."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

import psycopg2
import pytest

from devstack import env as envfile
from shared.config import load_settings
from shared.objectstore import ObjectStore, RunLayout
from steps.validate_restore.pgdump import dump_schema, find_pg_dump
from tests.conftest import admin_connection
from tests.load_schema.conftest import query, transfers_succeeded
from tests.support.runfolder import RunFolder
from tests.support.steps import run_step
from tests.validate_restore.conftest import block

STEP = "steps.load_schema"
TABLES = 10


def _table(i: int) -> dict:
    columns = [("id", "integer"), ("ref", "integer"), ("a", "integer"), ("b", "varchar(32)")]
    return {"source": {"schema": "par", "name": f"t{i}"}, "target": {"schema": "par", "name": f"t{i}"},
            "kind": "table", "estimated_rows": 200, "size_mb": 1,
            "columns": [{"source": c, "target": c, "source_type": t, "target_type": t, "unload_expression": f'"{c}"',
                         "nullable": True} for c, t in columns]}


PRE_DATA = block("schema", "par", 'CREATE SCHEMA "par";') + "".join(
    block("table", f"par.t{i}", f'CREATE TABLE "par"."t{i}" ("id" integer NOT NULL, "ref" integer, "a" integer, '
                                f'"b" varchar(32));', depends_on=["par"]) for i in range(TABLES))
NAME_MAP = {"format_version": 1, "run_id": "x", "schemas": {"par": "par"}, "tables": [_table(i) for i in range(TABLES)]}


def _post_data() -> str:
    """Every table: PK, two indexes, a FK to the previous table (t0 to the last: a cycle of references). t3's PK
    is violated by its rows (so the FK to it fails), t5 has a UNIQUE constraint and an index on a column that
    does not exist; t7's FK references t6's unique index instead of its PK."""
    blocks = []
    for i in range(TABLES):
        t, prev = f"t{i}", f"t{(i - 1) % TABLES}"
        blocks.append(block("constraint", f"par.{t}.{t}_ref_fkey", (
            f'ALTER TABLE "par"."{t}" ADD CONSTRAINT "{t}_ref_fkey" FOREIGN KEY ("ref") REFERENCES "par"."{prev}" '
            + ('("a");' if i == 7 else '("id");'))))
        blocks.append(block("index", f"par.{t}.{t}_a_idx",
                            f'CREATE {"UNIQUE " if i == 6 else ""}INDEX "{t}_a_idx" ON "par"."{t}" ("a");'))
        blocks.append(block("index", f"par.{t}.{t}_b_idx", f'CREATE INDEX "{t}_b_idx" ON "par"."{t}" ("b");'))
        blocks.append(block("constraint", f"par.{t}.{t}_pkey",
                            f'ALTER TABLE "par"."{t}" ADD CONSTRAINT "{t}_pkey" PRIMARY KEY ("id");'))
    blocks.append(block("constraint", "par.t5.t5_b_key", 'ALTER TABLE "par"."t5" ADD CONSTRAINT "t5_b_key" UNIQUE ("b");'))
    blocks.append(block("index", "par.t5.t5_nope_idx", 'CREATE INDEX "t5_nope_idx" ON "par"."t5" ("nope");'))
    blocks.append(block("view", "par.v_t1", 'CREATE VIEW "par"."v_t1" AS SELECT "id", "a" FROM "par"."t1";'))
    return "".join(blocks)


DATA = "".join(
    f"INSERT INTO par.t{i} SELECT g, g, g, 'v' || g FROM generate_series(1, 200) g;" for i in range(TABLES)
) + "INSERT INTO par.t3 VALUES (1, 1, 1000, 'dup');"


@pytest.fixture
def two_databases(devstack, devstack_environ):
    """Two fresh databases (one per --index-jobs value); dropped afterwards."""
    names = [f"t_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    admin = admin_connection(devstack)
    try:
        for name in names:
            with admin.cursor() as cur:
                cur.execute(f'create database "{name}"')
        yield [(envfile.postgres_dsn(devstack, n), dict(devstack_environ, PGDATABASE=n)) for n in names]
        for name in names:
            with admin.cursor() as cur:
                cur.execute(f'drop database if exists "{name}" with (force)')
    finally:
        admin.close()


def _run(dsn: str, environ: dict[str, str], jobs: int) -> RunFolder:
    run_id = f"par_{uuid.uuid4().hex[:12]}"
    settings = load_settings(environ)
    folder = RunFolder(run_id, ObjectStore(settings.s3, settings.gcs), RunLayout.from_settings(run_id, settings.gcs),
                       environ)
    folder.put(folder.layout.validated_sql("pre-data"), PRE_DATA)
    folder.put(folder.layout.name_map_json, json.dumps(NAME_MAP))
    done = run_step(STEP, ["--run-id", run_id, "--section", "pre-data"], environ)
    assert done.returncode == 0, done.stderr
    query(dsn, DATA)
    transfers_succeeded(folder)
    folder.put(folder.layout.validated_sql("post-data"), _post_data())
    done = run_step(STEP, ["--run-id", run_id, "--section", "post-data", f"--index-jobs={jobs}"], environ)
    assert done.returncode == 0, done.stderr
    return folder


def _schema(dsn: str) -> list[str]:
    major = int(query(dsn, "SHOW server_version_num")[0][0]) // 10000
    dump = dump_schema(find_pg_dump(major), dsn)
    return [line for line in dump.splitlines()
            if line.strip() and not line.startswith(("--", "\\restrict", "\\unrestrict"))]


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_four_sessions_give_the_end_state_and_report_of_one(two_databases):
    (dsn1, env1), (dsn4, env4) = two_databases
    serial, parallel = _run(dsn1, env1, 1), _run(dsn4, env4, 4)
    assert _schema(dsn1) == _schema(dsn4)
    reports = [f.json(f.layout.post_data_report_json) for f in (serial, parallel)]
    kept = ("objects", "counts", "analyzed", "analyze_failures", "deferred_tables")
    assert {k: reports[0][k] for k in kept} == {k: reports[1][k] for k in kept}
    assert (reports[0]["index_jobs"], reports[1]["index_jobs"]) == (1, 4)

    outcomes = {o["name"]: (o["status"], o.get("reason")) for o in reports[1]["objects"]}
    assert outcomes["par.t3.t3_pkey"][0] == "failed" and "violate" in outcomes["par.t3.t3_pkey"][1]
    assert outcomes["par.t4.t4_ref_fkey"][0] == "failed"  # references t3, whose key could not be created
    assert outcomes["par.t5.t5_nope_idx"][0] == "failed" and "nope" in outcomes["par.t5.t5_nope_idx"][1]
    assert outcomes["par.t7.t7_ref_fkey"] == ("applied", None)  # on t6's unique index
    others = {n: s for n, (s, _) in outcomes.items()
              if n not in ("par.t3.t3_pkey", "par.t4.t4_ref_fkey", "par.t5.t5_nope_idx")}
    assert set(others.values()) == {"applied"}, others  # t5's other index and key, t5's table: unaffected
    assert reports[1]["analyzed"] == TABLES


def test_foreign_keys_start_after_the_keys_they_reference_and_every_object_is_timed(two_databases):
    _, (dsn, environ) = two_databases
    folder = _run(dsn, environ, 4)
    report = folder.json(folder.layout.post_data_report_json)
    timings = {(t["kind"], t["name"]): t for t in report["timings"]}
    names = {(o["kind"], o["name"]) for o in report["objects"] if o["kind"] != "sequence"}
    assert names <= set(timings)  # every key, index and view
    assert {n for k, n in timings if k == "analyze"} == {f"par.t{i}" for i in range(TABLES)}
    for i in range(TABLES):
        fkey = timings[("constraint", f"par.t{i}.t{i}_ref_fkey")]
        prev = (i - 1) % TABLES
        needed = timings[("index", f"par.t{prev}.t{prev}_a_idx")] if i == 7 else \
            timings[("constraint", f"par.t{prev}.t{prev}_pkey")]
        assert _ts(fkey["started_at"]) >= _ts(needed["finished_at"]), (fkey, needed)
    for timing in report["timings"]:
        assert 1 <= timing["session"] <= 4 and timing["duration_s"] >= 0
        assert _ts(timing["finished_at"]) >= _ts(timing["started_at"])
    assert len({t["session"] for t in report["timings"]}) > 1  # the work was spread over sessions
    view = timings[("view", "par.v_t1")]
    applied = {(o["kind"], o["name"]) for o in report["objects"] if o["status"] == "applied"}
    # the failed ones are tried again after the view (a later pass); those applied ran in the first pass
    keyed = [t for key, t in timings.items() if key[0] in ("constraint", "index") and key in applied]
    assert _ts(view["started_at"]) >= max(_ts(t["finished_at"]) for t in keyed)
    assert query(dsn, "select count(*) from pg_stat_user_tables where schemaname = 'par' and last_analyze is not null"
                 ) == [(TABLES,)]


@contextmanager
def _post_data_behind_a_lock(dsn: str, environ: dict[str, str]) -> Iterator[tuple[RunFolder, subprocess.Popen,
                                                                                    Callable[[], list[int]]]]:
    """post-data in 3 sessions, started while another session holds an ACCESS EXCLUSIVE lock on par.t1 whose PK
    it must add again. Yields the run folder, the step's process and `waiting()`: the pids of sessions blocked on
    that lock. The lock is released when the block ends."""
    folder = _run(dsn, environ, 1)
    query(dsn, 'ALTER TABLE "par"."t1" DROP CONSTRAINT "t1_pkey" CASCADE')
    holder, watcher = psycopg2.connect(dsn), psycopg2.connect(dsn)
    watcher.autocommit = True
    try:
        with holder.cursor() as held, watcher.cursor() as cur:
            held.execute('LOCK TABLE "par"."t1" IN ACCESS EXCLUSIVE MODE')

            def waiting() -> list[int]:
                cur.execute("SELECT pid FROM pg_locks WHERE relation = 'par.t1'::regclass AND NOT granted")
                return [row[0] for row in cur.fetchall()]

            step = subprocess.Popen(
                [sys.executable, "-m", STEP, "--run-id", folder.run_id, "--section", "post-data", "--index-jobs=3"],
                env=dict(_step_env(), **environ, R2A_LOG_FORMAT="json"), stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True)
            try:
                yield folder, step, waiting
            finally:
                holder.rollback()
    finally:
        holder.close()
        watcher.close()


def _blocked_sessions(waiting: Callable[[], list[int]]) -> list[int]:
    """The step's sessions blocked on the lock, once there is one (none after 60 s: [])."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if pids := waiting():
            return pids
        time.sleep(0.05)
    return []


def test_a_lost_session_fails_the_step_in_one_line_and_the_retry_finishes(two_databases):
    """One of the sessions is killed while it waits for a lock: the step exits with one error line (a transient
    error, which Argo's retry runs again) once the other sessions stopped, and the next run applies the rest."""
    _, (dsn, environ) = two_databases
    with _post_data_behind_a_lock(dsn, environ) as (folder, step, waiting):
        blocked = _blocked_sessions(waiting)
        assert blocked
        query(dsn, "SELECT pg_terminate_backend(%s)", (blocked[0],))
    _, stderr = step.communicate(timeout=120)
    errors = [line for line in stderr.splitlines() if line.startswith("r2a load_schema: error: ")]
    assert step.returncode != 0 and len(errors) == 1 and "Traceback" not in stderr, stderr
    assert "AlloyDB connection" in errors[0]
    done = run_step(STEP, ["--run-id", folder.run_id, "--section", "post-data", "--index-jobs=3"], environ)
    assert done.returncode == 0, done.stderr
    assert query(dsn, "select count(*) from pg_constraint where conname in ('t1_pkey', 't2_ref_fkey')") == [(2,)]


def test_sigterm_stops_every_session_at_once(two_databases):
    """Argo stops a pod with SIGTERM: the step cancels what its sessions run (here: waits for a lock held
    elsewhere) instead of finishing the queue, and exits with one line."""
    _, (dsn, environ) = two_databases
    with _post_data_behind_a_lock(dsn, environ) as (_, step, waiting):
        assert _blocked_sessions(waiting)
        step.send_signal(signal.SIGTERM)
        _, stderr = step.communicate(timeout=30)  # with the lock still held elsewhere
        assert waiting() == []  # no session of the step is left waiting
    errors = [line for line in stderr.splitlines() if line.startswith("r2a load_schema: error: ")]
    assert step.returncode == 1 and len(errors) == 1 and "stopped by SIGTERM" in errors[0], stderr
    assert "Traceback" not in stderr


def _step_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
