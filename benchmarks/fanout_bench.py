"""Many tables through the rendered DAG (`r2a run-local`) against the old system's loop, and r2a's cost per table.

R2A_BENCH_FANOUT_TABLES tables (default 1,000; smoke: 6) are made in the Redshift emulator: most hold 0 to 200
rows, about 2 % tens of MB (smoke: 1 MB), sizes drawn from a fixed seed. Then, on devstack (every Redshift
connection through the SSH bastion, as the rendered workflow has it):
1. in the pod: `python -m steps.table_transfer` run directly, once per table for a few tiny tables and once for a
   batch of tiny tables (a run of their own, planned by the real schema steps), wall time and CPU of the process,
   and each table's own wall and CPU from its `table.cost` log event; "overhead" is what is left after the UNLOAD
   (the unload phase) and the COPY (the time in COPY): connections, tunnels, object-store round trips, start-up;
2. r2a: the whole rendered Workflow with run-local (dump_schema … table_transfer fan-out … report) into a new
   database; tables per minute of the table-transfer fan-out, from its first pod's start to its last pod's end;
   every table must end `succeeded` with the rows it was given;
3. the old way, the same tables OLD_WAY_JOBS at a time, as the old system's parallel process ran them
   (transfer_bench.old_way_table: UNLOAD, S3 → GCS, download, concatenate, gunzip, psql COPY). It runs inside this
   process with r2a's clients, where the old scripts started aws/gsutil/psql/ssh for each table (gsutil alone about
   1 CPU s per start here): its best case;
4. run-local's own cost per node: the table-transfer template with its command replaced by `python -c pass`,
   against that command run directly. It stands in for Argo's pod start, which cannot be measured here.
"""

from __future__ import annotations

import json
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import psycopg2
import yaml
from psycopg2 import sql

from benchmarks.transfer_bench import (
    ROW_BYTES,
    cpu_seconds,
    create_bench_table,
    emulator_connection,
    old_way_table,
    run_step,
    step_environ,
)
from devstack import env as envfile
from devstack import stack
from shared.documents.batch import Batch
from workflows.local_env import devstack_environment
from workflows.run_local import RENDERED, run_workflow

NAME = "fanout_bench"
SEED = 21
TINY_MAX_ROWS = 200
BIG_SHARE = 0.02
# The old system ran its per-table process in parallel ("un proceso paralelizado", its README; the degree is not
# documented): as many tables at a time as r2a's DAG runs pods (workflows/definitions.py TRANSFER_PARALLELISM).
OLD_WAY_JOBS = 8



@dataclass(frozen=True)
class Sizes:
    tables: int
    singles: int  # tiny tables each moved by a process of its own (in the pod)
    batch: int  # tiny tables moved by one process (in the pod)
    stub_nodes: int  # run-local nodes of the stub template
    big_mb: tuple[float, float]
    old_way_jobs: int = OLD_WAY_JOBS


FULL = Sizes(tables=1000, singles=3, batch=10, stub_nodes=8, big_mb=(10.0, 40.0))
SMOKE = Sizes(tables=6, singles=1, batch=3, stub_nodes=2, big_mb=(1.0, 1.0), old_way_jobs=2)
OLD_SCHEMA = "r2a_bench_old"
TRANSFER_NODE = re.compile(r"^  (?P<mark>[>✓✗])  table-transfer\(")
GOAL_RATIO, GOAL_BATCH_CPU_S = 5.0, 0.3


