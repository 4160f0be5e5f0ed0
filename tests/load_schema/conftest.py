"""AlloyDB stand-in = a fresh devstack database per test; the run folder in the GCS emulator."""

from __future__ import annotations

import uuid

import psycopg2
import psycopg2.extensions
import pytest

from shared.config import load_settings
from shared.objectstore import ObjectStore, RunLayout
from tests.validate_restore.conftest import RunFolder


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


def query(dsn: str, statement: str, params=None) -> list[tuple]:
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(statement, params)
            rows = cur.fetchall() if cur.description else []
        conn.commit()
        return rows
    finally:
        conn.close()


@pytest.fixture
def loaded(folder, alloydb) -> tuple[RunFolder, str]:
    """pre-data applied by the step, then the rows the transfers would have copied; post-data ready to run."""
    from tests.load_schema import sample
    from tests.validate_restore.conftest import run_step

    dsn, _ = alloydb
    sample.put_pre_data(folder)
    done = run_step("steps.load_schema", ["--run-id", folder.run_id, "--section", "pre-data"], folder.environ)
    assert done.returncode == 0, done.stderr
    query(dsn, sample.DATA)
    folder.put("validated_post_data.sql", sample.POST_DATA)
    return folder, dsn


def one_error_line(done) -> str:
    """The one error line a failed step prints (and no traceback)."""
    errors = [line for line in done.stderr.splitlines() if line.startswith("r2a load_schema: error: ")]
    assert len(errors) == 1 and "Traceback" not in done.stderr, done.stderr
    return errors[0]
