"""`make demo`: the whole migration of the sample Redshift database on devstack, through the rendered DAG.

    python -m workflows.demo [--scale N] [--seed S] [--devstack DIR] [--output DIR]

Starts devstack (idempotent), loads the sample database into the Redshift emulator, recreates devstack's empty
AlloyDB stand-in database (so the demo can run again), runs the rendered Workflow with run-local, copies the run's
report files to ./demo-output/<run_id>/ and prints what happened.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import psycopg2
from psycopg2 import sql

from devstack import env as devstack_env
from devstack import stack
from devstack.processes import StartError
from devstack.sample import load as load_sample
from shared.config import load_settings
from shared.documents.summary import Summary
from shared.layout import REPORT_HTML, SCHEMA_ALLOYDB_SQL, SCHEMA_REDSHIFT_SQL, SUMMARY_JSON
from shared.objectstore import ObjectStore, RunLayout, new_run_id
from workflows.local_env import devstack_environment
from workflows.run_local import RENDERED, RunLocalError, RunLocalResult, print_nodes, run_workflow

REPORT_FILES = ("{run_id}.log", "{run_id}.tables", SUMMARY_JSON, REPORT_HTML, SCHEMA_REDSHIFT_SQL, SCHEMA_ALLOYDB_SQL)


def _say(message: str) -> None:
    print(message, flush=True)  # run-local tells progress one message at a time, even from concurrent tasks


def copy_report(env: dict, run_id: str, output: Path) -> list[Path]:
    """The run's report files from the GCS emulator to output/<run_id>/."""
    settings = load_settings(devstack_env.product_environ(env))
    store = ObjectStore(settings.s3, settings.gcs)
    layout = RunLayout.from_settings(run_id, settings.gcs, settings.s3)
    folder = output / run_id
    folder.mkdir(parents=True, exist_ok=True)
    copied = []
    for pattern in REPORT_FILES:
        name = pattern.format(run_id=run_id)
        url = layout.report(name)
        if store.exists(url):
            (folder / name).write_bytes(store.read_bytes(url))
            copied.append(folder / name)
    return copied


def reset_target(env: dict) -> None:
    """Drop and recreate devstack's AlloyDB stand-in so every demo run starts from an empty target."""
    database = env["postgres"]["databases"]["alloydb"]
    conn = psycopg2.connect(devstack_env.postgres_dsn(env, "postgres"))
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    finally:
        conn.close()


def summary_lines(summary: Summary | None, result: RunLocalResult, seconds: float) -> list[str]:
    """The run in a few lines, from its report's summary.json (None: the report did not write one)."""
    lines = ["", f"run {result.run_id}: workflow {result.phase} in {seconds:.0f} s"]
    if summary is None:
        return [*lines, "  tables   no summary.json: the report did not run"]
    counts, totals = summary.counts, summary.totals
    lines += [f"  tables   succeeded {counts['succeeded']}, failed {counts['failed']}, skipped {counts['skipped']}, "
              f"not run {counts['not_run']}",
              f"  rows     {totals.rows_loaded:,} loaded of {totals.rows_source:,} in the source; "
              f"{totals.bytes_raw / 1e6:.1f} MB moved as {totals.bytes_compressed / 1e6:.1f} MB compressed"]
    not_migrated = summary.objects_not_migrated
    if not_migrated.total:
        by_kind = ", ".join(f"{kind} {count}" for kind, count in sorted(not_migrated.by_kind.items()))
        lines.append(f"  objects  not migrated, each with its reason in the report: {by_kind}")
    for failed in summary.failed_tables:
        lines.append(f"  FAILED   {failed.get('table')}: {failed.get('error')}")
    return lines


def _bad_argument(args: argparse.Namespace) -> str | None:
    if args.scale < 1:
        return f"--scale must be at least 1, not {args.scale}"
    directory = devstack_env.state_dir(args.devstack)
    if directory.exists() and not directory.is_dir():
        return f"--devstack {directory} is not a folder"
    output = Path(args.output)
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"--output {output} cannot be created: {exc.strerror}"
    if not os.access(output, os.W_OK):
        return f"--output {output} is not writable"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, default=1, help="sample database scale [default: 1]")
    parser.add_argument("--seed", type=int, default=42, help="sample data seed [default: 42]")
    parser.add_argument("--devstack", help="devstack state folder [default: $R2A_DEVSTACK_DIR or ./.devstack]")
    parser.add_argument("--output", default="demo-output", help="where report copies go [default: demo-output]")
    args = parser.parse_args(argv)
    problem = _bad_argument(args)  # refused before devstack starts: a bad flag should cost nothing
    if problem:
        print(f"make demo: error: {problem}", file=sys.stderr)
        return 2
    started = time.monotonic()
    directory = devstack_env.state_dir(args.devstack)
    _say(f"[1/4] devstack: starting the local stand-ins in {directory}")
    try:
        env = stack.up(directory, with_redshift=True)
    except StartError as exc:
        print(f"make demo: error: devstack did not start: {exc}", file=sys.stderr)
        return 2
    _say(f"[2/4] sample: loading TICKIT + edge schema (scale {args.scale}) into the Redshift emulator")
    sample = load_sample(env, scale=args.scale, seed=args.seed)
    _say(f"      {len(sample.rows)} tables, {sample.total_rows:,} rows, {len(sample.views)} views "
         f"in {sample.seconds:.1f} s")
    _say("      the AlloyDB stand-in database starts empty (devstack's, recreated)")
    reset_target(env)
    parameters, local = devstack_environment(env)
    parameters["run-id"] = new_run_id(parameters["database"])
    workdir = Path(args.output).resolve() / parameters["run-id"] / "run-local"
    _say(f"[3/4] run-local: {RENDERED / 'workflow-local.yaml'} as run {parameters['run-id']}")
    try:
        result = run_workflow(RENDERED / "workflow-local.yaml", parameters, local, workdir, progress=_say)
    except RunLocalError as exc:
        print(f"make demo: error: {exc}", file=sys.stderr)
        return 2
    print_nodes(result, _say)
    _say(f"[4/4] report: copying the run's files to {Path(args.output) / result.run_id}")
    copied = copy_report(env, result.run_id, Path(args.output))
    summary_path = next((p for p in copied if p.name == SUMMARY_JSON), None)
    summary = Summary.from_json(json.loads(summary_path.read_text()), str(summary_path)) if summary_path else None
    for line in summary_lines(summary, result, time.monotonic() - started):
        _say(line)
    _say("  files    " + "\n           ".join(str(p) for p in copied))
    _say(f"devstack is still running (stop it with `make devstack-down`); task logs: {workdir / 'logs'}")
    return 0 if result.phase == "Succeeded" else 1


if __name__ == "__main__":
    sys.exit(main())