def table_rows(count: int, big_mb: tuple[float, float], seed: int = SEED) -> list[int]:
    """Rows of each table: most tiny, about BIG_SHARE tens of MB (the first always, so every size has one)."""
    rng = random.Random(seed)
    rows = []
    for number in range(count):
        if number == 0 or rng.random() < BIG_SHARE:
            rows.append(int(rng.uniform(*big_mb) * 2**20) // ROW_BYTES)
        else:
            rows.append(rng.randint(0, TINY_MAX_ROWS))
    return rows


def run(smoke: bool) -> list[dict]:
    sizes = SMOKE if smoke else FULL
    sizes = replace(sizes, tables=int(os.environ.get("R2A_BENCH_FANOUT_TABLES", sizes.tables)),
                    old_way_jobs=int(os.environ.get("R2A_BENCH_OLD_WAY_JOBS", sizes.old_way_jobs)))
    shared = os.environ.get("R2A_DEVSTACK_DIR")
    directory = Path(shared) if shared else Path(tempfile.mkdtemp(prefix="r2a-bench-fanout-"))
    env = stack.up(directory)
    work = Path(tempfile.mkdtemp(prefix="r2a-bench-fanout-work-"))
    schema = f"fan_{uuid.uuid4().hex[:8]}"
    databases = [f"fan_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    rows = table_rows(sizes.tables, sizes.big_mb)
    admin = psycopg2.connect(envfile.postgres_dsn(env, "postgres"))
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            for database in databases:
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
        _make_tables(env, schema, rows)
        return _bench(env, schema, rows, databases, work, sizes)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        with emulator_connection(env) as conn, conn.cursor() as cursor:
            cursor.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
        with admin.cursor() as cursor:
            for database in databases:
                cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
        admin.close()
        if not shared:
            stack.down(directory, purge=True)


def table_name(number: int) -> str:
    return f"t{number:04d}"


def _make_tables(env: dict, schema: str, rows: list[int]) -> None:
    with emulator_connection(env) as conn, conn.cursor() as cursor:
        cursor.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        for number, count in enumerate(rows):
            create_bench_table(cursor, schema, table_name(number), count)


def _bench(env: dict, schema: str, rows: list[int], databases: list[str], work: Path, sizes: Sizes) -> list[dict]:
    tiny = [n for n, count in enumerate(rows) if count <= TINY_MAX_ROWS]
    in_pod = _in_pod(env, schema, tiny, databases[0], sizes)
    startup = _startup_cpu()
    r2a = _through_run_local(env, schema, rows, databases[1], work)
    old = _old_way(env, schema, rows, databases[1], r2a["run_id"], work, sizes.old_way_jobs)
    stub = _run_local_per_node(env, work, sizes.stub_nodes)
    raw_mb = r2a["bytes_raw"] / 2**20
    r2a_rate = len(rows) / r2a["fanout_s"] * 60
    old_rate = len(rows) / old["seconds"] * 60
    batch_cpu = in_pod["batch_table_cpu_s"]
    r2a_services_cpu = sum(r2a["services_cpu"].values()) / len(rows)
    r2a_cpu = r2a["dag_cpu_s"] / len(rows) + r2a_services_cpu
    old_cpu = (old["own_cpu_s"] + sum(old["services_cpu"].values())) / len(rows)
    out = [
        ("tables", len(rows), "tables", None, None),
        ("tiny tables (at most 200 rows)", len(tiny), "tables", None, None),
        ("tables of tens of MB", len(rows) - len(tiny), "tables", None, None),
        ("data (unloaded text)", raw_mb, "MB", None, None),
        ("run-local pods: single tables", r2a["single_pods"], "pods", None, None),
        ("run-local pods: batches", r2a["batch_pods"], "pods", None, None),
        ("tables verified (succeeded, every row)", r2a["verified"], "tables", None, None),
        ("r2a whole DAG (schema steps, fan-out, post-data, report)", r2a["dag_s"], "s", None, None),
        ("r2a table-transfer fan-out", r2a["fanout_s"], "s", None, None),
        ("r2a tables per minute (fan-out)", r2a_rate, "tables/min", None, None),
        ("r2a CPU of every step process of the DAG per table", r2a["dag_cpu_s"] / len(rows), "s", None, None),
        ("r2a CPU of the table-transfer pods per table", r2a["pods_cpu_s"] / len(rows), "s", None, None),
        ("run-local pods, single table: CPU per pod (start-up included)", r2a["single_pod_table_cpu_s"], "s", None,
         None),
        ("run-local pods, batch: CPU per table (start-up shared)", r2a["batch_pod_table_cpu_s"], "s", None, None),
        ("run-local pods, single table: median node wall", r2a["single_node_table_s"], "s", None, None),
        ("run-local pods, batch: median node wall per table", r2a["batch_node_table_s"], "s", None, None),
        *((f"CPU per table during the fan-out: {group}", seconds / len(rows), "s", None, None)
          for group, seconds in r2a["services_cpu"].items()),
        ("old way: tables at a time", sizes.old_way_jobs, "tables", None, None),
        ("old way loop", old["seconds"], "s", None, None),
        ("old way tables per minute", old_rate, "tables/min", None, None),
        *((f"old way per table: {stage}", seconds / len(rows), "s", None, None)
          for stage, seconds in old["stages"].items()),
        ("old way CPU per table: its own (the bench process with its clients, and psql)", old["own_cpu_s"] / len(rows), "s",
         None, None),
        *((f"old way CPU per table: {group}", seconds / len(rows), "s", None, None)
          for group, seconds in old["services_cpu"].items()),
        ("r2a CPU per table, all (the DAG's step processes and the services)", r2a_cpu, "s", None, None),
        ("old way CPU per table, all (its process, psql and the services)", old_cpu, "s", None, None),
        ("ratio CPU per table old/r2a (the ceiling of the ratio when CPU-bound)", old_cpu / r2a_cpu, "x", None,
         None),
        ("ratio CPU per table old/r2a's services alone (the ceiling if r2a's processes cost nothing)",
         old_cpu / r2a_services_cpu, "x", None, None),
        ("ratio tables per minute r2a/old", r2a_rate / old_rate, "x", f">= {GOAL_RATIO:g}",
         r2a_rate / old_rate >= GOAL_RATIO),
        ("in pod, single table: process wall", in_pod["single_wall_s"], "s", None, None),
        ("in pod, single table: process CPU (start-up included)", in_pod["single_cpu_s"], "s", None, None),
        ("in pod, single table: overhead wall (outside UNLOAD/COPY)", in_pod["single_overhead_s"], "s", None, None),
        ("in pod, in a batch: wall per table", in_pod["batch_table_wall_s"], "s", None, None),
        ("in pod, in a batch: overhead wall per table (outside UNLOAD/COPY)", in_pod["batch_overhead_s"], "s",
         None, None),
        ("in pod, in a batch: overhead CPU per table", batch_cpu, "s", f"<= {GOAL_BATCH_CPU_S:g}",
         batch_cpu <= GOAL_BATCH_CPU_S),
        (f"in pod, batch of {in_pod['batch_tables']}: process CPU per table (start-up shared)",
         in_pod["batch_process_cpu_s"] / in_pod["batch_tables"], "s", None, None),
        ("start-up of a step process: CPU (interpreter and imports)", startup, "s", None, None),
        ("run-local per node: wall outside the step's process", stub["per_node_s"], "s", None, None),
        ("load average during the bench (1 min, at the end)", os.getloadavg()[0], "", None, None),
    ]
    return [{"benchmark": NAME, "measure": measure, "value": round(value, 3) if isinstance(value, float) else value,
             "unit": unit, **({"goal": goal, "ok": ok} if goal else {})} for measure, value, unit, goal, ok in out]


# ------------------------------------------------------------------------------------------- in the pod

def _in_pod(env: dict, schema: str, tiny: list[int], database: str, sizes: Sizes) -> dict:
    """A few tiny tables, each by a process of its own, then a batch of others by one process, all planned by
    the real schema steps for a run of their own."""
    singles = tiny[:sizes.singles]
    batch = tiny[sizes.singles:sizes.singles + sizes.batch] or singles
    chosen = sorted(set(singles) | set(batch))
    environ = step_environ(env, database)
    run_id = f"fanpod_{uuid.uuid4().hex[:10]}"
    pattern = f"^{schema}\\.({'|'.join(table_name(n) for n in chosen)})$"
    for step in (["steps.dump_schema", f"--schemas={schema}", f"--tables={pattern}"], ["steps.rewrite_ddl"],
                 ["steps.validate_restore"], ["steps.load_schema", "--section", "pre-data"]):
        run_step([step[0], "--run-id", run_id, *step[1:]], environ)
    store, layout = _store(env, run_id)
    store.write_json(layout.batch("bench-batch"),
                     Batch(run_id, "bench-batch", tuple(f"{schema}.{table_name(n)}" for n in batch)).to_json())
    transfer = ["steps.table_transfer", "--run-id", run_id, "--cleanup", "s3,gcs"]
    single_walls, single_cpus, single_overheads = [], [], []
    for number in singles:
        wall, cpu, log = _process([*transfer, "--table", f"{schema}.{table_name(number)}"], environ)
        (cost,) = _costs(store, layout, log)
        single_walls.append(wall)
        single_cpus.append(cpu)
        single_overheads.append(wall - cost["work_s"])
    wall, cpu, log = _process([*transfer, "--batch", "bench-batch"], environ)
    costs = _costs(store, layout, log)
    if len(costs) != len(batch):
        raise RuntimeError(f"the batch process reported {len(costs)} tables, not {len(batch)}")
    return {"single_wall_s": statistics.median(single_walls), "single_cpu_s": statistics.median(single_cpus),
            "single_overhead_s": statistics.median(single_overheads),
            "batch_table_wall_s": statistics.median(c["wall_s"] for c in costs),
            "batch_overhead_s": statistics.median(c["wall_s"] - c["work_s"] for c in costs),
            "batch_table_cpu_s": statistics.median(c["cpu_s"] for c in costs),
            "batch_process_cpu_s": cpu, "batch_tables": len(costs)}


def _process(args: list[str], environ: dict[str, str]) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds, JSON log) of one step process."""
    before = _children_cpu()
    wall, _, _, log = run_step(args, environ)
    return wall, _children_cpu() - before, log


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _events(log: str, name: str) -> list[dict]:
    found = []
    for line in log.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("event") == name:
            found.append(entry)
    return found


def _costs(store, layout, log: str) -> list[dict]:
    """Per table of a step's log: wall and CPU (`table.cost`) and the seconds of UNLOAD plus COPY (`work_s`)."""
    from shared.identifiers import parse_table_ref

    busy = {e.get("table"): e["copy_busy_s"] for e in _events(log, "phase.finished") if e.get("phase") == "load"}
    costs = []
    for entry in _events(log, "table.cost"):
        result = store.read_json(layout.result(parse_table_ref(entry["table"])))
        if result["status"] != "succeeded":
            raise RuntimeError(f"{entry['table']}: {result['status']}: {(result.get('error') or {}).get('message')}")
        unload = sum(p["duration_s"] or 0 for p in result["phases"] if p["name"] == "unload")
        costs.append({**entry, "work_s": unload + busy.get(entry["table"], 0.0)})
    return costs


def _startup_cpu() -> float:
    """CPU of a process that starts Python and imports the table_transfer step, then ends (best of three)."""
    timings = []
    for _ in range(3):
        before = _children_cpu()
        subprocess.run([sys.executable, "-c", "import steps.table_transfer.__main__"], check=True)
        timings.append(_children_cpu() - before)
    return min(timings)


def _store(env: dict, run_id: str):
    from shared.config import load_settings
    from shared.objectstore import ObjectStore, RunLayout

    settings = load_settings(envfile.product_environ(env))
    return ObjectStore(settings.s3, settings.gcs), RunLayout.from_settings(run_id, settings.gcs, settings.s3)


# ------------------------------------------------------------------------------------------- run-local

def _through_run_local(env: dict, schema: str, rows: list[int], database: str, work: Path) -> dict:
    parameters, local = devstack_environment(env)
    run_id = f"fan_{uuid.uuid4().hex[:10]}"
    parameters.update({"run-id": run_id, "schemas": schema, "alloydb-database": database})
    marks: list[tuple[float, str]] = []
    before_services, before_children = cpu_seconds(env), _children_cpu()
    result = run_workflow(RENDERED / "workflow-local.yaml", parameters, local, work / "run-local",
                          progress=lambda message: marks.append((time.monotonic(), message)))
    if result.phase != "Succeeded":
        failed = ", ".join(f"{n.name} (log {n.log})" for n in result.failed_nodes[:3])
        raise RuntimeError(f"run-local ended {result.phase}: {failed}")
    transfer = [(at, m.group("mark")) for at, message in marks if (m := TRANSFER_NODE.match(message))]
    if not any(mark == ">" for _, mark in transfer) or all(mark == ">" for _, mark in transfer):
        raise RuntimeError("run-local told no start and end of table-transfer nodes (its progress lines changed?)")
    fanout_s = max(at for at, mark in transfer if mark != ">") - min(at for at, mark in transfer if mark == ">")
    services = {group: used - before_services[group] for group, used in cpu_seconds(env).items()}
    services.pop("the step process (r2a)")
    store, layout = _store(env, run_id)
    nodes = [n for n in result.nodes if n.task == "table-transfer" and "(" in n.name]
    pods = {"single": [], "batch": []}  # per pod: (node wall, process CPU, tables)
    for node in nodes:
        log = node.log.read_text(errors="replace") if node.log else ""
        finished = _events(log, "step.finished")
        tables = len(_events(log, "table.cost"))
        if not finished or not tables:
            raise RuntimeError(f"{node.name}: no step.finished or table.cost in {node.log}")
        pods["batch" if ":batch-" in node.name else "single"].append(
            (node.seconds, finished[-1]["cpu_s"], tables))
    verified = _verified(store, layout, schema, rows)
    return {"run_id": run_id, "dag_s": result.seconds, "fanout_s": fanout_s, "bytes_raw": verified["bytes_raw"],
            "verified": verified["tables"], "dag_cpu_s": _children_cpu() - before_children,
            "pods_cpu_s": sum(cpu for kind in pods.values() for _, cpu, _ in kind), "services_cpu": services,
            "single_pods": len(pods["single"]), "batch_pods": len(pods["batch"]),
            **{f"{kind}_node_table_s": _median([wall / tables for wall, _, tables in found])
               for kind, found in pods.items()},
            **{f"{kind}_pod_table_cpu_s": _median([cpu / tables for _, cpu, tables in found])
               for kind, found in pods.items()}}


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def _verified(store, layout, schema: str, rows: list[int]) -> dict:
    """Every table's result: succeeded, with exactly the rows it was made with (the step has compared them with
    the source and the manifest before committing)."""
    bytes_raw = 0
    for number, expected in enumerate(rows):
        result = store.read_json(layout.result(_ref(schema, number)))
        if result["status"] != "succeeded" or result["rows_loaded"] != expected:
            raise RuntimeError(f"{schema}.{table_name(number)}: {result['status']}, {result['rows_loaded']} rows "
                               f"of {expected}")
        bytes_raw += result["bytes_raw"]
    return {"tables": len(rows), "bytes_raw": bytes_raw}


def _ref(schema: str, number: int):
    from shared.identifiers import TableRef

    return TableRef(schema, table_name(number))


def _run_local_per_node(env: dict, work: Path, count: int) -> dict:
    """run-local's wall per node outside the step's process: the rendered table-transfer template (its
    parameters, environment, secret volumes and identity) with `python -c pass` as its command, against that
    command run directly."""
    document = yaml.safe_load((RENDERED / "workflow-local.yaml").read_text())
    spec = document["spec"]
    templates = {t["name"]: t for t in spec["templates"]}
    transfer = templates["table-transfer"]
    transfer.pop("synchronization", None)
    transfer["container"] = {**transfer["container"], "command": ["python", "-c", "pass"], "args": []}
    items = json.dumps([f"stub-{n}" for n in range(count)])
    stub = {**document, "spec": {**spec, "entrypoint": "main", "templates": [
        {"name": "main", "parallelism": 1, "dag": {"tasks": [
            {"name": "table-transfer", "template": "table-transfer", "withParam": items,
             "arguments": {"parameters": [{"name": "item", "value": "{{item}}"}]}}]}}, transfer]}}
    path = work / "stub.yaml"
    path.write_text(yaml.safe_dump(stub))
    parameters, local = devstack_environment(env)
    result = run_workflow(path, {**parameters, "run-id": "stub_20260101_000000"}, local, work / "stub",
                          progress=lambda message: None)
    if result.phase != "Succeeded":
        raise RuntimeError(f"the stub workflow ended {result.phase}")
    node = statistics.median(n.seconds for n in result.nodes if "(" in n.name)
    direct = []
    for _ in range(count):
        started = time.monotonic()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        direct.append(time.monotonic() - started)
    return {"per_node_s": node - statistics.median(direct)}


# ------------------------------------------------------------------------------------------- the old way

def _old_way(env: dict, schema: str, rows: list[int], database: str, run_id: str, work: Path, jobs: int) -> dict:
    """The old system's way for every table (transfer_bench.old_way_table), `jobs` tables at a time, into a schema
    of its own; every table must hold its rows afterwards."""
    from shared.config import load_settings
    from shared.identifiers import TableRef
    from steps.table_transfer.plan import select_tables

    settings = load_settings(step_environ(env, database))
    store, layout = _store(env, run_id)
    store.write_json(layout.batch("bench-old-way"), Batch(run_id, "bench-old-way", tuple(
        f"{schema}.{table_name(n)}" for n in range(len(rows)))).to_json())
    specs = select_tables(store, layout, table=None, batch="bench-old-way", plan_url=None).tables
    dsn = envfile.postgres_dsn(env, database)
    with psycopg2.connect(dsn) as conn, conn.cursor() as cursor:
        cursor.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(OLD_SCHEMA)))
    stages: dict[str, float] = {}

    def one_table(spec) -> dict[str, float]:
        folder = work / f"old-way-{spec.source.table}"  # each table's own: OLD_WAY_TEXT is one name per folder
        folder.mkdir()
        try:
            return old_way_table(env, settings, store, layout, spec, database,
                                 TableRef(OLD_SCHEMA, spec.source.table), folder)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    before_services, before_self = cpu_seconds(env), _self_and_children_cpu()
    started = time.monotonic()
    with ThreadPoolExecutor(jobs) as pool:
        for timings in pool.map(one_table, specs):
            for stage, seconds in timings.items():
                stages[stage] = stages.get(stage, 0.0) + seconds
    seconds = time.monotonic() - started
    services = {group: used - before_services[group] for group, used in cpu_seconds(env).items()}
    services.pop("the step process (r2a)")
    own_cpu = _self_and_children_cpu() - before_self
    with psycopg2.connect(dsn) as conn, conn.cursor() as cursor:
        for number, expected in enumerate(rows):
            cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(
                sql.Identifier(OLD_SCHEMA, table_name(number))))
            if cursor.fetchone()[0] != expected:
                raise RuntimeError(f"the old way loaded a wrong row count into {table_name(number)}")
    return {"seconds": seconds, "stages": stages, "own_cpu_s": own_cpu, "services_cpu": services}


def _self_and_children_cpu() -> float:
    """CPU of this process (every thread) and its finished children (psql)."""
    return sum(u.ru_utime + u.ru_stime for u in (resource.getrusage(resource.RUSAGE_SELF),
                                                  resource.getrusage(resource.RUSAGE_CHILDREN)))
