"""Bad input to the steps, each run as Argo runs them (a process with env settings): one clear line on stderr,
no traceback, a non-zero exit code of shared/errors.py, and nothing written to AlloyDB."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import psycopg2
import pytest
from typer.testing import CliRunner

from devstack import env as devstack_env
from workflows.cli import app
from workflows.local_env import process_environ


def _environ(devstack, database: str, **changes) -> dict[str, str]:
    environ = {**process_environ(), **devstack_env.product_environ(devstack), "PGDATABASE": database, "R2A_LOG_FORMAT": "json"}
    for name, value in changes.items():
        if value is None:
            environ.pop(name, None)
        else:
            environ[name] = value
    return environ


def _step(step: str, run_id: str, args: list[str], environ: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", f"steps.{step}", "--run-id", run_id, *args], env=environ,
                          capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def planned_run(devstack, sample_redshift):
    """A run planned up to load_schema pre-data for schema tickit, into its own AlloyDB database."""
    database, run_id = f"bad_{uuid.uuid4().hex[:8]}", f"bad_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(devstack_env.postgres_dsn(devstack, "postgres"))
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{database}"')
    environ = _environ(devstack, database)
    for step, args in (("dump_schema", ["--schemas=tickit"]), ("rewrite_ddl", []), ("validate_restore", []),
                       ("load_schema", ["--section", "pre-data"])):
        done = _step(step, run_id, args, environ)
        assert done.returncode == 0, done.stderr[-800:]
    yield run_id, database
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    admin.close()


def _rows_in_alloydb(devstack, database: str) -> int:
    with psycopg2.connect(devstack_env.postgres_dsn(devstack, database)) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT coalesce(sum(n_live_tup), 0) FROM pg_stat_user_tables WHERE schemaname = 'tickit'")
        live = int(cursor.fetchone()[0])
        cursor.execute("SELECT count(*) FROM tickit.venue")
        return live + cursor.fetchone()[0]


def _another_key(tmp_path: Path) -> str:
    import asyncssh

    path = tmp_path / "other_ed25519"
    path.write_bytes(asyncssh.generate_private_key("ssh-ed25519").export_private_key())
    path.chmod(0o600)
    return str(path)


CASES = [
    # (name, step, args, env changes, expected exit code, text the one line must contain)
    ("wrong Redshift password", "dump_schema", [], {"REDSHIFT_PASSWORD": "not-the-password"}, 2, "password"),
    ("wrong AlloyDB password", "load_schema", ["--section", "pre-data"], {"PGPASSWORD": "not-the-password"}, 2,
     "password"),
    ("wrong S3 secret key", "table_transfer", ["--table", "tickit.venue"],
     {"AWS_SECRET_ACCESS_KEY": "not-the-secret"}, 2, "SignatureDoesNotMatch"),
    ("expired/unknown AWS session token", "table_transfer", ["--table", "tickit.venue"],
     {"AWS_SESSION_TOKEN": "expired-session-token"}, 2, "InvalidToken"),
    ("unknown Redshift host", "dump_schema", [], {"REDSHIFT_HOST": "no-such-host.invalid", "SSH_BASTION_HOST": None},
     2, "cannot be resolved"),
    ("closed AlloyDB port", "load_schema", ["--section", "pre-data"], {"PGPORT": "1"}, 1, "cannot connect"),
    ("missing GCS bucket", "dump_schema", [], {"R2A_GCS_BUCKET": "no-such-bucket-r2a"}, 2, "does not exist"),
    ("missing S3 bucket", "table_transfer", ["--table", "tickit.venue"], {"R2A_S3_BUCKET": "no-such-bucket-r2a"},
     2, "does not exist"),
    ("missing secret file (SSH key)", "dump_schema", [], {"SSH_BASTION_KEY_FILE": "/nonexistent/id_ed25519"}, 2,
     "not a readable file"),
    ("table name with quotes, semicolon, unicode", "table_transfer",
     ["--table", 'tickit.venue"; DROP TABLE tickit.sales; --ñ'], {}, 3, "is not of the form schema.table"),
    ("quoted unicode table name not in the plan", "table_transfer", ["--table", 'tickit."sales; --ñ"'], {}, 3,
     "is not in the plan"),
    ("malformed tables.json", "table_transfer", ["--table", "tickit.venue", "--plan", "CATALOG"], {}, 3,
     "tables[0]"),
]


@pytest.mark.parametrize(("name", "step", "args", "changes", "code", "text"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_clear_line(planned_run, devstack, matrix, name, step, args, changes, code, text):
    run_id, database = planned_run
    outcome = matrix.bad_input(name, step, f"exit {code}, one line: …{text}…")
    args = [a.replace("CATALOG", f"gs://{devstack['gcs']['bucket']}/r2a/{run_id}/catalog.json") for a in args]
    before = _rows_in_alloydb(devstack, database)
    done = _step(step, run_id, args, _environ(devstack, database, **changes))
    human = [line for line in done.stderr.strip().splitlines() if not line.startswith("{")]
    outcome.observed = f"exit {done.returncode}: {human[-1][:150] if human else '(nothing on stderr)'}"
    assert "Traceback" not in done.stderr
    assert len(human) == 1 and human[0].startswith(f"r2a {step}: error: ")
    assert done.returncode == code and text in human[0]
    assert _rows_in_alloydb(devstack, database) == before  # nothing written to AlloyDB


def test_wrong_ssh_key_is_refused_in_one_line(planned_run, devstack, matrix, tmp_path):
    run_id, database = planned_run
    outcome = matrix.bad_input("SSH key the bastion does not accept", "dump_schema", "exit 2, one line")
    done = _step("dump_schema", run_id, [], _environ(devstack, database,
                                                     SSH_BASTION_KEY_FILE=_another_key(tmp_path)))
    human = [line for line in done.stderr.strip().splitlines() if not line.startswith("{")]
    outcome.observed = f"exit {done.returncode}: {human[-1][:150] if human else ''}"
    assert done.returncode == 2 and len(human) == 1 and "bastion" in human[0].lower()


def test_malformed_catalog_and_unknown_override_keys(planned_run, devstack, matrix, tmp_path):
    run_id, database = planned_run
    overrides = tmp_path / "overrides.yaml"
    overrides.write_text("tables:\n  tickit.venue:\n    rename_to: venues\nnot_a_section: {}\n")
    outcome = matrix.bad_input("overrides file with unknown keys", "rewrite_ddl", "exit 3, names the key")
    done = _step("rewrite_ddl", run_id, ["--overrides", str(overrides)], _environ(devstack, database))
    human = [line for line in done.stderr.strip().splitlines() if not line.startswith("{")]
    outcome.observed = f"exit {done.returncode}: {human[-1][:150] if human else ''}"
    assert done.returncode == 3 and len(human) == 1 and "not_a_section" in human[0]


def test_status_and_retry_of_a_run_that_does_not_exist(devstack, matrix):
    outcome = matrix.bad_input("run_id that does not exist", "r2a status / retry-failed", "exit 3, one line")
    done = CliRunner().invoke(app, ["status", "--run-id", "no_such_run_20200101_000000"],
                              env=devstack_env.product_environ(devstack))
    outcome.observed = f"exit {done.exit_code}: {done.output.strip()[:150]}"
    assert done.exit_code == 3 and done.output.strip().count("\n") == 0 and "not found" in done.output


def test_concurrent_runs_with_the_same_run_id_refuse(planned_run, devstack, matrix):
    from shared.runlock import hold_exclusive

    run_id, database = planned_run
    outcome = matrix.bad_input("concurrent run with the same run_id", "load_schema / table_transfer",
                               "exit 6, one line, nothing interleaved")
    holder = psycopg2.connect(devstack_env.postgres_dsn(devstack, database))
    holder.autocommit = True
    hold_exclusive(holder, run_id, "load_schema --section pre-data")
    hold_exclusive(holder, run_id, "table_transfer of tickit.venue")
    try:
        before = _rows_in_alloydb(devstack, database)
        schema_step = _step("load_schema", run_id, ["--section", "pre-data"], _environ(devstack, database))
        transfer = _step("table_transfer", run_id, ["--table", "tickit.venue"], _environ(devstack, database))
        lines = [[line for line in done.stderr.strip().splitlines() if not line.startswith("{")]
                 for done in (schema_step, transfer)]
        outcome.observed = f"exit {schema_step.returncode}/{transfer.returncode}: {lines[1][-1][:120]}"
        assert (schema_step.returncode, transfer.returncode) == (6, 6)
        assert all(len(h) == 1 and "already running in another process" in h[0] for h in lines)
        assert _rows_in_alloydb(devstack, database) == before
    finally:
        holder.close()
