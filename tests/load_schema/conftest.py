"""AlloyDB stand-in = a fresh devstack database per test; the run folder in the GCS emulator."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2
import psycopg2.extensions
import pytest

from shared.config import load_settings
from shared.identifiers import parse_table_ref
from shared.objectstore import ObjectStore, RunLayout
from shared.results import TableResult, to_dict, utc_now
from tests.support.db import query  # noqa: F401  (imported from here by the tests)
from tests.support.runfolder import RunFolder


@pytest.fixture
def alloydb(fresh_db, devstack_environ) -> tuple[str, dict[str, str]]:
    """(DSN, product environ) with PGDATABASE pointing at a fresh empty database."""
    dbname = psycopg2.extensions.parse_dsn(fresh_db)["dbname"]
    return fresh_db, dict(devstack_environ, PGDATABASE=dbname)


@pytest.fixture
def folder(alloydb) -> RunFolder:
    _, environ = alloydb
    run_id = f"load_{uuid.uuid4().hex[:12]}"
    settings = load_settings(environ)
    return RunFolder(run_id, ObjectStore(settings.s3, settings.gcs), RunLayout.from_settings(run_id, settings.gcs),
                     environ)


def fanout_tables(folder: RunFolder, items: list[str]) -> list[str]:
    """The tables of pre-data's fan-out list in its order, each batch's tables (batches/<id>.json) in place of its
    id (steps/load_schema/fanout.py: tables below own-pod-min-mb share batches)."""
    return [table for item in items for table in
            (folder.json(folder.layout.batch(item))["tables"] if item.startswith("batch-") else [item])]


@pytest.fixture
def loaded(folder, alloydb) -> tuple[RunFolder, str]:
    """pre-data applied by the step, then the rows the transfers would have copied; post-data ready to run."""
    from tests.load_schema import sample
    from tests.support.steps import run_step

    dsn, _ = alloydb
    sample.put_pre_data(folder)
    done = run_step("steps.load_schema", ["--run-id", folder.run_id, "--section", "pre-data"], folder.environ)
    assert done.returncode == 0, done.stderr
    query(dsn, sample.DATA)
    transfers_succeeded(folder)
    folder.put(folder.layout.validated_sql("post-data"), sample.POST_DATA)
    return folder, dsn


def transfers_succeeded(folder: RunFolder) -> None:
    """The result file each planned table's transfer writes once its rows are in (post-data defers the keys and
    indexes of a table without one)."""
    for entry in folder.store.read_json(folder.layout.tables_json)["tables"]:
        now = utc_now()
        folder.store.write_json(folder.layout.result(parse_table_ref(entry["table"])), to_dict(
            TableResult(folder.run_id, entry["table"], entry["target"], "succeeded", now, now, 0.0)))


@contextmanager
def module_target(devstack, devstack_environ, run_prefix: str) -> Iterator[tuple[RunFolder, str]]:
    """For module-scoped migrations: a run folder whose settings point AlloyDB at a new empty database (dropped
    afterwards); yields (folder, DSN of that database)."""
    from devstack import env as envfile
    from tests.conftest import admin_connection

    database = f"t_{uuid.uuid4().hex[:12]}"
    admin = admin_connection(devstack)
    try:
        with admin.cursor() as cur:
            cur.execute(f'create database "{database}"')
        environ = dict(devstack_environ, PGDATABASE=database)
        settings = load_settings(environ)
        run_id = f"{run_prefix}_{uuid.uuid4().hex[:8]}"
        yield (RunFolder(run_id, ObjectStore(settings.s3, settings.gcs), RunLayout.from_settings(run_id, settings.gcs),
                         environ), envfile.postgres_dsn(devstack, database))
    finally:
        with admin.cursor() as cur:
            cur.execute(f'drop database if exists "{database}" with (force)')
        admin.close()


def run_steps(folder: RunFolder, steps: list[tuple[str, list[str]]]) -> None:
    """Run steps one after the other on the folder's run, as processes; each must succeed. Before post-data,
    every planned table is recorded as transferred (the rows are whatever the test put there)."""
    from tests.support.steps import run_step

    for module, extra in steps:
        if module == "steps.load_schema" and "post-data" in extra:
            transfers_succeeded(folder)
        done = run_step(module, ["--run-id", folder.run_id, *extra], folder.environ, timeout=300)
        assert done.returncode == 0, f"{module} {' '.join(extra)}: {done.stderr}"
